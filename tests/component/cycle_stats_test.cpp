// The accounting of one cycle (src/gc/cycle_stats.hpp), alone, on a CycleStats of the test's own:
// what the pacer's report counts as the collector's CPU time. Idle marking (a blocking collect()'s
// caller and idle workers, the spare-CPU workers) ran on CPUs no thread wanted: the totals and the
// gctrace line count it, and the CPU limiter's figure, report.cpu_ns, does not, as Go's limiter
// counts idle mark time as idle.
#include "gc/cycle_stats.hpp"

#include <gtest/gtest.h>

#include "base/cpus.hpp"

namespace {

using gc::detail::CycleReason;
using gc::detail::CycleStats;
using gc::detail::MarkEnd;

TEST(CycleStats, TheLimitersCpuTimeLeavesIdleMarkingOut) {
  CycleStats stats;
  stats.begin(CycleReason::kHeap, 0, 1, 0, 0, 4 << 20);
  stats.record_mark_start_pause(1'000, 2'000);  // a 1 us stop at mark start
  MarkEnd mark;
  mark.pause_start_ns = 10'000'000;
  mark.end_ns = 10'003'000;  // a 3 us stop at termination
  mark.assist_cpu_ns = 100'000;
  mark.background_cpu_ns = 2'000'000;
  mark.idle_cpu_ns = 5'000'000;
  const auto report = stats.end(mark);
  const std::int64_t pauses = (1'000 + 3'000) * gc::detail::cpu_count();
  EXPECT_EQ(report.cpu_ns, pauses + 100'000 + 2'000'000);
  EXPECT_EQ(stats.trace().idle_cpu_ns, 5'000'000);
  EXPECT_EQ(stats.totals().idle_cpu_ns, 5'000'000u);
  EXPECT_EQ(stats.totals().total_cpu_ns,
            static_cast<std::uint64_t>(pauses + 100'000 + 2'000'000 + 5'000'000));
}

}  // namespace
