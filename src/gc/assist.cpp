#include "gc/assist.hpp"

#include <algorithm>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/pacer.hpp"
#include "heap/heap_counters.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

std::atomic<int> g_assist_waiters{0};

// Scan work this thread did beyond its debts in mark `cycle`, which pays its next debts in that
// mark (Go's positive gcAssistBytes). An assist scans whole objects, a large one in oblets of
// 32 KiB, while the debt of one span is often a few hundred bytes of scan work: without the
// credit, every span the thread took paid for a whole oblet again, and in a ring of 64 Ki
// pointer-free objects held by one array the allocating thread did three quarters of the mark.
struct AssistCredit {
  std::uint32_t cycle = 0;
  std::int64_t bytes = 0;
};
thread_local constinit AssistCredit t_assist_credit;

// Pays what it can of `debt` from this thread's credit for `cycle`; returns the debt left.
std::int64_t spend_own_credit(std::int64_t debt, std::uint32_t cycle) {
  AssistCredit& credit = t_assist_credit;
  if (credit.cycle != cycle) credit = {cycle, 0};  // an earlier mark's credit pays nothing
  const std::int64_t spent = std::min(credit.bytes, debt);
  credit.bytes -= spent;
  return debt - spent;
}

// Takes up to `want` bytes of unclaimed background scan work; returns what it took.
std::int64_t claim_background_credit(std::int64_t want) {
  std::int64_t credit = g_mark.background_credit.load(std::memory_order_relaxed);
  while (credit > 0) {
    const std::int64_t take = std::min(credit, want);
    if (g_mark.background_credit.compare_exchange_weak(credit, credit - take,
                                                       std::memory_order_relaxed))
      return take;
  }
  return 0;
}

// Drains grey objects for up to `debt` bytes of scan work of cycle `cycle`'s mark, in turns
// (marker.hpp), each inside a critical section, polling the safepoint between them: a stop of the
// world waits for one turn, not for the whole debt (a span's debt near the goal can be megabytes of
// scan work). Returns the debt left (more than zero only when no grey work was left to take, or
// that mark ended: a thread that parks between turns may go on in the next one, whose debt is not
// its). Its time is read from the monotonic clock, as Go times its assists: the thread's CPU clock
// is a system call, and an allocating thread assists often.
std::int64_t drain_for(std::int64_t debt, std::uint32_t cycle) {
  // Outermost: inside another section a deferred stop would end every turn at once, and the
  // safepoint between turns could not park.
  TRICOLOR_DCHECK(t_mutator.critical_depth.load(std::memory_order_relaxed) == 0,
                  "an assist inside a critical section");
  for (bool drained = false; debt > 0 && !drained;) {
    const std::int64_t start = now_ns();
    {
      ThreadGcTimeScope timed(GcTimeKind::kAssist);
      CriticalSection critical;
      if (!still_marking(cycle)) break;
      Marker marker(Marker::Mode::kMark);
      drained = marker.drain_turn(debt);
      debt -= marker.scanned_bytes();
      g_mark.assist_work.fetch_add(marker.scanned_bytes(), std::memory_order_relaxed);
    }
    g_mark.assist_cpu_ns.fetch_add(now_ns() - start, std::memory_order_relaxed);
    poll_safepoint();
  }
  return debt;
}

}  // namespace

void assist_allocation(std::int64_t bytes) {
  // Read before the mark's test: a thread stopped between the two then pays nothing, rather than
  // this cycle's debt in the next.
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  if (!marking() || bytes <= 0) return;
  const std::int64_t heap_live = g_counters.heap_live.load(std::memory_order_relaxed);
  const double per_byte =
      pacer().assist_work_per_byte(heap_live, g_mark.scan_work.load(std::memory_order_relaxed));
  std::int64_t debt = static_cast<std::int64_t>(static_cast<double>(bytes) * per_byte);
  debt = spend_own_credit(debt, cycle);
  if (debt <= 0) return;
  debt -= claim_background_credit(debt);
  if (debt <= 0) return;
  debt = drain_for(debt, cycle);
  while (debt > 0 && still_marking(cycle) &&
         g_counters.heap_live.load(std::memory_order_relaxed) >= pacer().goal()) {
    const std::uint32_t seen = mark_events();
    debt -= claim_background_credit(debt);
    if (debt <= 0) break;
    // A worker shared some of its grey objects since: mark them rather than wait.
    if (!grey_queue_empty()) {
      debt = drain_for(debt, cycle);
      continue;
    }
    g_assist_waiters.fetch_add(1, std::memory_order_seq_cst);
    {
      ThreadGcTimeScope timed(GcTimeKind::kAssistWait);
      BlockingScope waiting;
      // Counted as a hungry marker while it waits: a worker that sees one splits its grey stack
      // onto the queue (Marker::drain), and the split's event wakes this thread to take it. Without
      // that, one worker alone marks a graph it holds in its own stack (one tree, say) while the
      // allocating thread waits at the goal with a CPU to spare.
      wait_for_grey_work(seen, 1'000'000);
    }
    g_assist_waiters.fetch_sub(1, std::memory_order_seq_cst);
  }
  // Scanned past the debt (the last object was larger than what was owed): credit for later.
  if (debt < 0) t_assist_credit.bytes -= debt;
}

void notify_assists() {
  if (g_assist_waiters.load(std::memory_order_seq_cst) != 0) notify_mark_event();
}

void forget_assist_waiters_after_fork() { g_assist_waiters.store(0, std::memory_order_relaxed); }

}  // namespace gc::detail
