// The per-thread account of time spent in the collector (src/base/thread_gc_time.hpp), alone:
// scopes charge their kind, nested scopes charge only the innermost, a read inside an open scope
// includes it, and threads keep separate accounts. No test asserts how long anything took: each
// checks a relation that holds however slow the machine is (a nested scope's time is not counted
// twice, so the kinds never add up to more than the time that passed).
#include "base/thread_gc_time.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using gc::detail::GcTimeKind;
using gc::detail::GcTimeTotals;
using gc::detail::now_ns;
using gc::detail::read_thread_gc_time;
using gc::detail::ThreadGcTimeScope;

std::int64_t of(const GcTimeTotals& t, GcTimeKind kind) {
  return t[static_cast<std::size_t>(kind)];
}

std::int64_t sum(const GcTimeTotals& t) {
  std::int64_t total = 0;
  for (std::int64_t ns : t) total += ns;
  return total;
}

GcTimeTotals minus(const GcTimeTotals& a, const GcTimeTotals& b) {
  GcTimeTotals d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

void wait_ns(std::int64_t ns) {
  const std::int64_t until = now_ns() + ns;
  while (now_ns() < until) {
  }
}

TEST(ThreadGcTime, AScopeChargesItsKindAtLeastTheTimeItWasOpen) {
  const GcTimeTotals before = read_thread_gc_time();
  {
    ThreadGcTimeScope timed(GcTimeKind::kSweep);
    wait_ns(200'000);
  }
  const GcTimeTotals d = minus(read_thread_gc_time(), before);
  EXPECT_GE(of(d, GcTimeKind::kSweep), 200'000);
  EXPECT_EQ(sum(d), of(d, GcTimeKind::kSweep));
}

TEST(ThreadGcTime, NestedScopesChargeOnlyTheInnermostAndNeverCountTwice) {
  const GcTimeTotals before = read_thread_gc_time();
  const std::int64_t start = now_ns();
  {
    ThreadGcTimeScope outer(GcTimeKind::kSpan);
    wait_ns(100'000);
    {
      ThreadGcTimeScope inner(GcTimeKind::kLockWait);
      wait_ns(300'000);
    }
    wait_ns(100'000);
  }
  const std::int64_t elapsed = now_ns() - start;
  const GcTimeTotals d = minus(read_thread_gc_time(), before);
  EXPECT_GE(of(d, GcTimeKind::kLockWait), 300'000);
  EXPECT_GE(of(d, GcTimeKind::kSpan), 200'000);
  // Counted once: an outer scope that kept its clock running through the inner one would make the
  // two add up to the elapsed time plus the inner one's.
  EXPECT_LE(of(d, GcTimeKind::kSpan) + of(d, GcTimeKind::kLockWait), elapsed);
}

TEST(ThreadGcTime, AReadInsideAnOpenScopeIncludesItSoFar) {
  const GcTimeTotals before = read_thread_gc_time();
  ThreadGcTimeScope timed(GcTimeKind::kAssist);
  wait_ns(100'000);
  const GcTimeTotals d = minus(read_thread_gc_time(), before);
  EXPECT_GE(of(d, GcTimeKind::kAssist), 100'000);
}

TEST(ThreadGcTime, EachThreadHasItsOwnAccount) {
  const GcTimeTotals before = read_thread_gc_time();
  std::thread([] {
    ThreadGcTimeScope timed(GcTimeKind::kBarrier);
    wait_ns(100'000);
  }).join();
  EXPECT_EQ(of(minus(read_thread_gc_time(), before), GcTimeKind::kBarrier), 0);
}

}  // namespace
