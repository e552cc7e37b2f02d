// The pacer alone (src/gc/pacer.hpp): its goal and trigger arithmetic, driven through a Pacer of
// the test's own with made-up cycle reports. No collection runs and the library's pacer() is
// untouched.
//
// The rules under test: goal = marked * (1 + GOGC/100), at least 4 MiB; a memory limit lowers the
// goal to the limit less what is not heap objects (ready - heap_free - heap_alloc), less what is
// over the limit, less 3% (at least 1 MiB) of headroom, but never below marked + max(marked/16,
// 1 MiB); the trigger is the goal minus 1.5 times the runway the last marks needed (allocation per
// byte of scan work, smoothed, times the scan work), kept between 50% (70% under a memory limit's
// goal) and 95% of the way from the marked heap to the goal; GOGC=off without a limit never
// triggers. A pacer built without a source of memory figures sees none in use. Reports end at
// steady-clock time 0 unless a test says otherwise, so the CPU limiter never holds a cycle back by
// accident.
#include "gc/pacer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

using gc::detail::kMinHeapGoal;
using gc::detail::MarkReport;
using gc::detail::MemoryUse;
using gc::detail::Pacer;

constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kNoLimit = INT64_MAX;

// `bytes` less the memory limit's headroom: 3%, at least 1 MiB.
std::int64_t less_headroom(std::int64_t bytes) {
  return bytes - std::max(bytes / 100 * 3, std::int64_t{1} << 20);
}

// The memory figures a pacer of these tests reads, and how often it read them.
MemoryUse g_use;
int g_use_reads = 0;
MemoryUse test_use() {
  ++g_use_reads;
  return g_use;
}

MarkReport marked(std::int64_t heap_marked, std::int64_t scan_work = 0,
                  std::int64_t allocated_during_mark = 0) {
  MarkReport r;
  r.heap_marked = heap_marked;
  r.scan_work = scan_work;
  r.allocated_during_mark = allocated_during_mark;
  return r;
}

// `fraction` of the way from `from` to `to`, truncated as the pacer truncates.
std::int64_t way(std::int64_t from, std::int64_t to, double fraction) {
  return from + static_cast<std::int64_t>(static_cast<double>(to - from) * fraction);
}

TEST(PacerComponent, GoalIsTheMarkedHeapTimesOnePlusGogc) {
  Pacer p;
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB));
  EXPECT_EQ(p.goal(), 200 * kMiB);
  EXPECT_EQ(p.set_percent(50), 100);
  EXPECT_EQ(p.goal(), 150 * kMiB);
  p.configure(300, kNoLimit);
  EXPECT_EQ(p.goal(), 400 * kMiB);
  p.configure(0, kNoLimit);
  EXPECT_EQ(p.goal(), 100 * kMiB);
}

TEST(PacerComponent, GoalIsExactForAnyMarkedHeapAndDoesNotOverflow) {
  Pacer p;
  p.configure(150, kNoLimit);
  p.end_cycle(marked(10'000'003));
  EXPECT_EQ(p.goal(), 10'000'003 + 15'000'004);  // 150% of it is 15,000,004.5
  // marked * GOGC would overflow 64 bits here.
  p.configure(100, kNoLimit);
  p.end_cycle(marked(std::int64_t{1} << 60));
  EXPECT_EQ(p.goal(), std::int64_t{1} << 61);
}

TEST(PacerComponent, GoalIsAtLeastFourMiB) {
  Pacer p;
  p.configure(100, kNoLimit);
  EXPECT_EQ(p.goal(), kMinHeapGoal);
  EXPECT_EQ(kMinHeapGoal, 4 * kMiB);
  p.end_cycle(marked(1 * kMiB));
  EXPECT_EQ(p.goal(), 4 * kMiB);  // not 2 MiB
  EXPECT_EQ(p.trigger(), way(1 * kMiB, 4 * kMiB, 0.95));
  p.end_cycle(marked(3 * kMiB));
  EXPECT_EQ(p.goal(), 6 * kMiB);
  p.configure(0, kNoLimit);
  p.end_cycle(marked(1 * kMiB));
  EXPECT_EQ(p.goal(), 4 * kMiB);
}

TEST(PacerComponent, WithoutARunwayTheTriggerIsNinetyFivePercentOfTheWayToTheGoal) {
  Pacer p;
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB));  // no scan work measured yet: no runway
  const std::int64_t trigger = way(100 * kMiB, 200 * kMiB, 0.95);
  EXPECT_EQ(p.trigger(), trigger);
  EXPECT_FALSE(p.should_trigger(trigger - 1));
  EXPECT_TRUE(p.should_trigger(trigger));
  EXPECT_TRUE(p.should_trigger(300 * kMiB));
}

TEST(PacerComponent, TheTriggerLeavesTheRunwayTheLastMarkNeeded) {
  Pacer p;
  p.configure(100, kNoLimit);
  // 10 MiB allocated during 80 MiB of scan work: 1/8 byte per byte; the runway is
  // 1.5 * 1/8 * 80 MiB = 15 MiB below the 200 MiB goal.
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));
  EXPECT_EQ(p.goal(), 200 * kMiB);
  EXPECT_EQ(p.trigger(), 185 * kMiB);
  EXPECT_FALSE(p.should_trigger(185 * kMiB - 1));
  EXPECT_TRUE(p.should_trigger(185 * kMiB));
}

TEST(PacerComponent, AllocationPerScanWorkIsSmoothedOverCycles) {
  Pacer p;
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));  // 0.125
  // 0.375 this time: the pacer uses (0.125 + 0.375) / 2 = 0.25, with this cycle's scan work:
  // 1.5 * 0.25 * 40 MiB = 15 MiB (unsmoothed it would be 22.5 MiB).
  p.end_cycle(marked(100 * kMiB, 40 * kMiB, 15 * kMiB));
  EXPECT_EQ(p.trigger(), 185 * kMiB);
  // A cycle that measured no scan work keeps the estimate.
  p.end_cycle(marked(100 * kMiB, 0, 50 * kMiB));
  EXPECT_EQ(p.trigger(), 185 * kMiB);
}

TEST(PacerComponent, TheTriggerStaysBetweenHalfAndNinetyFivePercentOfTheWay) {
  Pacer p;
  p.configure(100, kNoLimit);
  // A runway of 1.5 * 1 * 80 MiB = 120 MiB would put the trigger below the marked heap.
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 80 * kMiB));
  EXPECT_EQ(p.trigger(), way(100 * kMiB, 200 * kMiB, 0.5));
  // A runway of 1.5 * 24/80 * 80 MiB = 36 MiB: 64% of the way, inside the bounds (Go's lower bound,
  // 70%, would start this mark later and leave it short of room).
  Pacer inside;
  inside.configure(100, kNoLimit);
  inside.end_cycle(marked(100 * kMiB, 80 * kMiB, 24 * kMiB));
  EXPECT_EQ(inside.trigger(), 164 * kMiB);
  // A goal the memory limit sets keeps Go's lower bound: 70% of the way.
  inside.set_memory_limit(150 * kMiB);
  inside.end_cycle(marked(100 * kMiB, 80 * kMiB, 24 * kMiB));
  EXPECT_EQ(inside.trigger(), way(100 * kMiB, less_headroom(150 * kMiB), 0.7));
  // A runway of 1.5 * (1 + 0) / 2 * 1 B: next to nothing, so the upper bound.
  p.end_cycle(marked(100 * kMiB, 1, 0));
  EXPECT_EQ(p.trigger(), way(100 * kMiB, 200 * kMiB, 0.95));
}

TEST(PacerComponent, BeginMarkMovesNeitherGoalNorTrigger) {
  Pacer p;
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));
  p.begin_mark(190 * kMiB);
  EXPECT_EQ(p.goal(), 200 * kMiB);
  EXPECT_EQ(p.trigger(), 185 * kMiB);
  // It records the heap at mark start for the gcpacertrace line.
  testing::internal::CaptureStderr();
  p.print_start_trace(1);
  const std::string line = testing::internal::GetCapturedStderr();
  EXPECT_NE(line.find("(scan 80 MB in 190->200 MB)"), std::string::npos) << line;
}

TEST(PacerComponent, AssistWorkIsTheRemainingScanWorkOverTheRemainingHeap) {
  Pacer p;
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));
  EXPECT_DOUBLE_EQ(p.assist_work_per_byte(150 * kMiB, 40 * kMiB), 0.8);  // 40 MiB / 50 MiB
  // At least a tenth of the expected work is assumed left; past the goal, 64 KiB of heap is.
  EXPECT_DOUBLE_EQ(p.assist_work_per_byte(150 * kMiB, 79 * kMiB), 8.0 / 50);
  EXPECT_DOUBLE_EQ(p.assist_work_per_byte(250 * kMiB, 0), 80.0 * 16);
}

TEST(PacerComponent, AMemoryLimitLowersTheGoal) {
  Pacer p;
  p.configure(100, 150 * kMiB);
  p.end_cycle(marked(100 * kMiB));
  EXPECT_EQ(p.goal(), less_headroom(150 * kMiB));  // 145.5 MiB
  EXPECT_EQ(p.trigger(), way(100 * kMiB, less_headroom(150 * kMiB), 0.95));
  // A limit above the GOGC goal changes nothing.
  EXPECT_EQ(p.set_memory_limit(300 * kMiB), 150 * kMiB);
  EXPECT_EQ(p.goal(), 200 * kMiB);
  // A negative limit is a query.
  EXPECT_EQ(p.set_memory_limit(-1), 300 * kMiB);
  EXPECT_EQ(p.memory_limit(), 300 * kMiB);
  EXPECT_EQ(p.goal(), 200 * kMiB);
}

TEST(PacerComponent, AMemoryLimitNeverPutsTheGoalBelowTheLiveHeapPlusASixteenth) {
  Pacer p;
  p.configure(100, 100 * kMiB);
  p.end_cycle(marked(160 * kMiB));
  EXPECT_EQ(p.goal(), 170 * kMiB);  // 160 MiB + 160/16 MiB, not 100 MiB
  EXPECT_EQ(p.trigger(), way(160 * kMiB, 170 * kMiB, 0.95));
  // The headroom is at least 1 MiB.
  p.set_memory_limit(1);
  p.end_cycle(marked(8 * kMiB));
  EXPECT_EQ(p.goal(), 9 * kMiB);
}

TEST(PacerComponent, AMemoryLimitMayPutTheGoalBelowFourMiB) {
  // The 4 MiB minimum is part of the GOGC goal; a limit lowers whatever goal it finds (as Go's).
  Pacer p;
  p.configure(100, 3 * kMiB);
  p.end_cycle(marked(0));
  EXPECT_EQ(p.goal(), 2 * kMiB);  // less the headroom's minimum of 1 MiB
}

// A pacer that reads g_use, with GOGC=off, a 256 MiB limit and 100 MiB marked.
class PacerWithMemoryInUse : public testing::Test {
 protected:
  void SetUp() override {
    p.configure(-1, 256 * kMiB);
    p.end_cycle(marked(100 * kMiB));
  }
  void TearDown() override { g_use = {}; }
  Pacer p{&test_use};
};

TEST_F(PacerWithMemoryInUse, TheLimitsGoalLeavesOutWhatCannotHoldObjects) {
  // 200 MiB ready, of which 150 MiB objects and 20 MiB idle pages: 30 MiB of bookkeeping, arena
  // chunks and free slots, which the heap cannot grow into.
  g_use = {200 * kMiB, 20 * kMiB, 150 * kMiB};
  EXPECT_EQ(p.goal(), less_headroom(226 * kMiB));
  EXPECT_EQ(p.memory_limit_goal(g_use), less_headroom(226 * kMiB));
  EXPECT_EQ(p.trigger(), way(100 * kMiB, less_headroom(226 * kMiB), 0.95));
  // Idle pages are room for objects: releasing them moves nothing.
  g_use = {180 * kMiB, 0, 150 * kMiB};
  EXPECT_EQ(p.goal(), less_headroom(226 * kMiB));
}

TEST_F(PacerWithMemoryInUse, TheLimitsGoalFollowsTheMemoryInUseWithoutACycle) {
  p.set_percent(100);
  g_use = {120 * kMiB, 0, 100 * kMiB};  // 20 MiB outside the objects: GOGC's 200 MiB is lower
  EXPECT_EQ(p.goal(), 200 * kMiB);
  const std::int64_t percent_trigger = p.trigger();
  EXPECT_FALSE(p.should_trigger(percent_trigger - 1));
  // The bookkeeping grows to 80 MiB: the limit's goal, 176 MiB less headroom, is now the lower.
  g_use = {180 * kMiB, 0, 100 * kMiB};
  EXPECT_EQ(p.goal(), less_headroom(176 * kMiB));
  const std::int64_t trigger = way(100 * kMiB, less_headroom(176 * kMiB), 0.95);
  EXPECT_EQ(p.trigger(), trigger);
  EXPECT_FALSE(p.should_trigger(trigger - 1));
  EXPECT_TRUE(p.should_trigger(trigger));
}

TEST_F(PacerWithMemoryInUse, OverTheLimitTheOverageComesOffTheGoal) {
  // 300 MiB ready: 50 MiB outside the objects, and 44 MiB over the limit.
  g_use = {300 * kMiB, 0, 250 * kMiB};
  EXPECT_EQ(p.goal(), less_headroom(162 * kMiB));
  // More than the limit outside the objects: the floor above the live heap.
  g_use = {400 * kMiB, 0, 100 * kMiB};
  EXPECT_EQ(p.goal(), 100 * kMiB + 100 * kMiB / 16);
}

TEST_F(PacerWithMemoryInUse, FiguresThatDisagreeForAMomentCountNothingOutsideTheObjects) {
  // A sweep between two reads: the objects and idle pages add up to more than was ready.
  g_use = {200 * kMiB, 60 * kMiB, 150 * kMiB};
  EXPECT_EQ(p.goal(), less_headroom(256 * kMiB));
}

TEST(PacerComponent, WithoutALimitTheMemoryFiguresAreNeverRead) {
  Pacer p(&test_use);
  p.configure(100, kNoLimit);
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));
  g_use_reads = 0;
  EXPECT_EQ(p.goal(), 200 * kMiB);
  EXPECT_EQ(p.trigger(), 185 * kMiB);
  EXPECT_TRUE(p.should_trigger(185 * kMiB));
  EXPECT_DOUBLE_EQ(p.assist_work_per_byte(150 * kMiB, 40 * kMiB), 0.8);
  EXPECT_EQ(g_use_reads, 0);
}

TEST(PacerComponent, GogcOffNeverTriggers) {
  Pacer p;
  p.configure(-1, kNoLimit);
  EXPECT_EQ(p.goal(), INT64_MAX);
  EXPECT_EQ(p.trigger(), INT64_MAX);
  p.end_cycle(marked(100 * kMiB, 80 * kMiB, 10 * kMiB));
  EXPECT_EQ(p.goal(), INT64_MAX);
  EXPECT_EQ(p.trigger(), INT64_MAX);
  EXPECT_FALSE(p.should_trigger(std::int64_t{1} << 50));
  EXPECT_EQ(p.assist_work_per_byte(std::int64_t{1} << 40, 0), 0);
  // Any negative GOGC is off, and set_percent says what it was.
  p.configure(100, kNoLimit);
  EXPECT_EQ(p.set_percent(-7), 100);
  EXPECT_EQ(p.goal(), INT64_MAX);
  EXPECT_EQ(p.set_percent(100), -1);
  EXPECT_EQ(p.goal(), 200 * kMiB);
}

TEST(PacerComponent, GogcOffWithAMemoryLimitPacesToTheLimit) {
  Pacer p;
  p.configure(-1, 64 * kMiB);
  p.end_cycle(marked(10 * kMiB));
  EXPECT_EQ(p.goal(), less_headroom(64 * kMiB));
  EXPECT_EQ(p.trigger(), way(10 * kMiB, less_headroom(64 * kMiB), 0.95));
  EXPECT_TRUE(p.should_trigger(64 * kMiB));
}

TEST(PacerComponent, TheCpuLimiterHoldsBackOnlyACycleWhoseGoalTheLimitSets) {
  Pacer p;
  p.configure(100, 150 * kMiB);
  MarkReport r = marked(100 * kMiB);
  r.end_ns = INT64_MAX / 2;  // the last cycle "ended" in the far future: the limiter holds back
  p.end_cycle(r);
  EXPECT_FALSE(p.should_trigger(std::int64_t{1} << 40));
  EXPECT_EQ(p.limited_cycles(), 0u);  // counted when the next cycle ends
  p.end_cycle(marked(100 * kMiB));    // ended at time 0: nothing to wait for
  EXPECT_EQ(p.limited_cycles(), 1u);
  EXPECT_TRUE(p.should_trigger(p.trigger()));
  p.end_cycle(marked(100 * kMiB));
  EXPECT_EQ(p.limited_cycles(), 1u);
  // When GOGC sets the goal the limiter does not apply.
  p.set_memory_limit(kNoLimit);
  p.end_cycle(r);
  EXPECT_TRUE(p.should_trigger(p.trigger()));
}

}  // namespace
