#include "gc/stack_scan.hpp"

#include <signal.h>

#include <mutex>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/futex.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
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

bool try_lock_scan(ThreadRecord* r) {
  std::uint32_t expected = 0;
  return r->scan_lock.compare_exchange_strong(expected, 1, std::memory_order_seq_cst);
}

void unlock_scan(ThreadRecord* r) {
  r->scan_lock.store(0, std::memory_order_seq_cst);
  futex_wake_all(&r->scan_lock);
}

void mark_scanned(ThreadRecord* r, std::uint32_t cycle) {
  TRICOLOR_DCHECK(r->scan_lock.load(std::memory_order_relaxed) != 0,
                  "the stack of thread %d counted as scanned without its scan lock", r->tid);
  TRICOLOR_DCHECK(r->scanned_cycle.load(std::memory_order_relaxed) != cycle,
                  "the stack of thread %d scanned twice in cycle %u", r->tid, cycle);
  r->scanned_cycle.store(cycle, std::memory_order_release);
  const int pending = g_stacks_pending.fetch_sub(1, std::memory_order_acq_rel);
  TRICOLOR_DCHECK(pending > 0, "more stacks scanned than were due (%d pending)", pending);
  if (pending == 1) g_safepoint_pending.fetch_and(~kSafepointScanStacks, std::memory_order_release);
  notify_mark_event();
}

void scan_range(std::uintptr_t lo, std::uintptr_t hi, const ThreadRecord* r, bool blocked) {
  Marker marker(Marker::Mode::kMark);
  if (blocked && r->saved_frame_words != 0) {
    const auto* frame = r->saved_frame;
    marker.scan_conservative(reinterpret_cast<std::uintptr_t>(frame),
                             reinterpret_cast<std::uintptr_t>(frame + r->saved_frame_words));
  }
  marker.scan_conservative(lo, hi);
  g_mark.stack_bytes.fetch_add(static_cast<std::int64_t>(hi - lo), std::memory_order_relaxed);
}

}  // namespace

void begin_stack_scans() {
  int due_threads = 0;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    r->scan_signalled_ns = 0;
    ++due_threads;
  }
  g_scans_began_ns = now_ns();
  g_stacks_pending.store(due_threads, std::memory_order_release);
  if (due_threads != 0)
    g_safepoint_pending.fetch_or(kSafepointScanStacks, std::memory_order_release);
}

int stacks_pending() { return g_stacks_pending.load(std::memory_order_acquire); }

void scan_own_stack(std::uintptr_t sp) {
  ThreadRecord* r = t_mutator.record;
  if (r == nullptr) return;
  if (!due(r, g_mark.cycle.load(std::memory_order_acquire))) return;
  CriticalSection critical;
  if (!try_lock_scan(r)) return;
  // The cycle is read again inside the critical section, where no mark can end or start: the
  // thread may have been stopped by signal after the test above while one mark ended and the next
  // began, and scanning for the old cycle would count this stack twice in the new one.
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  if (due(r, cycle)) {
    scan_range(sp, r->stack_hi, r, /*blocked=*/false);
    mark_scanned(r, cycle);
  }
  unlock_scan(r);
}

void scan_or_prod_stacks(int stop_signal) {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  std::lock_guard lock(registry_mutex());
  const std::int64_t now = now_ns();
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (!due(r, cycle)) continue;
    if (r->in_blocking_region.load(std::memory_order_seq_cst)) {
      if (!try_lock_scan(r)) continue;
      if (due(r, cycle) && is_stopped(r->status.load(std::memory_order_seq_cst)) &&
          r->in_blocking_region.load(std::memory_order_seq_cst)) {
        scan_range(r->scan_sp.load(std::memory_order_relaxed), r->stack_hi, r, /*blocked=*/true);
        mark_scanned(r, cycle);
      }
      unlock_scan(r);
      continue;
    }
    if (now - g_scans_began_ns < kProdAfterNs) continue;
    if (r->scan_signalled_ns != 0 && now - r->scan_signalled_ns < kReprodNs) continue;
    r->scan_signalled_ns = now;
    ::pthread_kill(r->handle, stop_signal);
  }
}

void wait_for_stack_scan(ThreadRecord* r) {
  while (r->scan_lock.load(std::memory_order_seq_cst) != 0) futex_wait(&r->scan_lock, 1);
}

void stack_scan_on_register(ThreadRecord* r) {
  r->scanned_cycle.store(g_mark.cycle.load(std::memory_order_acquire), std::memory_order_relaxed);
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
  g_stacks_pending.store(0, std::memory_order_release);
  g_safepoint_pending.fetch_and(~kSafepointScanStacks, std::memory_order_release);
}

}  // namespace gc::detail
