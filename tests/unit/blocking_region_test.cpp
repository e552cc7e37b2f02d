// Misuse of gc::blocking_region: a thread inside one counts as stopped, so it must not allocate,
// write or destroy a gc::ptr outside its stack, or collect. Doing so stops the program with one
// message that names gc::blocking_region, from the slow paths (the allocation fast path and a store
// with no mark in progress stay as they are, unchecked), rather than hanging or corrupting the
// heap.
#include <gtest/gtest.h>

#include <thread>

#include "../support/support.hpp"
#include "gc/test_hooks.hpp"

namespace {

using test::Tracked;

constexpr const char* kMessage =
    "tricolor: fatal error: .* inside a gc::blocking_region: the thread counts as stopped there";

struct Large {
  char bytes[64 * 1024] = {};
};

class BlockingRegionDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(BlockingRegionDeathTest, ALargeAllocationStops) {
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        gc::make<Large>();
      },
      std::string(kMessage));
}

TEST_F(BlockingRegionDeathTest, SmallAllocationsStopAtTheirSlowPath) {
  EXPECT_DEATH(
      {
        gc::make<Tracked>();  // the thread's first span of this class is taken outside the region
        gc::blocking_region waiting;
        // within 64 slots the fast path refills its cache word from the bitmap: the slow path
        for (int i = 0; i < 1000; ++i) gc::make<Tracked>(i);
      },
      std::string(kMessage));
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        for (int i = 0; i < 10000; ++i) gc::make<char>('x');  // tiny objects
      },
      std::string(kMessage));
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        gc::make<int[]>(100);
      },
      std::string(kMessage));
}

TEST_F(BlockingRegionDeathTest, MakingOrDestroyingARootStops) {
  EXPECT_DEATH(
      {
        gc::ptr<Tracked> object = gc::make<Tracked>();
        gc::blocking_region waiting;
        auto* root = new gc::ptr<Tracked>(object);  // a gc::ptr in malloc memory is a root
        (void)root;
      },
      std::string(kMessage));
  EXPECT_DEATH(
      {
        auto* root = new gc::ptr<Tracked>(gc::make<Tracked>());
        gc::blocking_region waiting;
        delete root;
      },
      std::string(kMessage));
}

// While a mark has stacks to scan, every store into the heap runs the barrier's slow path. Another
// thread starts the cycle: this one reaches no safepoint before its store, and the flag keeps it
// from scanning its stack as it leaves mark start's park, so its stack stays due (the starter
// scans its own on the way out of its wake of the mark workers).
TEST_F(BlockingRegionDeathTest, AStoreDuringAMarkStops) {
  EXPECT_DEATH(
      {
        gc::ptr<Tracked> a = gc::make<Tracked>(1);
        gc::ptr<Tracked> b = gc::make<Tracked>(2);
        gc::detail::g_barrier_test_flags.store(gc::detail::kTestNoEarlyScan);
        gc::detail::set_mark_hold(gc::detail::MarkHold::kAfterStart);
        std::thread([] { gc::detail::start_cycle_for_test(); }).join();
        gc::detail::wait_for_mark_hold(gc::detail::MarkHold::kAfterStart);
        gc::blocking_region waiting;
        a->next = b;
      },
      std::string(kMessage));
}

TEST_F(BlockingRegionDeathTest, CollectingOrReadingStatisticsStops) {
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        gc::collect();
      },
      "tricolor: fatal error: gc::collect\\(\\) inside a gc::blocking_region");
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        gc::free_os_memory();
      },
      "tricolor: fatal error: gc::free_os_memory\\(\\) inside a gc::blocking_region");
  EXPECT_DEATH(
      {
        gc::blocking_region waiting;
        gc::read_stats();
      },
      "tricolor: fatal error: gc::read_stats\\(\\) inside a gc::blocking_region");
}

TEST_F(BlockingRegionDeathTest, ARegionInsideARegionStops) {
  EXPECT_DEATH(
      {
        gc::blocking_region outer;
        gc::blocking_region inner;
      },
      "tricolor: fatal error: a gc::blocking_region inside a gc::blocking_region");
}

// What stays allowed: the stack, and everything once the region has ended.
TEST(BlockingRegion, StackHandlesAndEverythingAfterTheRegionWork) {
  gc::ptr<Tracked> a = gc::make<Tracked>(1);
  gc::ptr<Tracked> b;
  {
    gc::blocking_region waiting;
    b = a;  // a gc::ptr on the thread's own stack: no barrier, no registration
    gc::ptr<Tracked> c = b;
    EXPECT_EQ(c->id, 1);
  }
  auto* root = new gc::ptr<Tracked>(gc::make<Tracked>(2));
  gc::collect();
  EXPECT_TRUE(a->intact() && (*root)->intact());
  delete root;
  (void)gc::read_stats();
}

}  // namespace
