// Threads on stacks of the program's own making (tricolor/fiber.hpp): suspended fibers and the
// suspended stack of a thread running a fiber keep their objects through collections, a fiber can
// move between threads, switches during concurrent marks lose nothing, and a switch the library
// was not told of stops the program with a message instead of a crash or a lost object.
// ctest-env: GODEBUG=gccheckmark=1
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/support.hpp"
#include "../support/test_fiber.hpp"
#include "gc/root_set.hpp"

namespace {

using test::churn;
using test::collect_and_reuse;
using test::Tracked;

TEST(Fibers, SuspendedStacksKeepTheirObjects) {
  bool fiber_ok = false, thread_ok = false;
  test::in_thread([&] {
    Tracked* mine =
        test::make_raw_chain(1000);  // on the thread's own stack, suspended while the fiber runs
    test::Fiber fiber([&](test::Fiber& self) {
      Tracked* held =
          test::make_raw_chain(1000);  // on the fiber's stack, suspended while the thread runs
      self.yield();
      collect_and_reuse(4);  // now the thread's own stack is the suspended one
      fiber_ok = test::chain_intact(held, 1000);
    });
    fiber.resume();
    collect_and_reuse(4);
    fiber.resume();
    EXPECT_TRUE(fiber.done());
    thread_ok = test::chain_intact(mine, 1000);
  });
  EXPECT_TRUE(fiber_ok);
  EXPECT_TRUE(thread_ok);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

TEST(Fibers, AFiberMovesBetweenThreads) {
  bool ok = false;
  test::Fiber* moving = nullptr;
  test::in_thread([&] {
    moving = new test::Fiber([&](test::Fiber& self) {
      Tracked* held = test::make_raw_chain(500);
      self.yield();  // resumed by the second thread
      collect_and_reuse(2);
      ok = test::chain_intact(held, 500);
    });
    moving->resume();
  });
  collect_and_reuse(3);  // the first thread is gone; the fiber is suspended
  test::in_thread([&] { moving->resume(); });
  EXPECT_TRUE(moving->done());
  EXPECT_TRUE(ok);
  delete moving;
}

// Threads ping-pong between their own stack and two fibers each, allocating and checking their
// lists, while the main thread collects: switches land before, during and after each mark's stack
// scans, and gccheckmark verifies every mark.
TEST(Fibers, SwitchesDuringConcurrentMarksLoseNothing) {
  constexpr int kThreads = 3;
  constexpr int kCollections = 20;
  std::atomic<int> bad{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Tracked* own = test::make_raw_chain(200);
      auto body = [&](test::Fiber& self) {
        Tracked* held = test::make_raw_chain(200);
        for (;;) {
          churn(64 << 10);
          if (!test::chain_intact(held, 200)) bad.fetch_add(1);
          self.yield();
          if (done.load()) break;
        }
        if (!test::chain_intact(held, 200)) bad.fetch_add(1);
      };
      test::Fiber a(body, 128 * 1024), b(body, 128 * 1024);
      while (!a.done() || !b.done()) {
        if (!a.done()) a.resume();
        if (!b.done()) b.resume();
        if (!test::chain_intact(own, 200)) bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < kCollections; ++i) {
    gc::collect();
    std::this_thread::yield();
  }
  done.store(true);  // the fibers finish their round and return
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// A gc::ptr on a fiber's stack is a stack slot, never a root: the root set does not grow.
TEST(Fibers, AGcPtrOnAFiberStackIsNotARoot) {
  test::in_thread([] {
    test::Fiber fiber([](test::Fiber& self) {
      gc::ptr<Tracked> local = gc::make<Tracked>(1);
      self.yield();
      EXPECT_TRUE(local->intact());
    });
    const auto before = gc::detail::root_count();
    fiber.resume();
    EXPECT_EQ(gc::detail::root_count(), before);
    collect_and_reuse(1);
    fiber.resume();
  });
}

// Threadsafe death tests: the child runs the test afresh, so it never inherits the library's
// threads from a parent that forked while they ran.
class FiberDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(FiberDeathTest, MisuseStopsWithAMessage) {
  EXPECT_THROW(gc::fiber(nullptr, 4096), std::invalid_argument);
  char on_my_stack[4096];
  gc::collect();  // registers this thread: its stack is known
  EXPECT_THROW(gc::fiber(on_my_stack, sizeof on_my_stack), std::invalid_argument);
  EXPECT_DEATH(gc::finish_switch_fiber(), "gc::finish_switch_fiber with no gc::start_switch_fiber");
  EXPECT_DEATH({ gc::start_switch_fiber(nullptr); }, "to the stack the thread already runs on");
  EXPECT_DEATH(
      {
        test::Fiber fiber([](test::Fiber&) {
          gc::fiber other(std::malloc(65536), 65536);
          gc::start_switch_fiber(&other);
          gc::start_switch_fiber(&other);
        });
        fiber.resume();
      },
      "gc::start_switch_fiber twice");
  EXPECT_DEATH(
      {
        auto* claimed = new gc::fiber(std::malloc(65536), 65536);
        gc::start_switch_fiber(claimed);  // the thread runs on it from here, as far as gc knows
        delete claimed;
      },
      "destroyed while thread");
}

// A fiber the library was not told of: a collection there stops the program with a message that
// names the problem, where it used to scan the wrong range (and crash, or free live objects).
TEST_F(FiberDeathTest, AnUnannouncedSwitchStopsWithAMessage) {
  EXPECT_DEATH(
      {
        test::Fiber fiber(
            [](test::Fiber&) {
              for (;;) {
                churn(1 << 20);
                gc::collect();
              }
            },
            256 * 1024, /*announce=*/false);
        fiber.resume();
      },
      "runs on a stack the collector was not told of");
}

}  // namespace
