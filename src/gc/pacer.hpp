// The pacer decides when the next cycle starts, and how much marking an allocating thread owes.
//
// The goal, Go's rule: after a cycle that found `heap_marked` bytes live, the heap may grow to
//     goal = heap_marked * (1 + GOGC / 100),  and at least kMinHeapGoal (4 MiB),
// before the next cycle must be done. GOGC=off with no limit never triggers.
//
// A memory limit lowers the goal to what fits under the limit (Go's memoryLimitHeapGoal). The
// limit counts everything the library holds ready for use (`ready`: the heap's retained pages,
// its bookkeeping, arena chunks; base/os_memory.hpp), the goal only heap objects, so the goal is
// the limit less what cannot hold objects:
//     non_heap = ready - heap_free - heap_alloc        (bookkeeping, free slots in spans, arenas)
//     overage  = max(ready - limit, 0)                 (to come back under a limit already crossed)
//     goal     = limit - non_heap - overage, less 3% (at least 1 MiB) of headroom for the slack
//                of pacing and span-granular counts,
// where heap_free is idle pages not released (they may hold objects again without more memory)
// and heap_alloc the bytes of allocated objects. The goal moves as these do, so it is computed
// when it is read, on every span a thread cache takes, as Go's is. It never goes below the live
// heap plus a sixteenth (at least 1 MiB), so an impossible limit degrades into a larger heap
// rather than back-to-back cycles.
//
// The trigger: marking runs while the program allocates, so a cycle must start before the goal,
// early enough that the mark ends as the heap reaches it. The runway is what the program allocates
// while the mark does its work: the last cycle's scan work times the bytes allocated per byte of
// scan work during its mark (Go's consMark, smoothed over cycles). The trigger is the goal minus
// the runway, kept between 50% (70%, as Go keeps it, when the memory limit sets the goal) and 95%
// of the way from the live heap to the goal; pacer.cpp says why.
// The counters compared are span-granular (heap_counters.hpp), so the check costs nothing on the
// allocation fast path: it runs when a thread cache takes a new span. Without a limit the trigger
// is computed once per cycle and the check is one comparison; with one, it follows the goal.
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

// What the memory limit's goal is computed from, in bytes (see above).
struct MemoryUse {
  std::int64_t ready = 0;       // what the limit counts
  std::int64_t heap_free = 0;   // idle heap pages, not released
  std::int64_t heap_alloc = 0;  // allocated objects, span-granular
};
// Reads the library's figures; the pacer of a component test is given its own.
using MemoryUseSource = MemoryUse (*)();

// What a cycle measured, for the next trigger and for GODEBUG=gcpacertrace=1.
struct MarkReport {
  std::int64_t heap_marked = 0;            // marked, plus what was allocated black
  std::int64_t scan_work = 0;              // bytes of heap objects, stacks and root slots scanned
  std::int64_t allocated_during_mark = 0;  // span-granular
  std::int64_t mark_ns = 0;                // wall time of the concurrent mark
  std::int64_t cpu_ns = 0;                 // collector CPU time of the cycle, idle marking out
  std::int64_t assist_cpu_ns = 0;
  std::int64_t background_cpu_ns = 0;
  std::int64_t heap_at_termination = 0;
  std::int64_t end_ns = 0;  // steady clock
};

class Pacer {
 public:
  // Without a source the pacer sees no memory in use: the limit's goal is the limit less headroom.
  explicit Pacer(MemoryUseSource memory_use = nullptr) : memory_use_(memory_use) {}

  void configure(int percent, std::int64_t memory_limit);
  // Mark start: the heap stood at `heap_live`.
  void begin_mark(std::int64_t heap_live);
  // Recomputes the goal and trigger after a cycle.
  void end_cycle(const MarkReport& report);

  bool should_trigger(std::int64_t heap_live) const {
    if (memory_limit_.load(std::memory_order_relaxed) == INT64_MAX) [[likely]]
      return heap_live >= percent_trigger_.load(std::memory_order_relaxed);
    const Goal g = current_goal();
    if (heap_live < trigger_for(g)) return false;
    return !g.limit_sets_it || !cpu_limited();
  }
  std::int64_t goal() const { return current_goal().bytes; }
  std::int64_t trigger() const { return trigger_for(current_goal()); }
  std::int64_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }
  // The goal the memory limit alone sets, given `use` (INT64_MAX without a limit).
  std::int64_t memory_limit_goal(const MemoryUse& use) const;
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
  struct Goal {
    std::int64_t bytes;
    bool limit_sets_it;
  };
  Goal current_goal() const;
  // The trigger for goal `g`, from the marked heap and the runway.
  std::int64_t trigger_for(Goal g) const;
  void recompute_locked();
  bool cpu_limited() const;

  MemoryUseSource memory_use_;
  std::mutex mutex_;
  std::atomic<int> percent_{100};
  std::atomic<std::int64_t> memory_limit_{INT64_MAX};
  std::atomic<std::int64_t> heap_marked_{0};
  std::atomic<std::int64_t> percent_goal_{kMinHeapGoal};             // GOGC's goal (INT64_MAX: off)
  std::atomic<std::int64_t> percent_trigger_{kMinHeapGoal / 8 * 7};  // trigger_for(percent_goal_)
  std::atomic<std::int64_t> runway_{0};
  std::atomic<std::int64_t> expected_scan_work_{0};  // the last cycle's scan work
  double cons_mark_ = 0;                             // guarded by mutex_
  std::atomic<std::int64_t> heap_at_mark_start_{0};
  std::atomic<std::int64_t> trigger_at_mark_start_{0};
  std::atomic<std::int64_t> earliest_limited_start_ns_{0};
  mutable std::atomic<bool> held_back_{false};  // since the last cycle ended
  std::atomic<std::uint64_t> limited_cycles_{0};
  MarkReport last_;             // guarded by mutex_
  std::int64_t last_goal_ = 0;  // the goal the last cycle ran against
};

Pacer& pacer();

}  // namespace gc::detail
