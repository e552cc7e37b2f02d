// The pacer decides when the next cycle starts.
//
// Go's rule: after a cycle that found `heap_marked` bytes live, the heap may grow to the goal
//     goal = heap_marked * (1 + GOGC / 100),  and at least kMinHeapGoal (4 MiB),
// before the next cycle must be done. A memory limit lowers the goal to what fits under the limit
// (never below the live heap plus a small headroom, so an impossible limit degrades into a larger
// heap rather than back-to-back cycles). GOGC=off with no limit never triggers.
//
// While marking stops the world, a cycle starts when the live heap reaches the goal itself.
// The counters compared are span-granular (heap_counters.hpp), so the check costs nothing on the
// allocation fast path: it runs when a thread cache takes a new span.
//
// The CPU limiter (Go's gcCPULimiter, for the same reason): when the memory limit is what sets the
// goal, a live heap near the limit would make cycles follow each other back to back. A cycle whose
// goal the limit set therefore does not start until the program has run, since the last cycle
// ended, at least as long as that cycle's pause: with every core stopped during a pause, the
// collector then takes at most half the CPU, and the heap grows past the limit instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace gc::detail {

inline constexpr std::int64_t kMinHeapGoal = std::int64_t{4} << 20;

class Pacer {
 public:
  void configure(int percent, std::int64_t memory_limit);
  // Recomputes the goal after a cycle that marked `heap_marked` bytes, paused the world for
  // `pause_ns` and ended at `end_ns` (steady clock).
  void end_cycle(std::int64_t heap_marked, std::int64_t pause_ns, std::int64_t end_ns);

  bool should_trigger(std::int64_t heap_live) const {
    if (heap_live < trigger_.load(std::memory_order_relaxed)) [[likely]]
      return false;
    return !limit_sets_goal_.load(std::memory_order_relaxed) || !cpu_limited();
  }
  std::int64_t goal() const { return goal_.load(std::memory_order_relaxed); }
  std::int64_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }
  // Times a cycle was held back by the CPU limiter (counted once per cycle that ends).
  std::uint64_t limited_cycles() const { return limited_cycles_.load(std::memory_order_relaxed); }

  int set_percent(int percent);
  std::int64_t set_memory_limit(std::int64_t bytes);

 private:
  void recompute_locked();
  bool cpu_limited() const;

  std::mutex mutex_;
  std::atomic<int> percent_{100};
  std::atomic<std::int64_t> memory_limit_{INT64_MAX};
  std::atomic<std::int64_t> heap_marked_{0};
  std::atomic<std::int64_t> goal_{kMinHeapGoal};
  std::atomic<std::int64_t> trigger_{kMinHeapGoal};
  std::atomic<bool> limit_sets_goal_{false};
  std::atomic<std::int64_t> earliest_limited_start_ns_{0};
  mutable std::atomic<bool> held_back_{false};  // since the last cycle ended
  std::atomic<std::uint64_t> limited_cycles_{0};
};

Pacer& pacer();

}  // namespace gc::detail
