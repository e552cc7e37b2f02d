// A collection cycle, from trigger to the restart of the world.
//
//   1. Finish sweeping what the previous cycle left (on the triggering thread, world running).
//   2. Stop the world. Flush the caches of threads stopped at safepoints, so that their spans are
//      swept with everyone else's.
//   3. Mark from the roots: every thread's stack and saved registers (conservatively), the root set
//      of off-heap gc::ptr slots, and the tiny blocks of threads stopped by signal; then drain.
//   4. With GODEBUG=gccheckmark=1, mark again from scratch into the second bitmap and abort at any
//      object the first mark missed.
//   5. Mark termination: advance the sweep generation (every span now needs sweeping), let the
//   pacer
//      set the next goal, record the pause, restart the world, wake the background sweeper.
// Cycles are serialised by one mutex; a heap-triggered cycle that finds the trigger already
// satisfied by someone else's cycle does nothing.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace gc::detail {

enum class CycleReason { kHeap, kForced, kOutOfMemory };

void run_cycle(CycleReason reason);
// Starts a cycle if the heap has reached the pacer's trigger.
void maybe_start_cycle();
// A full cycle and sweep, to find memory when the OS refused some.
void collect_for_memory();
// gc::collect(): a cycle, the sweep, and the destructors of everything it found dead.
void collect_and_destroy();

struct CycleTotals {
  std::uint64_t num_gc = 0;
  std::uint64_t num_forced_gc = 0;
  std::uint64_t pause_total_ns = 0;
  std::uint64_t pause_max_ns = 0;
  std::uint64_t last_gc_unix_ns = 0;
  std::array<std::uint64_t, 256> pause_ns{};
  double gc_cpu_fraction = 0;
};

// A snapshot of the cycle counters, taken with the world stopped so that it agrees with the
// heap counters read in the same stop; `fill` receives it and runs before the world restarts.
void snapshot_with_world_stopped(void (*fill)(const CycleTotals&, void*), void* context);

// The lock that serialises cycles (and anything else that stops the world).
std::mutex& cycle_mutex();

}  // namespace gc::detail
