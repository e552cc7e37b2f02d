// ctest-env: GODEBUG=gccheckmark=1
// gc::weak: lock() gives the object while it lives and null once a cycle found it unreachable (at
// mark termination, before its span is swept); a lock() during a mark keeps the object alive.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../support/held_mark.hpp"
#include "../support/support.hpp"

namespace {

using test::Tracked;

gc::weak<Tracked> g_weak;
gc::ptr<Tracked> g_strong;

TEST(Weak, LockGivesTheObjectWhileItLivesAndNullAfter) {
  test::in_thread([] {
    g_strong = gc::make<Tracked>(1);
    g_weak = gc::weak<Tracked>(g_strong);
  });
  test::collect_clean();
  test::in_thread([] {
    EXPECT_FALSE(g_weak.expired());
    EXPECT_EQ(g_weak.lock(), g_strong);
    g_strong = nullptr;
  });
  test::collect_clean();
  EXPECT_TRUE(g_weak.expired());
  EXPECT_EQ(g_weak.lock(), nullptr);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

TEST(Weak, CopiesResetAndAnEmptyWeak) {
  gc::weak<Tracked> empty;
  EXPECT_TRUE(empty.expired());
  auto object = gc::make<Tracked>(2);
  gc::weak<Tracked> a(object);
  gc::weak<Tracked> b = a;
  gc::weak<Tracked> c = std::move(b);
  EXPECT_EQ(a.lock(), object);
  EXPECT_EQ(c.lock(), object);
  EXPECT_TRUE(b.expired());
  a.reset();
  EXPECT_TRUE(a.expired());
  EXPECT_EQ(c.lock(), object);
}

// After mark termination and before the sweep reaches the object's span, lock() already says null.
TEST(Weak, ClearedAtMarkTerminationNotAtTheSweep) {
  test::in_thread([] {
    g_strong = gc::make<Tracked>(3);
    g_weak = gc::weak<Tracked>(g_strong);
    g_strong = nullptr;
  });
  test::scrub_stack();
  gc::detail::run_cycle(gc::detail::CycleReason::kForced);  // no finish_sweeping
  EXPECT_EQ(g_weak.lock(), nullptr);
  gc::detail::finish_sweeping();
  EXPECT_EQ(g_weak.lock(), nullptr);
}

// The object is unreachable when the mark starts; a thread whose stack is already scanned locks it
// during the mark. Run also without the shade that lock() does, to show the case is reached.
void lock_during_marking(unsigned switched_off) {
  test::in_thread([] {
    auto object = gc::make<Tracked>(4);
    g_weak = gc::weak<Tracked>(object);
  });
  test::during_a_held_mark(gc::detail::MarkHold::kAfterRoots, switched_off, [&](auto wait) {
    gc::ptr<Tracked> locked = g_weak.lock();
    EXPECT_NE(locked, nullptr);
    wait();
    EXPECT_TRUE(switched_off != 0 || locked->intact());
  });
}

TEST(Weak, ALockDuringMarkingKeepsTheObjectAlive) {
  lock_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Weak, WithoutTheShadeInLockTheObjectIsLost) {
  lock_during_marking(gc::detail::kTestNoShadeNew);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

// Threads hold objects strongly for a while and weakly for longer, locking all the time while
// cycles run: every object a lock() returns is intact, and every weak ends up expired.
TEST(Weak, LocksRaceWithCyclesAndNeverSeeADeadObject) {
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  std::atomic<int> finished{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<gc::weak<Tracked>> weaks;
      std::vector<gc::ptr<Tracked>> strong;
      struct Garbage {
        char bytes[512];
      };
      for (int i = 0; i < 20000; ++i) {
        gc::make<Garbage>();  // 40 MiB in all: cycles run meanwhile
        auto object = gc::make<Tracked>(i);
        weaks.emplace_back(object);
        strong.push_back(object);
        if (strong.size() > 100) strong.erase(strong.begin());
        for (int k = 0; k < 4; ++k) {
          const auto& w = weaks[static_cast<std::size_t>(i * 7 + k * 13) % weaks.size()];
          if (auto p = w.lock(); p && !p->intact()) bad.fetch_add(1);
        }
        if (weaks.size() > 2000) weaks.erase(weaks.begin(), weaks.begin() + 1000);
      }
      finished.fetch_add(1);
    });
  }
  test::collect_while_threads_run(finished, 4);
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
  EXPECT_GT(gc::read_stats().num_gc, 2u);
}

}  // namespace
