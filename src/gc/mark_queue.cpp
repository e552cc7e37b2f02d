#include "gc/mark_queue.hpp"

#include <mutex>

#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/mutex.hpp"

namespace gc::detail {

namespace {
Mutex g_queue_mutex{LockRank::kLeaf};  // taken inside critical sections, or by library threads
MarkChunk* g_head = nullptr;
std::atomic<std::size_t> g_chunks{0};
// The markers alive, or kClosed between marks: from the termination that found the mark out of
// work (or from the start) to the next mark start.
constexpr int kClosed = 1 << 30;
std::atomic<int> g_busy{kClosed};
std::atomic<int> g_idle_workers{0};
std::atomic<std::uint32_t> g_events{0};
std::atomic<int> g_waiters{0};  // threads inside wait_for_mark_event: only they need a wake
}  // namespace

void grey_queue_put(MarkChunk* c) {
  {
    std::lock_guard lock(g_queue_mutex);
    c->prev = g_head;
    g_head = c;
    g_chunks.fetch_add(1, std::memory_order_seq_cst);
  }
  notify_mark_event();
}

MarkChunk* grey_queue_take() {
  if (g_chunks.load(std::memory_order_seq_cst) == 0) return nullptr;
  std::lock_guard lock(g_queue_mutex);
  MarkChunk* c = g_head;
  if (c != nullptr) {
    g_head = c->prev;
    c->prev = nullptr;
    g_chunks.fetch_sub(1, std::memory_order_seq_cst);
  }
  return c;
}

bool grey_queue_empty() { return g_chunks.load(std::memory_order_seq_cst) == 0; }

bool grey_queue_hungry() {
  return g_idle_workers.load(std::memory_order_relaxed) > 0 &&
         g_chunks.load(std::memory_order_relaxed) == 0;
}

bool marker_busy_begin() {
  int busy = g_busy.load(std::memory_order_relaxed);
  do {
    if (busy & kClosed) return false;
  } while (!g_busy.compare_exchange_weak(busy, busy + 1, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  return true;
}

void marker_busy_end() { g_busy.fetch_sub(1, std::memory_order_seq_cst); }

bool mark_quiescent() {
  const std::uint32_t before = g_events.load(std::memory_order_seq_cst);
  if (!grey_queue_empty()) return false;
  if (g_busy.load(std::memory_order_seq_cst) != 0) return false;
  return g_events.load(std::memory_order_seq_cst) == before;
}

bool close_mark() {
  // mark_quiescent(), with the busy count read and closed in one step.
  const std::uint32_t before = g_events.load(std::memory_order_seq_cst);
  if (!grey_queue_empty()) return false;
  int idle = 0;
  if (!g_busy.compare_exchange_strong(idle, kClosed, std::memory_order_seq_cst)) return false;
  if (g_events.load(std::memory_order_seq_cst) == before) return true;
  // Work was published between the two reads: reopen. Markers refused meanwhile took nothing.
  g_busy.fetch_and(~kClosed, std::memory_order_seq_cst);
  return false;
}

bool mark_closed() {
  return g_busy.load(std::memory_order_seq_cst) == kClosed && grey_queue_empty();
}

void open_mark() {
  // Closed, the count is 0: closing needs it, and closed refuses markers.
  [[maybe_unused]] const int busy = g_busy.exchange(0, std::memory_order_seq_cst);
  TRICOLOR_DCHECK(busy == kClosed, "mark start with the last mark not closed (%#x)",
                  static_cast<unsigned>(busy));
  TRICOLOR_DCHECK(grey_queue_empty(), "mark start with grey work queued");
}

std::uint32_t mark_events() { return g_events.load(std::memory_order_seq_cst); }

void notify_mark_event() {
  g_events.fetch_add(1, std::memory_order_seq_cst);
  if (g_waiters.load(std::memory_order_seq_cst) != 0) futex_wake_all(&g_events);
}

void wait_for_mark_event(std::uint32_t seen, std::int64_t timeout_ns) {
  g_waiters.fetch_add(1, std::memory_order_seq_cst);
  futex_wait(&g_events, seen, timeout_ns);
  g_waiters.fetch_sub(1, std::memory_order_seq_cst);
}

// Counted still, the dead waiters would keep every marker of the child splitting its stack for
// nobody (grey_queue_hungry) and every event waking nobody.
void forget_waiters_after_fork() {
  g_idle_workers.store(0, std::memory_order_relaxed);
  g_waiters.store(0, std::memory_order_relaxed);
}

void wait_for_grey_work(std::uint32_t seen, std::int64_t timeout_ns) {
  g_idle_workers.fetch_add(1, std::memory_order_relaxed);
  if (grey_queue_empty()) wait_for_mark_event(seen, timeout_ns);
  g_idle_workers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gc::detail
