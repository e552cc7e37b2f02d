#include "gc/stack_scan.hpp"

#include <signal.h>

#include <mutex>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/futex.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/root_set.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

std::atomic<int> g_stacks_pending{0};
std::int64_t g_scans_began_ns = 0;  // written at mark start, world stopped

// A thread gets this long after mark start to reach a safepoint, then the stop signal.
constexpr std::int64_t kProdAfterNs = 1'000'000;
constexpr std::int64_t kReprodNs = 10'000'000;

// The scanned_cycle of a thread that has left the registry: never due again. After it leaves, the
// thread still passes a safepoint (the end of the blocking scope around the registry's lock), where
// a scan would be counted against a mark that never counted this thread.
constexpr std::uint32_t kRetired = UINT32_MAX;

bool due(const ThreadRecord* r, std::uint32_t cycle) {
  const std::uint32_t scanned = r->scanned_cycle.load(std::memory_order_acquire);
  return marking() && scanned != cycle && scanned != kRetired;
}

bool try_lock_scan(ThreadRecord* r) { return try_take_scan_lock(r->scan_lock); }
void unlock_scan(ThreadRecord* r) { drop_scan_lock(r->scan_lock); }

void mark_scanned(ThreadRecord* r, std::uint32_t cycle) {
  TRICOLOR_DCHECK(r->scan_lock.load(std::memory_order_relaxed) != 0,
                  "the stack of thread %d counted as scanned without its scan lock", r->tid);
  TRICOLOR_DCHECK(r->scanned_cycle.load(std::memory_order_relaxed) != cycle,
                  "the stack of thread %d scanned twice in cycle %u", r->tid, cycle);
  r->scanned_cycle.store(cycle, std::memory_order_release);
  set_stack_unscanned(*r->mutator, false);
  // The stack it runs on now: a switch away from it later need not scan it again this cycle.
  r->current_stack->scanned_cycle.store(cycle, std::memory_order_relaxed);
  const int pending = g_stacks_pending.fetch_sub(1, std::memory_order_acq_rel);
  TRICOLOR_DCHECK(pending > 0, "more stacks scanned than were due (%d pending)", pending);
  if (pending == 1) g_safepoint_pending.fetch_and(~kSafepointScanStacks, std::memory_order_release);
  notify_mark_event();
}

void scan_words(Marker& marker, std::uintptr_t lo, std::uintptr_t hi, const char* what) {
  marker.scan_conservative(lo, hi, what);
  g_mark.stack_bytes.fetch_add(static_cast<std::int64_t>(hi - lo), std::memory_order_relaxed);
}

void scan_saved(Marker& marker, const std::uintptr_t* frame, std::size_t words, const char* what) {
  if (words == 0) return;
  marker.scan_conservative(reinterpret_cast<std::uintptr_t>(frame),
                           reinterpret_cast<std::uintptr_t>(frame + words), what);
}

}  // namespace

void scan_thread_stacks(Marker& marker, const ThreadRecord* r, const StackExtent& extent,
                        bool blocked, const char* stack, const char* registers) {
  if (blocked) scan_saved(marker, r->saved_frame, r->saved_frame_words, registers);
  scan_words(marker, extent.sp, r->stack_hi, stack);
  if (extent.signal_hi != 0) scan_words(marker, extent.signal_lo, extent.signal_hi, stack);
}

StackExtent stopped_extent(const ThreadRecord* r) {
  return StackExtent{r->scan_sp.load(std::memory_order_relaxed), r->signal_stack_lo,
                     r->signal_stack_hi};
}

void scan_suspended_stack(Marker& marker, const StackRecord* s, const char* what) {
  scan_saved(marker, s->saved_frame, s->saved_frame_words, what);
  scan_words(marker, s->saved_sp, s->hi, what);
}

bool scan_stack_if_due(Marker& marker, StackRecord* s, std::uint32_t cycle) {
  if (!try_lock_stack(s)) return false;
  const bool due = s->running_on.load(std::memory_order_relaxed) == nullptr &&
                   s->scanned_cycle.load(std::memory_order_relaxed) != cycle;
  if (due) {
    scan_suspended_stack(marker, s, "a suspended stack");
    s->scanned_cycle.store(cycle, std::memory_order_relaxed);
  }
  unlock_stack(s);
  return due;
}

void begin_stack_scans() {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_relaxed);
  int due_threads = 0;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    r->scan_signalled_ns = 0;
    r->mutator->always_shade_stored.store(false, std::memory_order_relaxed);
    if (r->idle.load(std::memory_order_relaxed) && !test_flag(kTestNoEarlyScan)) {
      // Scanned with nothing to read (IdleScope, runtime/safepoint.hpp); nothing else scans while
      // the world is stopped, so without the scan lock.
      r->scanned_cycle.store(cycle, std::memory_order_relaxed);
      r->current_stack->scanned_cycle.store(cycle, std::memory_order_relaxed);
      set_stack_unscanned(*r->mutator, false);
      continue;
    }
    set_stack_unscanned(*r->mutator, true);
    ++due_threads;
  }
  g_scans_began_ns = now_ns();
  g_stacks_pending.store(due_threads, std::memory_order_release);
  if (due_threads != 0)
    g_safepoint_pending.fetch_or(kSafepointScanStacks, std::memory_order_release);
}

int stacks_pending() { return g_stacks_pending.load(std::memory_order_acquire); }

void scan_own_stack(const StackExtent& extent) {
  ThreadRecord* r = t_mutator.record;
  if (r == nullptr) return;
  // Every safepoint of every thread comes here while any stack is still due, so the test comes
  // before the clock: a thread whose own stack is scanned may pass here once per allocation until
  // the last one is, and two clock reads would cost it more than the allocation.
  if (!due(r, g_mark.cycle.load(std::memory_order_acquire))) return;
  ThreadGcTimeScope timed(GcTimeKind::kStackScan);
  CriticalSection critical;
  if (!try_lock_scan(r)) return;
  // The cycle is read again inside the critical section, where no mark can end or start: the
  // thread may have been stopped by signal after the test above while one mark ended and the next
  // began, and scanning for the old cycle would count this stack twice in the new one.
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  if (due(r, cycle)) {
    Marker marker(Marker::Mode::kMark);
    scan_thread_stacks(marker, r, extent, /*blocked=*/false);
    mark_scanned(r, cycle);
  }
  unlock_scan(r);
}

namespace {

// Scans the stack of `r` if it is due and stopped: inside a blocking region, or still parked by a
// stop (mark start's, most of the time: a thread the stop woke but that has not had a CPU since
// runs none of its code until it leaves the park, and leaving waits for this scan to end), and if
// it has at most `budget` bytes, which it then takes from `budget`. False if it was running.
// Registry locked.
bool scan_if_stopped(ThreadRecord* r, std::uint32_t cycle, std::uintptr_t& budget) {
  if (!is_stopped(r->status.load(std::memory_order_seq_cst))) return false;
  if (!try_lock_scan(r)) return true;
  if (due(r, cycle) && is_stopped(r->status.load(std::memory_order_seq_cst))) {
    // Read after the stopped status, and stable from then on: a thread enters its region before it
    // publishes that status, and leaves it only after it has waited for this lock. (Read before, it
    // could belong to a park the thread has left since, then to enter the region it is stopped in
    // now, and the copy of its registers there would go unread.)
    const bool blocked = r->in_blocking_region.load(std::memory_order_seq_cst);
    const StackExtent extent = stopped_extent(r);
    const std::uintptr_t bytes = r->stack_hi - extent.sp + (extent.signal_hi - extent.signal_lo);
    if ((blocked || !test_flag(kTestNoEarlyScan)) && bytes <= budget) {
      budget -= bytes;
      Marker marker(Marker::Mode::kMark);
      scan_thread_stacks(marker, r, extent, blocked);
      mark_scanned(r, cycle);
    }
  }
  unlock_scan(r);
  return true;
}

// scan_if_stopped for every due thread, while `budget` lasts. Registry locked.
void scan_stopped_stacks_locked(std::uintptr_t budget) {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  for (ThreadRecord* r = registry_head(); r != nullptr && budget > 0; r = r->next)
    if (due(r, cycle)) scan_if_stopped(r, cycle, budget);
}

}  // namespace

void scan_stopped_stacks() {
  std::lock_guard lock(registry_mutex());
  scan_stopped_stacks_locked(UINTPTR_MAX);
}

void scan_stacks_after_mark_start(const StackExtent& self_extent) {
  if (test_flag(kTestNoEarlyScan | kTestNoStarterScan)) return;
  scan_own_stack(self_extent);
  // Inside a critical section: this thread holds the registry's lock, which a stop of the world
  // takes first, so none can be under way while it scans. Not waited for: whoever holds it now
  // (another thread's stop, the controller's scan) leaves the stacks to the controller.
  CriticalSection critical;
  std::unique_lock lock(registry_mutex(), std::try_to_lock);
  if (lock.owns_lock()) scan_stopped_stacks_locked(kAfterMarkStartScanBytes);
}

void scan_or_prod_stacks(int stop_signal) {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  std::lock_guard lock(registry_mutex());
  const std::int64_t now = now_ns();
  std::uintptr_t budget = UINTPTR_MAX;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (!due(r, cycle) || scan_if_stopped(r, cycle, budget)) continue;
    if (now - g_scans_began_ns < kProdAfterNs) continue;
    if (r->scan_signalled_ns != 0 && now - r->scan_signalled_ns < kReprodNs) continue;
    r->scan_signalled_ns = now;
    ::pthread_kill(r->handle, stop_signal);
  }
}

void scan_own_stack_early(const StackExtent& extent) {
  if (test_flag(kTestNoEarlyScan)) return;
  scan_own_stack(extent);
}

void wait_for_stack_scan(ThreadRecord* r) {
  while (r->scan_lock.load(std::memory_order_seq_cst) != 0) futex_wait(&r->scan_lock, 1);
}

void stack_scan_on_register(ThreadRecord* r) {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  r->scanned_cycle.store(cycle, std::memory_order_relaxed);
  r->own_stack.scanned_cycle.store(cycle, std::memory_order_relaxed);
  // Counted as scanned, but not read: during a mark its stack may hold values it loaded from the
  // heap before it registered, which its stores must then shade until the next mark scans it.
  r->mutator->always_shade_stored.store(marking(), std::memory_order_relaxed);
  // Slots other threads registered on this stack before it was known: from now on its scan covers
  // them, and its owner, destroying them as its own stack's, would never unregister them.
  drop_roots_within(r->own_stack.lo, r->own_stack.hi);
}

void stack_scan_on_exit(ThreadRecord* r) {
  // Under the scan lock: a stop signal landing between the test and the count would have its
  // handler scan and count this stack too. Nobody else holds the lock here: the collector scans
  // only under the registry's lock, which the exiting thread holds.
  if (!try_lock_scan(r)) return;
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  if (due(r, cycle)) mark_scanned(r, cycle);
  r->scanned_cycle.store(kRetired, std::memory_order_release);
  unlock_scan(r);
}

void end_stack_scans() {
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next)
    set_stack_unscanned(*r->mutator, false);
  g_stacks_pending.store(0, std::memory_order_release);
  g_safepoint_pending.fetch_and(~kSafepointScanStacks, std::memory_order_release);
}

}  // namespace gc::detail
