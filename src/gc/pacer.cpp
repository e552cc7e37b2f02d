#include "gc/pacer.hpp"

#include <algorithm>
#include <chrono>

namespace gc::detail {

Pacer& pacer() {
  static Pacer* p = new Pacer;
  return *p;
}

void Pacer::configure(int percent, std::int64_t memory_limit) {
  std::lock_guard lock(mutex_);
  percent_.store(percent, std::memory_order_relaxed);
  memory_limit_.store(memory_limit, std::memory_order_relaxed);
  recompute_locked();
}

void Pacer::end_cycle(std::int64_t heap_marked, std::int64_t pause_ns, std::int64_t end_ns) {
  std::lock_guard lock(mutex_);
  heap_marked_.store(heap_marked, std::memory_order_relaxed);
  earliest_limited_start_ns_.store(end_ns + pause_ns, std::memory_order_relaxed);
  if (held_back_.exchange(false, std::memory_order_relaxed))
    limited_cycles_.fetch_add(1, std::memory_order_relaxed);
  recompute_locked();
}

bool Pacer::cpu_limited() const {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  if (now >= earliest_limited_start_ns_.load(std::memory_order_relaxed)) return false;
  held_back_.store(true, std::memory_order_relaxed);
  return true;
}

void Pacer::recompute_locked() {
  const std::int64_t marked = heap_marked_.load(std::memory_order_relaxed);
  const int percent = percent_.load(std::memory_order_relaxed);
  const std::int64_t limit = memory_limit_.load(std::memory_order_relaxed);
  std::int64_t goal = INT64_MAX;
  if (percent >= 0) {
    const std::int64_t growth = marked / 100 * percent + marked % 100 * percent / 100;
    goal = std::max(marked + growth, kMinHeapGoal);
  }
  bool limit_sets_goal = false;
  if (limit != INT64_MAX) {
    // Leave a sixteenth of headroom above the live heap, so a limit below it cannot livelock.
    const std::int64_t floor = marked + std::max<std::int64_t>(marked / 16, 1 << 20);
    const std::int64_t limit_goal = std::max(limit, floor);
    limit_sets_goal = limit_goal < goal;
    goal = std::min(goal, limit_goal);
  }
  limit_sets_goal_.store(limit_sets_goal, std::memory_order_relaxed);
  goal_.store(goal, std::memory_order_relaxed);
  trigger_.store(goal, std::memory_order_relaxed);
}

int Pacer::set_percent(int percent) {
  std::lock_guard lock(mutex_);
  const int previous = percent_.exchange(percent < 0 ? -1 : percent, std::memory_order_relaxed);
  recompute_locked();
  return previous;
}

std::int64_t Pacer::set_memory_limit(std::int64_t bytes) {
  std::lock_guard lock(mutex_);
  const std::int64_t previous = memory_limit_.load(std::memory_order_relaxed);
  if (bytes >= 0) {
    memory_limit_.store(bytes, std::memory_order_relaxed);
    recompute_locked();
  }
  return previous;
}

}  // namespace gc::detail
