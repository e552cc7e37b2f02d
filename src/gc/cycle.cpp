#include "gc/cycle.hpp"

#include <cstdio>
#include <mutex>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/futex.hpp"
#include "base/settings.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/assist.hpp"
#include "gc/destructors.hpp"
#include "gc/heap_profile.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_stack.hpp"
#include "gc/mark_state.hpp"
#include "gc/mark_workers.hpp"
#include "gc/marker.hpp"
#include "gc/pacer.hpp"
#include "gc/root_set.hpp"
#include "gc/stack_scan.hpp"
#include "gc/stopped_mark.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"
#include "gc/trace.hpp"
#include "gc/write_barrier.hpp"
#include "heap/central.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_heap.hpp"
#include "heap/scavenger.hpp"
#include "heap/thread_cache.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"
#include "tricolor/detail/barrier.hpp"

namespace gc::detail {

namespace {

thread_local bool t_in_cycle = false;
// Bumped (and woken) at the end of every cycle.
std::atomic<std::uint32_t> g_cycles_done{0};

// Takes the cycle lock. A registered thread waits as a blocked one, so that a stop in progress
// never waits for it; a library thread is never stopped and just waits.
std::unique_lock<Mutex> lock_cycle() {
  std::unique_lock lock(cycle_mutex(), std::defer_lock);
  if (t_mutator.record == nullptr) {
    lock.lock();
    return lock;
  }
  BlockingScope blocked;
  lock.lock();
  return lock;
}

void wait_for_cycles_done_change(std::uint32_t seen) {
  if (g_cycles_done.load(std::memory_order_acquire) != seen) return;
  BlockingScope blocked;
  while (g_cycles_done.load(std::memory_order_acquire) == seen) futex_wait(&g_cycles_done, seen);
}

// Cycles are serialised, so cycle `number` (g_mark.cycle at its mark start) has ended once
// `number` cycles have.
void wait_for_cycle_done(std::uint32_t number) {
  for (;;) {
    const std::uint32_t done = g_cycles_done.load(std::memory_order_acquire);
    if (static_cast<std::int32_t>(done - number) >= 0) return;
    wait_for_cycles_done_change(done);
  }
}

// Bytes that cached spans count as allocated but have not handed out (world stopped).
std::int64_t unused_cached_bytes(const WorldStopped&) {
  std::int64_t bytes = 0;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    for (Span* s : r->mutator->alloc) {
      if (s == &g_empty_span) continue;
      bytes +=
          static_cast<std::int64_t>(s->nelems - s->alloc_count.load(std::memory_order_relaxed)) *
          s->elem_size;
    }
  }
  return bytes;
}

// Mark start, world stopped. Every span outside the thread caches was swept by sweep termination
// and has clear mark bits. A cached span still unswept (its owner was stopped by signal at the last
// termination, or never gave it back) carries the last cycle's marks: they are cleared, with its
// scanned bits (marker.hpp), and the span counts as swept for this cycle; the sweep after this
// mark will sweep it with this mark's bits (what was dead then is dead now, and nothing was freed
// in between).
//
// Each cached span records where its allocation stands: what comes after is allocated black. A
// thread stopped by signal may be inside the allocation fast path, past the bump of `free_index`
// but before the slot's address exists in any register: its latest slot is shaded (grey, not
// black: it may as well be a finished object whose slots hold the only pointers to others).
// Each thread's tiny block is shaded, since later tiny objects go into it without any allocation
// the mark could see.
void prepare_spans_for_mark(const WorldStopped&, Marker& marker) {
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_relaxed);
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    const bool in_flight = !r->cooperative.load(std::memory_order_relaxed);
    for (Span* s : r->mutator->alloc) {
      if (s == &g_empty_span) continue;
      TRICOLOR_DCHECK(s->cached, "span %p in thread %d's cache is not marked cached",
                      reinterpret_cast<void*>(s->base), r->tid);
      TRICOLOR_DCHECK(s->sweepgen.load(std::memory_order_relaxed) != sweepgen - 1,
                      "cached span %p is being swept at mark start",
                      reinterpret_cast<void*>(s->base));
      if (needs_sweep(s, sweepgen)) {
        for (std::uint32_t w = 0; w < s->slot_words(); ++w) {
          s->mark_bits[w].store(0, std::memory_order_relaxed);
          s->scanned_bits[w].store(0, std::memory_order_relaxed);
        }
        s->sweepgen.store(sweepgen, std::memory_order_release);
      }
      const std::uint32_t free_index = s->free_index.load(std::memory_order_relaxed);
      s->mark_free_index.store(free_index, std::memory_order_relaxed);
      if (in_flight && free_index > 0) marker.shade(s->slot_base(free_index - 1));
    }
  }
  // Once every thread's spans are set for this mark: a thread's tiny block may lie in a span
  // another thread caches now, whose mark_free_index must be this mark's before anything in it is
  // taken for allocated black, and whose old marks must be cleared before this mark sets any.
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) marker.shade(r->mutator->tiny);
}

// The heap's retained memory may stay 10% above the heap goal (Go's retainExtraPercent), and
// under a memory limit everything the library holds ready within 95% of the limit (Go's
// reduceExtraPercent); the rest goes back to the OS.
void update_scavenger_goal() {
  const std::int64_t goal = pacer().goal();
  const std::int64_t limit = pacer().memory_limit();
  std::size_t retained_goal = SIZE_MAX;
  std::size_t ready_goal = SIZE_MAX;
  if (goal != INT64_MAX) retained_goal = static_cast<std::size_t>(goal / 10 * 11);
  if (limit != INT64_MAX) ready_goal = static_cast<std::size_t>(limit / 100 * 95);
  set_scavenger_goal(retained_goal, ready_goal);
}

// Gives back to the central lists the caches of the thread running the pause and of threads
// stopped at safepoints, so that their spans are swept after this cycle even if the thread stays
// blocked (a thread stopped by signal may be in the middle of an allocation: its cache stays).
// World stopped; spans that need sweeping stay cached, since nothing is swept in a pause.
void flush_stopped_caches(const WorldStopped&, ThreadRecord* self) {
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (r == self || r->cooperative.load(std::memory_order_relaxed))
      flush_thread_cache(*r->mutator, /*keep_unswept=*/true);
  }
}

// Mark start, with the world stopped.
void begin_mark(const WorldStopped& world, CycleReason reason, std::int64_t start_ns) {
  const StopStats& stop = world.stats();
  TRICOLOR_DCHECK(!marking(), "mark start during a mark");
  TRICOLOR_DCHECK(!g_barrier_enabled.load(std::memory_order_relaxed),
                  "the barrier is on before mark start");
  // Before the barrier is on: the dropped victims are garbage for this mark.
  if (reason != CycleReason::kFollowUp) g_hooks.mark_start.call();
  cycle_stats().begin(reason, start_ns, stop.threads, stop.signalled,
                      g_counters.heap_live.load(std::memory_order_relaxed), pacer().goal());
  g_mark.marked_bytes.store(0, std::memory_order_relaxed);
  g_mark.scan_work.store(0, std::memory_order_relaxed);
  g_mark.stack_bytes.store(0, std::memory_order_relaxed);
  g_mark.assist_work.store(0, std::memory_order_relaxed);
  g_mark.background_credit.store(0, std::memory_order_relaxed);
  g_mark.assist_cpu_ns.store(0, std::memory_order_relaxed);
  g_mark.background_cpu_ns.store(0, std::memory_order_relaxed);
  g_mark.idle_work.store(0, std::memory_order_relaxed);
  g_mark.idle_cpu_ns.store(0, std::memory_order_relaxed);
  g_mark.marking_threads.store(0, std::memory_order_relaxed);
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_relaxed) + 1;
  g_mark.cycle.store(cycle, std::memory_order_release);
  open_mark();  // before anyone sees the phase: a marker of this mark is counted
  g_gc_phase.store(GcPhase::kMark, std::memory_order_release);
  {
    Marker marker(Marker::Mode::kMark);
    prepare_spans_for_mark(world, marker);
  }
  const std::int64_t live_at_start = g_counters.heap_live.load(std::memory_order_relaxed);
  cycle_stats().set_start_heap(live_at_start, unused_cached_bytes(world));
  pacer().begin_mark(live_at_start);
}

// The end of a cycle, world stopped, no grey work left anywhere.
void end_mark(const WorldStopped& world, ThreadRecord* self, std::int64_t pause_start) {
  TRICOLOR_DCHECK(marking(), "mark termination with no mark in progress");
  TRICOLOR_DCHECK(stacks_pending() == 0, "mark termination with %d stacks unscanned",
                  stacks_pending());
  TRICOLOR_DCHECK(mark_closed(), "mark termination with grey work left, or the mark not closed");
  flush_stopped_caches(world, self);
  CycleStats& stats = cycle_stats();
  MarkEnd mark;
  mark.pause_start_ns = pause_start;
  mark.marked = g_mark.marked_bytes.load(std::memory_order_relaxed);
  mark.live_now = g_counters.heap_live.load(std::memory_order_relaxed);
  // Span-granular: what the caches took during the mark, all of it allocated black.
  mark.allocated_black = std::max<std::int64_t>(mark.live_now - stats.live_at_start(), 0);
  mark.scan_work = g_mark.scan_work.load(std::memory_order_relaxed);
  mark.stack_bytes = g_mark.stack_bytes.load(std::memory_order_relaxed);
  mark.roots = root_count();
  mark.assist_cpu_ns = g_mark.assist_cpu_ns.load(std::memory_order_relaxed);
  mark.background_cpu_ns = g_mark.background_cpu_ns.load(std::memory_order_relaxed);
  mark.idle_cpu_ns = g_mark.idle_cpu_ns.load(std::memory_order_relaxed);
  mark.marking_threads = g_mark.marking_threads.load(std::memory_order_relaxed);

  // The mark is over: no barrier, sweeping may begin, and the heap is what the mark found live.
  g_barrier_enabled.store(false, std::memory_order_relaxed);
  g_gc_phase.store(GcPhase::kOff, std::memory_order_release);
  end_stack_scans();
  g_sweepgen.fetch_add(2, std::memory_order_acq_rel);
  reset_sweep_cursor();
  heap_profile_next_cycle();
  g_counters.heap_live.store(mark.marked + stats.unused_at_start() + mark.allocated_black,
                             std::memory_order_relaxed);

  mark.end_ns = now_ns();
  pacer().end_cycle(stats.end(mark));
}

// After the world restarts at the end of a cycle; `trace` was taken before it restarted.
void after_cycle(CycleTrace trace) {
  if (settings().gcstoptheworld < 2) wake_background_sweeper();
  trim_mark_chunk_spares();
  heap_profile_flush();
  update_scavenger_goal();
  if (settings().gctrace) {
    trace.next_goal = pacer().goal();
    print_gctrace(trace);
  }
  if (settings().gcpacertrace) pacer().print_end_trace();
  if (settings().scavtrace) print_scavenger_trace(/*forced=*/false);
  g_cycles_done.fetch_add(1, std::memory_order_release);
  futex_wake_all(&g_cycles_done);
  notify_assists();  // threads waiting for credit: the mark is over
}

// World stopped, every stack scanned: drains alongside the mark workers until the mark is out of
// work, and closes it (mark_queue.hpp), so that no marker of this mark is alive when it ends.
void drain_and_close_mark() {
  do {
    Marker marker(Marker::Mode::kMark);
    marker.drain();
  } while (!close_mark());
}

// GODEBUG=gcstoptheworld: the whole mark in the pause of mark start.
void mark_in_the_pause(const WorldStopped& world, ThreadRecord* self,
                       const StackExtent& self_extent, std::int64_t pause_start) {
  {
    Marker marker(Marker::Mode::kMark);
    mark_from_roots_stopped(world, marker, self, self_extent);
    marker.drain();
  }
  drain_and_close_mark();
  end_stack_scans();
  if (settings().gccheckmark) verify_mark(world, self, self_extent);
  end_mark(world, self, pause_start);
}

// Sweep termination and mark start, on the triggering thread. Returns the number of the cycle it
// started, or 0 if it started nothing (a mark is in progress, or the trigger is no longer reached).
__attribute__((noinline)) std::uint32_t start_cycle_above(CycleReason reason, ThreadRecord* self,
                                                          const StackExtent& self_extent) {
  if (t_in_cycle) return 0;
  ThreadGcTimeScope timed(GcTimeKind::kCycleStart);
  // Without its controller (the OS refused the thread) a cycle marks with the world stopped, as
  // under gcstoptheworld: an allocation that starts a cycle has taken its slot already and may not
  // throw.
  const bool concurrent = ensure_mark_workers();
  auto lock = lock_cycle();
  if (marking()) return 0;
  if (reason == CycleReason::kHeap &&
      !pacer().should_trigger(g_counters.heap_live.load(std::memory_order_relaxed)))
    return 0;
  t_in_cycle = true;
  const std::int64_t start = now_ns();
  finish_sweeping();
  const std::int64_t pause_start = now_ns();
  WorldStopped world = stop_the_world();
  begin_mark(world, reason, start);
  const std::uint32_t number = g_mark.cycle.load(std::memory_order_relaxed);
  if (settings().gcstoptheworld >= 1 || !concurrent) {
    mark_in_the_pause(world, self, self_extent, pause_start);
    cycle_stats().record_whole_mark_pause(now_ns() - pause_start);
    const CycleTrace trace = cycle_stats().trace();
    start_the_world(std::move(world));
    lock.unlock();
    // =2: the whole sweep too, before the cycle returns. Not in the pause: a thread inside a
    // blocking region may hold a lock that sweeping takes (the destructor queue's).
    if (settings().gcstoptheworld >= 2) finish_sweeping();
    t_in_cycle = false;
    after_cycle(trace);
    return number;
  }
  g_barrier_enabled.store(true, std::memory_order_relaxed);
  begin_stack_scans();
  cycle_stats().record_mark_start_pause(pause_start, now_ns());
  start_the_world(std::move(world));
  t_in_cycle = false;
  lock.unlock();
  if (settings().gcpacertrace) pacer().print_start_trace(mark_worker_count());
  // Until the last stack is scanned, every allocation of every thread takes the slow path and
  // every store shades what it stores. The controller would scan the stopped threads' stacks, but
  // woken on a machine whose CPUs all run mutators it may not get one for milliseconds; this
  // thread has one now. Before the wake, which often gives this thread's CPU to the woken one.
  scan_stacks_after_mark_start(self_extent);
  wake_mark_workers();
  return number;
}

// Spills the caller's callee-saved registers into this frame and starts the scan of this thread's
// stack (under gcstoptheworld) just below it: everything the caller holds is seen, and the frames
// of the cycle itself are not.
__attribute__((noinline)) std::uint32_t start_cycle(CycleReason reason) {
  __builtin_unwind_init();
  ThreadRecord* self = ensure_registered();
  // A thread on a stack it did not announce stops here, before its stack bounds are trusted; one
  // in a handler on its alternate signal stack has two stacks to scan in a stopped-world mark.
  const StackExtent extent = locate_stacks(self, current_stack_pointer());
  const std::uint32_t number = start_cycle_above(reason, self, extent);
  asm volatile("" ::: "memory");  // not a tail call: this frame must outlive the cycle
  return number;
}

constexpr int kTerminationAttempts = 4;

}  // namespace

Mutex& cycle_mutex() {
  static constinit Mutex mutex{LockRank::kCycle};
  return mutex;
}

std::unique_lock<Mutex> lock_cycle_between_marks() {
  for (;;) {
    const std::uint32_t seen = g_cycles_done.load(std::memory_order_acquire);
    auto lock = lock_cycle();
    // Between marks, and the last cycle's after_cycle done too: a fork between the two would leave
    // the child counting one cycle fewer than it started, and its next collect() waiting forever.
    if (!marking() && seen == g_mark.cycle.load(std::memory_order_acquire)) return lock;
    lock.unlock();
    wait_for_cycles_done_change(seen);
  }
}

bool terminate_mark(int attempt) {
  auto lock = lock_cycle();
  const std::int64_t pause_start = now_ns();
  WorldStopped world = stop_the_world();
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) flush_barrier_buffer(r);
  if (stacks_pending() != 0 || !close_mark()) {
    if (attempt + 1 < kTerminationAttempts) {
      cycle_stats().record_pause(now_ns() - pause_start);
      start_the_world(std::move(world));
      return false;
    }
    // Finish here: the mark workers drain alongside until nothing is left.
    {
      Marker marker(Marker::Mode::kMark);
      scan_due_stacks_stopped(world, marker);
    }
    drain_and_close_mark();
  }
  if (settings().gccheckmark) verify_mark(world, nullptr, StackExtent{});
  end_mark(world, nullptr, pause_start);
  const CycleTrace trace = cycle_stats().trace();
  // The cycle's lock first: the restart's wake may leave this thread without a CPU for
  // milliseconds (start_the_world). A thread that takes the lock meanwhile finds the mark over,
  // and stops the world only once this one has restarted it.
  lock.unlock();
  start_the_world(std::move(world));
  after_cycle(trace);
  return true;
}

void maybe_start_cycle() {
  if (!t_in_cycle && !marking() &&
      pacer().should_trigger(g_counters.heap_live.load(std::memory_order_relaxed)))
    start_cycle(CycleReason::kHeap);
}

// The thread that waits for cycle `number` (a blocking gc::collect(), or an allocation the OS
// refused) has nothing else to do: it marks too, and wakes the idle workers, as Go's idle mark
// workers put idle CPUs to work, so that a blocking collection uses every core. In turns
// (marker.hpp), each inside a critical section; between turns it polls its safepoint (its own stack
// scan, a stop), and when no grey work is left it waits for some, or for the mark's end, as a
// blocked thread.
void mark_while_waiting(std::uint32_t number) {
  // A mark made in the pause (gcstoptheworld, or no controller) is over already.
  if (!still_marking(number)) return;
  wake_idle_mark_workers(number);  // the other idle CPUs (mark_workers.hpp)
  while (still_marking(number)) {
    const std::uint32_t seen = mark_events();
    bool drained = true;
    {
      CriticalSection critical;
      if (!still_marking(number)) break;
      // Counted turn by turn: termination may come before this loop sees the mark end.
      drained = idle_drain(/*as_turn=*/true);
    }
    poll_safepoint();
    if (drained) {
      BlockingScope waiting;
      wait_for_grey_work(seen, 1'000'000);
    }
  }
}

void apply_memory_limit() {
  const std::int64_t limit = pacer().memory_limit();
  page_heap().set_memory_limit(limit != INT64_MAX ? static_cast<std::size_t>(limit) : SIZE_MAX);
  keep_no_empty_spans_under_a_limit(limit != INT64_MAX);
}

void run_cycle(CycleReason reason) {
  for (;;) {
    const std::uint32_t seen = g_cycles_done.load(std::memory_order_acquire);
    if (marking()) {
      wait_for_cycles_done_change(seen);
      continue;
    }
    const std::uint32_t number = start_cycle(reason);
    if (number == 0) {
      if (t_in_cycle) return;
      continue;  // another thread started one meanwhile: wait for it, then run ours
    }
    mark_while_waiting(number);
    wait_for_cycle_done(number);
    return;
  }
}

// Spans kept empty for their size class (heap/central.hpp) go back to the page heap too: the
// allocation the OS refused may fit in them, and after gc::collect() no free memory is held back.
// From the refusal on, no sweep keeps one, so a mark that another thread starts before the
// release runs only leaves them to that mark's sweep.
void collect_for_memory() {
  keep_no_empty_spans_after_a_refusal();
  run_cycle(CycleReason::kOutOfMemory);
  finish_sweeping();
  release_kept_empty_spans();
}

void collect_and_destroy() {
  // Slots whose destructor ran while their span was cached, or while a mark was in progress, are
  // freed by the next sweep: one more cycle reclaims them, so that collect() leaves nothing it
  // found dead behind. Counted from the start: the destructor thread runs during the mark too.
  ThreadGcTimeScope timed(GcTimeKind::kCollect);
  const std::uint64_t deferred_before = deferred_zombie_slots();
  run_cycle(CycleReason::kForced);
  finish_sweeping();
  wait_for_destructors();
  if (deferred_zombie_slots() != deferred_before) {
    run_cycle(CycleReason::kFollowUp);
    finish_sweeping();
  }
  release_kept_empty_spans();
  g_hooks.collect_waits.call();
}

#if TRICOLOR_TEST_HOOKS
void start_cycle_for_test() {
  while (start_cycle(CycleReason::kForced) == 0) wait_for_cycle_end();
}

void wait_for_cycle_end() {
  const std::uint32_t seen = g_cycles_done.load(std::memory_order_acquire);
  if (marking()) wait_for_cycles_done_change(seen);
}
#endif

void snapshot_with_world_stopped(void (*fill)(const CycleTotals&, void*), void* context) {
  ThreadRecord* self = ensure_registered();
  auto lock = lock_cycle();
  WorldStopped world = stop_the_world();
  flush_stopped_caches(world, self);
  fill(cycle_stats().totals(), context);
  start_the_world(std::move(world));
}

}  // namespace gc::detail
