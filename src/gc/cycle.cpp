#include "gc/cycle.hpp"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "gc/destructors.hpp"
#include "gc/marker.hpp"
#include "gc/pacer.hpp"
#include "gc/root_set.hpp"
#include "gc/sweeper.hpp"
#include "heap/central.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_heap.hpp"
#include "heap/scavenger.hpp"
#include "heap/thread_cache.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/settings.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/trace.hpp"

namespace gc::detail {

namespace {

CycleTotals g_totals;          // guarded by cycle_mutex()
std::int64_t g_gc_cpu_ns = 0;  // collector CPU time, Go's way: a stopped world costs every core
thread_local bool t_in_cycle = false;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::int64_t g_start_ns = now_ns();

int cpu_count() {
  static const int n = [] {
    const long c = ::sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? static_cast<int>(c) : 1;
  }();
  return n;
}

// Takes the cycle lock as a blocked thread, so that a stop in progress never waits for us.
std::unique_lock<std::mutex> lock_cycle() {
  std::unique_lock lock(cycle_mutex(), std::defer_lock);
  BlockingScope blocked;
  lock.lock();
  return lock;
}

// The copy of a blocking thread's register spill area (stop_the_world.cpp, enter_blocking).
void scan_saved_frame(Marker& marker, ThreadRecord* r, const char* what) {
  if (r->saved_frame_words == 0) return;
  const auto* frame = r->saved_frame;
  marker.scan_conservative(reinterpret_cast<std::uintptr_t>(frame),
                           reinterpret_cast<std::uintptr_t>(frame + r->saved_frame_words), what);
}

// Names a thread's stack and saved registers for a gccheckmark report (96 bytes each).
void describe_thread(const ThreadRecord* r, bool self, char* stack, char* frame) {
  const char* how = self                                                    ? "collecting"
                    : r->in_blocking_region.load(std::memory_order_relaxed) ? "in a blocking region"
                    : r->cooperative.load(std::memory_order_relaxed)        ? "at a safepoint"
                                                                            : "stopped by signal";
  std::snprintf(stack, 96, "the stack of thread %d (%s, %s)", r->tid, r->name, how);
  std::snprintf(frame, 96, "the saved registers of thread %d (%s, %s)", r->tid, r->name, how);
}

// Scans every thread's stack and the root set. The collecting thread's own stack is scanned from
// `self_lo` up: the frames of its callers, whose registers run_cycle spilled, and never the
// collector's own frames, whose dead slots hold whatever the previous pass left there (a slot just
// past a scanned object, the next span's first page) and would make the two passes disagree.
//
// `verifying`: the gccheckmark pass skips the live stack of a thread inside a blocking region. Such
// a thread keeps running, and the frame that holds the region may change between the two passes
// (the region's code reuses its slots), so the second pass could see words the first never read;
// the copy of its registers is scanned by both.
std::int64_t mark_from_roots(Marker& marker, ThreadRecord* self, std::uintptr_t self_lo,
                             bool verifying) {
  std::int64_t stack_bytes = 0;
  char stack[96] = "a stack";  // names the root in a gccheckmark report
  char frame[96] = "saved registers";
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    const std::uintptr_t lo = r == self ? self_lo : r->scan_sp.load(std::memory_order_relaxed);
    const bool blocking = r->in_blocking_region.load(std::memory_order_relaxed);
    if (verifying) describe_thread(r, r == self, stack, frame);
    if (verifying && r != self && blocking) {
      scan_saved_frame(marker, r, frame);
      continue;
    }
    marker.scan_conservative(lo, r->stack_hi, stack);
    if (r != self) scan_saved_frame(marker, r, frame);
    stack_bytes += static_cast<std::int64_t>(r->stack_hi - lo);
    // A thread stopped by signal keeps its cache, and so its tiny block, which no root names.
    if (r != self && !r->cooperative.load(std::memory_order_relaxed)) {
      marker.set_root_source("the tiny block of thread", static_cast<std::uintptr_t>(r->tid));
      marker.shade(r->mutator->tiny);
    }
  }
  mark_roots(marker);
  return stack_bytes;
}

// Bytes that cached spans still count as allocated but have not handed out (world stopped).
std::int64_t unused_cached_bytes() {
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

// A span that was not swept after the last cycle (cached by a thread stopped by signal, or not yet
// reached by the sweepers) still carries that cycle's mark bits. Marking must start from white:
// an object left marked would count as black and its children would never be traced. Clearing is
// safe because the sweep that eventually comes will use this cycle's marks, and an object dead
// then is dead now. World stopped.
//
// Spans still cached here stay cached after the cycle, and their owners allocate from them: record
// where each one's allocations stood when the mark began, so the sweep keeps what comes after.
void prepare_spans_for_mark() {
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_relaxed);
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    // A thread stopped by signal may be inside the allocation fast path, past the bump of
    // `free_index` but before the slot's address exists in any register: keep its latest slot.
    const std::uint32_t in_flight = r->cooperative.load(std::memory_order_relaxed) ? 0 : 1;
    for (Span* s : r->mutator->alloc) {
      if (s == &g_empty_span) continue;
      const std::uint32_t free_index = s->free_index.load(std::memory_order_relaxed);
      s->mark_free_index.store(free_index > in_flight ? free_index - in_flight : 0,
                               std::memory_order_relaxed);
      if (needs_sweep(s, sweepgen))
        for (auto& w : s->mark_bits) w.store(0, std::memory_order_relaxed);
    }
  }
  for (std::size_t sc = 0; sc < kNumSpanClasses; ++sc)
    central(static_cast<std::uint8_t>(sc)).clear_unswept_marks(sweepgen);
}

// Retained memory may stay 10% above the heap goal (Go's reduceExtraPercent), and under a memory
// limit within 95% of it (Go's retainExtraPercent), the rest goes back to the OS.
void update_scavenger_goal() {
  const std::int64_t goal = pacer().goal();
  const std::int64_t limit = pacer().memory_limit();
  std::size_t retained_goal = SIZE_MAX;
  if (goal != INT64_MAX) retained_goal = static_cast<std::size_t>(goal / 10 * 11);
  if (limit != INT64_MAX) {
    const auto limit_goal = static_cast<std::size_t>(limit / 100 * 95);
    if (limit_goal < retained_goal) retained_goal = limit_goal;
  }
  page_heap().set_retained_limit(limit != INT64_MAX ? static_cast<std::size_t>(limit) : SIZE_MAX);
  set_scavenger_goal(retained_goal);
}

void flush_stopped_caches(ThreadRecord* self) {
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (r == self || r->cooperative.load(std::memory_order_relaxed))
      flush_thread_cache(*r->mutator, /*keep_unswept=*/true);
  }
}

}  // namespace

std::mutex& cycle_mutex() {
  static std::mutex* mutex = new std::mutex;
  return *mutex;
}

namespace {

// The cycle proper; `self_lo` is where the scan of this thread's stack starts (see run_cycle). Not
// inlined: its frame must lie below `self_lo`.
__attribute__((noinline)) void run_cycle_above(CycleReason reason, std::uintptr_t self_lo) {
  ThreadRecord* self = ensure_registered();
  if (t_in_cycle) return;
  auto lock = lock_cycle();
  if (reason == CycleReason::kHeap &&
      !pacer().should_trigger(g_counters.heap_live.load(std::memory_order_relaxed)))
    return;
  t_in_cycle = true;

  while (sweep_one()) {
  }
  CycleTrace trace;
  trace.heap_start = g_counters.heap_live.load(std::memory_order_relaxed);
  trace.goal = pacer().goal();
  const std::int64_t t0 = now_ns();
  const StopStats stop = stop_the_world();
  flush_stopped_caches(self);
  prepare_spans_for_mark();
  const std::int64_t t1 = now_ns();

  Marker marker(Marker::Mode::kMark);
  trace.stack_bytes = mark_from_roots(marker, self, self_lo, /*verifying=*/false);
  marker.drain();
  const std::int64_t t2 = now_ns();

  if (settings().gccheckmark) {
    clear_checkmarks();
    Marker verifier(Marker::Mode::kCheckmark);
    mark_from_roots(verifier, self, self_lo, /*verifying=*/true);
    verifier.drain();
  }

  // Mark termination.
  const std::int64_t marked = marker.marked_bytes();
  trace.heap_end = g_counters.heap_live.load(std::memory_order_relaxed);
  trace.heap_marked = marked;
  g_sweepgen.fetch_add(2, std::memory_order_acq_rel);
  reset_sweep_cursor();
  g_counters.heap_live.store(marked + unused_cached_bytes(), std::memory_order_relaxed);
  const std::int64_t t3 = now_ns();
  pacer().end_cycle(marked, t3 - t0, t3);
  const std::uint64_t pause = static_cast<std::uint64_t>(t3 - t0);
  g_totals.pause_ns[g_totals.num_gc % 256] = pause;
  ++g_totals.num_gc;
  if (reason != CycleReason::kHeap) ++g_totals.num_forced_gc;
  g_totals.pause_total_ns += pause;
  if (pause > g_totals.pause_max_ns) g_totals.pause_max_ns = pause;
  g_totals.last_gc_unix_ns = static_cast<std::uint64_t>(unix_ns());
  g_gc_cpu_ns += static_cast<std::int64_t>(pause) * cpu_count();
  start_the_world();
  t_in_cycle = false;

  wake_background_sweeper();
  update_scavenger_goal();
  if (settings().gctrace) {
    trace.number = g_totals.num_gc;
    trace.since_start_ns = t0 - g_start_ns;
    trace.gc_cpu_percent = 100.0 * static_cast<double>(g_gc_cpu_ns) /
                           (static_cast<double>(t3 - g_start_ns) * cpu_count());
    trace.stop_ns = t1 - t0;
    trace.mark_ns = t2 - t1;
    trace.termination_ns = t3 - t2;
    trace.next_goal = pacer().goal();
    trace.threads = stop.threads;
    trace.signalled = stop.signalled;
    trace.roots = root_count();
    trace.forced = reason != CycleReason::kHeap;
    print_gctrace(trace);
  }
  if (settings().scavtrace) print_scavenger_trace(/*forced=*/false);
}

}  // namespace

// Spills the caller's callee-saved registers into this frame and starts the stack scan just below
// it: everything the caller holds is seen, and the frames of the cycle itself are not.
__attribute__((noinline)) void run_cycle(CycleReason reason) {
  __builtin_unwind_init();
  run_cycle_above(reason, current_stack_pointer());
  asm volatile("" ::: "memory");  // not a tail call: this frame must outlive the cycle
}

void maybe_start_cycle() {
  if (pacer().should_trigger(g_counters.heap_live.load(std::memory_order_relaxed)) && !t_in_cycle)
    run_cycle(CycleReason::kHeap);
}

void collect_for_memory() {
  run_cycle(CycleReason::kOutOfMemory);
  finish_sweeping();
}

void collect_and_destroy() {
  run_cycle(CycleReason::kForced);
  finish_sweeping();
  // Slots whose destructor ran while their span was cached are freed by the next sweep: one more
  // cycle reclaims them, so that collect() leaves nothing it found dead behind.
  const std::uint64_t deferred_before = deferred_zombie_slots();
  wait_for_destructors();
  if (deferred_zombie_slots() != deferred_before) {
    run_cycle(CycleReason::kForced);
    finish_sweeping();
  }
}

void snapshot_with_world_stopped(void (*fill)(const CycleTotals&, void*), void* context) {
  ThreadRecord* self = ensure_registered();
  auto lock = lock_cycle();
  stop_the_world();
  flush_stopped_caches(self);
  CycleTotals totals = g_totals;
  const std::int64_t elapsed = now_ns() - g_start_ns;
  totals.gc_cpu_fraction =
      elapsed > 0 ? static_cast<double>(g_gc_cpu_ns) / (static_cast<double>(elapsed) * cpu_count())
                  : 0;
  fill(totals, context);
  start_the_world();
}

}  // namespace gc::detail
