// The pacer decides when the next cycle starts, and how much marking an allocating thread owes.
//
// The goal, Go's rule: after a cycle that found `heap_marked` bytes live, the heap may grow to
//     goal = heap_marked * (1 + GOGC / 100),  and at least kMinHeapGoal (4 MiB),
// before the next cycle must be done. A memory limit lowers the goal to what fits under the limit
// (never below the live heap plus a small headroom, so an impossible limit degrades into a larger
// heap rather than back-to-back cycles). GOGC=off with no limit never triggers.
//
// The trigger: marking runs while the program allocates, so a cycle must start before the goal,
// early enough that the mark ends as the heap reaches it. The runway is what the program allocates
// while the mark does its work: the last cycle's scan work times the bytes allocated per byte of
// scan work during its mark (Go's consMark, smoothed over cycles). The trigger is the goal minus
// the runway, kept between 70% and 95% of the way from the live heap to the goal, as Go keeps it.
// The counters compared are span-granular (heap_counters.hpp), so the check costs nothing on the
// allocation fast path: it runs when a thread cache takes a new span.
//
// Assists: during a mark, a thread that takes a new span owes scan work in proportion to its size
// (assist.hpp), at the rate that finishes the expected scan work by the time the heap reaches the
// goal: remaining scan work / remaining heap (Go's assistWorkPerByte).
//
// The CPU limiter (Go's gcCPULimiter, for the same reason): when the memory limit is what sets the
// goal, a live heap near the limit would make cycles follow each other back to back. A cycle whose
// goal the limit set does not start until the program has run, since the last cycle ended, for as
// long as the last cycle's CPU time divided over all cores: the collector then takes at most half
// the CPU, and the heap grows past the limit instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace gc::detail {

inline constexpr std::int64_t kMinHeapGoal = std::int64_t{4} << 20;

// What a cycle measured, for the next trigger and for GODEBUG=gcpacertrace=1.
struct MarkReport {
  std::int64_t heap_marked = 0;            // marked, plus what was allocated black
  std::int64_t scan_work = 0;              // bytes of heap objects, stacks and root slots scanned
  std::int64_t allocated_during_mark = 0;  // span-granular
  std::int64_t mark_ns = 0;                // wall time of the concurrent mark
  std::int64_t cpu_ns = 0;                 // collector CPU time of the whole cycle
  std::int64_t assist_cpu_ns = 0;
  std::int64_t background_cpu_ns = 0;
  std::int64_t heap_at_termination = 0;
  std::int64_t end_ns = 0;  // steady clock
};

class Pacer {
 public:
  void configure(int percent, std::int64_t memory_limit);
  // Mark start: the heap stood at `heap_live`.
  void begin_mark(std::int64_t heap_live);
  // Recomputes the goal and trigger after a cycle.
  void end_cycle(const MarkReport& report);

  bool should_trigger(std::int64_t heap_live) const {
    if (heap_live < trigger_.load(std::memory_order_relaxed)) [[likely]]
      return false;
    return !limit_sets_goal_.load(std::memory_order_relaxed) || !cpu_limited();
  }
  std::int64_t goal() const { return goal_.load(std::memory_order_relaxed); }
  std::int64_t trigger() const { return trigger_.load(std::memory_order_relaxed); }
  std::int64_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }
  // Scan work an allocation of one byte owes now, given the heap and the scan work done so far.
  double assist_work_per_byte(std::int64_t heap_live, std::int64_t scan_done) const;
  // Times a cycle was held back by the CPU limiter (counted once per cycle that ends).
  std::uint64_t limited_cycles() const { return limited_cycles_.load(std::memory_order_relaxed); }

  int set_percent(int percent);
  std::int64_t set_memory_limit(std::int64_t bytes);

  // GODEBUG=gcpacertrace=1: one line at mark start, one at the end of the cycle.
  void print_start_trace(int workers);
  void print_end_trace();

 private:
  void recompute_locked();
  bool cpu_limited() const;

  std::mutex mutex_;
  std::atomic<int> percent_{100};
  std::atomic<std::int64_t> memory_limit_{INT64_MAX};
  std::atomic<std::int64_t> heap_marked_{0};
  std::atomic<std::int64_t> goal_{kMinHeapGoal};
  std::atomic<std::int64_t> trigger_{kMinHeapGoal / 8 * 7};
  std::atomic<std::int64_t> expected_scan_work_{0};  // the last cycle's scan work
  double cons_mark_ = 0;                             // guarded by mutex_
  std::atomic<std::int64_t> heap_at_mark_start_{0};
  std::atomic<std::int64_t> trigger_at_mark_start_{0};
  std::atomic<bool> limit_sets_goal_{false};
  std::atomic<std::int64_t> earliest_limited_start_ns_{0};
  mutable std::atomic<bool> held_back_{false};  // since the last cycle ended
  std::atomic<std::uint64_t> limited_cycles_{0};
  MarkReport last_;             // guarded by mutex_
  std::int64_t last_goal_ = 0;  // the goal the last cycle ran against
};

Pacer& pacer();

}  // namespace gc::detail
