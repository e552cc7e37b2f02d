// A collection cycle, Go's way: two short stops of the world around a concurrent mark.
//
//   1. Sweep termination (world running): finish the sweep the previous cycle started, so that
//      every span's mark bits are free for this mark.
//   2. Mark start (world stopped): record where each cached span's allocation stands (allocation
//      is black from here on), shade each thread's tiny block, turn the write barrier on, ask every
//      thread to scan its own stack at its next safepoint. Nothing here depends on the heap's size.
//   3. Concurrent mark (world running): the mark controller and workers (mark_workers.hpp), the
//      stack scans (stack_scan.hpp), the barrier buffers (write_barrier.hpp) and mark assists
//      (assist.hpp) blacken everything reachable.
//   4. Mark termination (world stopped): flush every barrier buffer; if that turned up grey work,
//      restart the world and go on marking. Otherwise: with GODEBUG=gccheckmark=1 re-mark from
//      scratch and abort at any reachable object left white; turn the barrier off; advance the
//      sweep generation; let the pacer set the next goal and trigger; restart the world.
//   5. Sweeping (world running): the background sweeper and allocating threads (sweeper.hpp).
//
// Steps 1–2 run on the thread whose allocation reached the pacer's trigger (or that called
// gc::collect), which then goes back to its program; 3–4 on the mark controller. One mutex
// serialises the stops: mark start, mark termination, statistics snapshots and fork.
//
// GODEBUG=gcstoptheworld=1 runs steps 2–4 in one stop of the world, scanning every stack in the
// pause; =2 also sweeps everything on the triggering thread before it goes back to its program,
// instead of in the background.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "base/mutex.hpp"
#include "gc/cycle_stats.hpp"  // CycleReason, CycleTotals
#include "heap/collector.hpp"  // maybe_start_cycle, collect_for_memory

namespace gc::detail {

// A whole cycle: waits for a mark in progress to end, then runs one and waits for it too.
void run_cycle(CycleReason reason);
// Hands the pacer's memory limit to the heap's parts that act on it between cycles (the page heap,
// for the scavenger; the central lists, which keep no empty spans under a limit). Called wherever
// the pacer's limit is set, so that there is one source and no copy lags behind it.
void apply_memory_limit();
// gc::collect(): a cycle, the sweep, and the destructors of everything it found dead.
void collect_and_destroy();

// Mark termination, on the mark controller: stops the world and finishes the cycle if no grey
// work is left, else restarts the world and returns false. `attempt` counts the tries of this
// cycle; after a few, the rest of the mark is done in the pause rather than tried again.
bool terminate_mark(int attempt);

// A snapshot of the cycle counters, taken with the world stopped so that it agrees with the
// heap counters read in the same stop; `fill` receives it and runs before the world restarts.
void snapshot_with_world_stopped(void (*fill)(const CycleTotals&, void*), void* context);

// The lock that serialises the collector's stops of the world. A cycle holds it for each of its two
// pauses, not in between, and gives it back at termination just before the world restarts
// (terminate_mark); fork() holds it across the fork and waits for a mark in progress to end first.
Mutex& cycle_mutex();
// Locks cycle_mutex() with no mark in progress (for fork).
std::unique_lock<Mutex> lock_cycle_between_marks();

}  // namespace gc::detail
