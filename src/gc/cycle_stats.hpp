// The accounting of cycles: what each cycle's pauses, CPU and heap sizes were, for the pacer's
// report, the gctrace line and gc::read_stats().
//
// The cycle (cycle.cpp) calls it at fixed points: begin() at mark start, record_pause() for every
// stop of the world of the cycle (mark start, each termination attempt), end() at mark
// termination, which fills the pacer's MarkReport and the cycle's CycleTrace and adds the cycle to
// the totals. Everything here runs under the cycle lock, and begin() and end() with the world
// stopped, so nothing else is needed to guard it.
#pragma once

#include <array>
#include <cstdint>

#include "gc/pacer.hpp"
#include "gc/trace.hpp"

namespace gc::detail {

// kFollowUp: the second cycle of one gc::collect(), which frees the slots whose destructors ran
// during the first; pools are not rotated for it, so one collect() empties no pool by itself.
enum class CycleReason { kHeap, kForced, kFollowUp, kOutOfMemory };

struct CycleTotals {
  std::uint64_t num_gc = 0;
  std::uint64_t num_forced_gc = 0;
  std::uint64_t pause_total_ns = 0;
  std::uint64_t pause_max_ns = 0;
  std::uint64_t last_gc_unix_ns = 0;
  std::array<std::uint64_t, 256> pause_ns{};
  double gc_cpu_fraction = 0;
  std::uint64_t pause_cpu_ns = 0;
  std::uint64_t assist_cpu_ns = 0;
  std::uint64_t background_cpu_ns = 0;
  std::uint64_t idle_cpu_ns = 0;
  std::uint64_t total_cpu_ns = 0;
  std::array<std::uint64_t, 32> pause_histogram{};  // each stop: [2^i, 2^(i+1)) ns
  CycleTrace last;                                  // the last completed cycle's trace
};

// What the mark measured, read at termination.
struct MarkEnd {
  std::int64_t pause_start_ns = 0;  // the termination pause began
  std::int64_t end_ns = 0;          // and ended
  std::int64_t marked = 0;          // bytes the mark shaded
  std::int64_t live_now = 0;        // heap_live at termination
  std::int64_t allocated_black = 0;
  std::int64_t scan_work = 0;  // heap bytes scanned
  std::int64_t stack_bytes = 0;
  std::uint64_t roots = 0;
  std::int64_t assist_cpu_ns = 0;
  std::int64_t background_cpu_ns = 0;
  std::int64_t idle_cpu_ns = 0;       // threads that marked while waiting for the mark to end
  std::uint32_t marking_threads = 0;  // g_mark.marking_threads
};

class CycleStats {
 public:
  // Mark start, world stopped. `start_ns`: when sweep termination began.
  void begin(CycleReason reason, std::int64_t start_ns, std::uint32_t threads,
             std::uint32_t signalled, std::int64_t heap_start, std::int64_t goal);
  // Mark start, after the spans were prepared: the heap the mark starts from.
  void set_start_heap(std::int64_t live, std::int64_t unused_cached);
  std::int64_t live_at_start() const { return cycle_.live_at_start; }
  std::int64_t unused_at_start() const { return cycle_.unused_at_start; }
  CycleReason reason() const { return cycle_.reason; }

  // A stop of the world of this cycle. The first is mark start's: the concurrent mark begins when
  // it ends (`mark_started`). Under gcstoptheworld the whole mark is in that pause (`in_pause`).
  void record_pause(std::int64_t ns);
  void record_mark_start_pause(std::int64_t start_ns, std::int64_t end_ns);
  void record_whole_mark_pause(std::int64_t ns);

  // Mark termination, world stopped: the cycle's totals, and the pacer's report.
  MarkReport end(const MarkEnd& mark);
  // The gctrace line's numbers, complete once end() has run.
  const CycleTrace& trace() const { return cycle_.trace; }

  // The totals so far, with the collector's share of the CPU since the library started.
  CycleTotals totals() const;

 private:
  struct InProgress {
    CycleReason reason = CycleReason::kHeap;
    CycleTrace trace;
    std::int64_t start_ns = 0;       // sweep termination began
    std::int64_t mark_start_ns = 0;  // the world restarted after mark start
    std::int64_t first_pause_ns = 0;
    std::int64_t pauses_ns = 0;  // both pauses, and any failed termination attempts
    std::int64_t longest_pause_ns = 0;
    std::int64_t live_at_start = 0;    // heap_live at mark start
    std::int64_t unused_at_start = 0;  // bytes of cached spans not yet handed out then
  };
  InProgress cycle_;
  CycleTotals totals_;
  std::int64_t gc_cpu_ns_ = 0;  // collector CPU time; a stopped world costs every core
};

// The cycles' accounting, guarded by the cycle lock.
CycleStats& cycle_stats();

// When the library started (steady ns): the origin of gctrace's @time and of the CPU share. Read
// first by ensure_runtime(), so that it is the library's start whatever global runs first.
std::int64_t library_start_ns();

}  // namespace gc::detail
