// Controlling the collector and reading its statistics: the calls Go offers in runtime and
// runtime/debug, under the same meanings.
#pragma once

#include <array>
#include <cstdint>

#include "tricolor/detail/mutator.hpp"

namespace gc {

// A full, blocking collection (runtime.GC): when it returns, everything that was unreachable when
// it was called has been reclaimed and its destructor has run (but for the few objects a stale
// stack word may keep).
void collect();

// Heap growth target in percent (debug.SetGCPercent); negative turns the collector off.
// Returns the previous value.
int set_percent(int percent);

// Soft limit on the memory the library holds from the OS, in bytes (debug.SetMemoryLimit): the heap
// and the collector's own bookkeeping, `sys - heap_released` in gc::stats. A negative value only
// reads it. Returns the previous value.
std::int64_t set_memory_limit(std::int64_t bytes);

// Collects, then returns every free page to the OS (debug.FreeOSMemory).
void free_os_memory();

struct stats {
  std::uint64_t heap_alloc = 0;       // bytes of allocated objects (live and not yet swept)
  std::uint64_t heap_inuse = 0;       // bytes in spans that hold objects
  std::uint64_t heap_idle = 0;        // bytes in free spans
  std::uint64_t heap_released = 0;    // bytes of free spans returned to the OS
  std::uint64_t heap_sys = 0;         // bytes of heap memory obtained from the OS
  std::uint64_t metadata_sys = 0;     // bytes the collector's bookkeeping holds from the OS
  std::uint64_t sys = 0;              // heap_sys + metadata_sys (the limit counts sys - released)
  std::uint64_t total_alloc = 0;      // cumulative bytes allocated
  std::uint64_t mallocs = 0;          // cumulative objects allocated
  std::uint64_t frees = 0;            // cumulative objects freed
  std::uint64_t next_gc = 0;          // heap goal of the next cycle
  std::uint64_t num_gc = 0;           // completed cycles
  std::uint64_t num_forced_gc = 0;    // cycles started by collect() or free_os_memory()
  std::uint64_t pause_total_ns = 0;   // cumulative stop-the-world time
  std::uint64_t pause_max_ns = 0;     // longest single stop-the-world pause
  std::uint64_t last_gc_unix_ns = 0;  // when the last cycle finished, ns since the Unix epoch
  std::array<std::uint64_t, 256> pause_ns{};  // ring: latest at (num_gc + 255) % 256
  double gc_cpu_fraction = 0;                 // share of CPU time the collector used since start
};

// A consistent snapshot (runtime.ReadMemStats).
stats read_stats();

// Lets a long loop that neither allocates nor writes pointers cooperate with a stop-the-world.
inline void safepoint() { detail::poll_safepoint(); }

// The thread promises not to touch managed memory until the region ends (like a goroutine entering
// a system call): the collector treats it as stopped and never waits for it. Allocating, making,
// storing into or destroying a gc::ptr off the thread's stack, collect(), free_os_memory(),
// read_stats() or a nested region inside one is misuse: the slow paths stop the program with a
// message naming gc::blocking_region (the fast paths are not checked).
class blocking_region {
 public:
  blocking_region();
  ~blocking_region();
  blocking_region(const blocking_region&) = delete;
  blocking_region& operator=(const blocking_region&) = delete;
};

}  // namespace gc
