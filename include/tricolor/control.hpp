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

// One cycle's numbers: everything its GODEBUG=gctrace=1 line prints.
struct cycle_stats {
  std::uint64_t number = 0;             // "gc N"
  std::int64_t since_start_ns = 0;      // "@T s": when it began, since the library started
  double gc_cpu_percent = 0;            // "P%": the collector's CPU share since the start
  std::int64_t mark_start_ns = 0;       // clock: the stop at mark start
  std::int64_t concurrent_mark_ns = 0;  // clock: the concurrent mark
  std::int64_t termination_ns = 0;      // clock: the stop at mark termination (the last attempt)
  std::int64_t mark_start_cpu_ns = 0;   // cpu: the stop at mark start, times every core
  std::int64_t assist_cpu_ns = 0;       // cpu: mark assists (their monotonic-clock time, as Go)
  std::int64_t background_cpu_ns = 0;   // cpu: the background mark workers
  std::int64_t idle_cpu_ns = 0;         // cpu: marking by a thread waiting in collect() (monotonic
                                        // clock, as assists), by the idle workers it woke, and by
                                        // the spare-CPU workers on CPUs the program left idle
  std::int64_t termination_cpu_ns = 0;  // cpu: every termination attempt, times every core
  std::int64_t heap_start = 0;          // "A->": heap at mark start
  std::int64_t heap_end = 0;            // "->B->": heap at mark termination
  std::int64_t heap_marked = 0;         // "->C MB": marked live
  std::int64_t goal = 0;                // "D MB goal"
  std::int64_t stack_bytes = 0;         // "MB stacks": stack bytes scanned
  std::uint64_t roots = 0;              // root slots scanned ("MB globals" is 8 bytes each)
  std::uint32_t threads = 0;            // "N threads"
  bool forced = false;                  // "(forced)"
  // Threads that marked in drains of their own: the mark controller and workers, the idle and
  // spare-CPU workers, and the threads that waited for the mark (a blocking collect()). Not in
  // gctrace.
  std::uint32_t marking_threads = 0;
};

// The objects of one size class now allocated (live, or dead and not yet swept).
struct size_class_stats {
  std::uint32_t size = 0;  // the class's object size; 0 for the entry of large objects
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

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

  // After Go's runtime/metrics.
  std::uint64_t heap_live = 0;  // bytes the last mark found live (/gc/heap/live)
  // Collector CPU time since the start, in ns (/cpu/classes/gc/...): stops of the world times
  // every core, assists, background workers, idle marking (a waiting collect()), and their sum.
  std::uint64_t gc_pause_cpu_ns = 0;
  std::uint64_t gc_assist_cpu_ns = 0;
  std::uint64_t gc_background_cpu_ns = 0;
  std::uint64_t gc_idle_cpu_ns = 0;
  std::uint64_t gc_total_cpu_ns = 0;
  // Every stop of the world since the start (/gc/pauses): entry i counts the stops that lasted
  // [2^i, 2^(i+1)) ns; the last entry also counts longer ones.
  std::array<std::uint64_t, 32> pause_histogram{};
  std::uint64_t heap_scavenged_total = 0;  // bytes ever returned to the OS (/gc/scavenge)
  // The allocated heap by size class: entry 0 is the large objects, entry c size class c.
  std::array<size_class_stats, 68> by_size{};
  cycle_stats last_cycle;  // the last completed cycle (all zero before the first)
};

// A consistent snapshot (runtime.ReadMemStats).
stats read_stats();

// Where the calling thread's time went inside the collector since the thread started, in wall-clock
// nanoseconds: what the collector added to this thread's own work. Read it before and after a
// request to see what that request paid. Each nanosecond is counted once, under the innermost of
// these (a lock wait while sweeping is a lock wait); the allocation and barrier fast paths are not
// counted, only the slow paths that hold a thread up. A fiber's time goes to the thread it ran on.
struct thread_gc_time {
  std::int64_t assist_ns = 0;       // marking to pay for its allocation during a mark (assists)
  std::int64_t assist_wait_ns = 0;  // an assist waiting, past the heap goal, for the mark workers
  std::int64_t sweep_ns = 0;        // sweeping spans: to find room, or to finish before a cycle
  std::int64_t span_ns = 0;         // taking a span from the central lists or the page heap
  std::int64_t cycle_start_ns = 0;  // starting a cycle its allocation triggered (the stop included)
  std::int64_t stopped_ns = 0;      // stopped by another thread's stop of the world
  std::int64_t stack_scan_ns = 0;   // scanning its own stack, when a mark asked it to
  std::int64_t barrier_ns = 0;      // shading the write barrier's buffer when it filled
  std::int64_t lock_wait_ns = 0;    // waiting for a collector lock another thread held
  std::int64_t collect_ns = 0;      // in gc::collect() and gc::free_os_memory()
  // Every field above, once, in the order the library keeps them: the loops below, and the copy
  // from the library's account, go through this list, so a new kind is one line here.
  static constexpr std::int64_t thread_gc_time::*kFields[] = {
      &thread_gc_time::assist_ns,      &thread_gc_time::assist_wait_ns,
      &thread_gc_time::sweep_ns,       &thread_gc_time::span_ns,
      &thread_gc_time::cycle_start_ns, &thread_gc_time::stopped_ns,
      &thread_gc_time::stack_scan_ns,  &thread_gc_time::barrier_ns,
      &thread_gc_time::lock_wait_ns,   &thread_gc_time::collect_ns};
  std::int64_t total_ns() const {
    std::int64_t sum = 0;
    for (auto field : kFields) sum += this->*field;
    return sum;
  }
  // Field by field, so that `after - before` is what the work in between paid, and `+=` sums it.
  thread_gc_time& operator+=(const thread_gc_time& o) {
    for (auto field : kFields) this->*field += o.*field;
    return *this;
  }
  friend thread_gc_time operator-(thread_gc_time a, const thread_gc_time& b) {
    for (auto field : kFields) a.*field -= b.*field;
    return a;
  }
};
thread_gc_time this_thread_gc_time();

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
