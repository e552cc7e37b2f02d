#include "gc/mark_queue.hpp"

#include <mutex>

#include "base/futex.hpp"
#include "base/mutex.hpp"

namespace gc::detail {

namespace {
Mutex g_queue_mutex{LockRank::kLeaf};  // taken inside critical sections, or by library threads
MarkChunk* g_head = nullptr;
std::atomic<std::size_t> g_chunks{0};
std::atomic<int> g_busy{0};
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

void marker_busy_begin() { g_busy.fetch_add(1, std::memory_order_seq_cst); }
void marker_busy_end() { g_busy.fetch_sub(1, std::memory_order_seq_cst); }

bool mark_quiescent() {
  const std::uint32_t before = g_events.load(std::memory_order_seq_cst);
  if (!grey_queue_empty()) return false;
  if (g_busy.load(std::memory_order_seq_cst) != 0) return false;
  return g_events.load(std::memory_order_seq_cst) == before;
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

void wait_for_grey_work(std::uint32_t seen, std::int64_t timeout_ns) {
  g_idle_workers.fetch_add(1, std::memory_order_relaxed);
  if (grey_queue_empty()) wait_for_mark_event(seen, timeout_ns);
  g_idle_workers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gc::detail
