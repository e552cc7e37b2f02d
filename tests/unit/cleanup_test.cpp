// ctest-env: GODEBUG=gccheckmark=1
// gc::add_cleanup: a cleanup runs once, on the cleanup thread, after its object became unreachable
// and never before; several per object; what it captures stays alive until it has run; a throwing
// cleanup is reported and the next one still runs.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/support.hpp"

namespace {

using test::Tracked;

gc::ptr<Tracked> g_object;

TEST(Cleanup, RunsOnceAfterTheObjectIsUnreachable) {
  std::atomic<int> ran{0};
  test::in_thread([&] {
    g_object = gc::make<Tracked>(1);
    gc::add_cleanup(g_object, [&] { ran.fetch_add(1); });
  });
  test::collect_clean();
  EXPECT_EQ(ran.load(), 0);                     // still reachable from g_object
  test::in_thread([] { g_object = nullptr; });  // the old value stays in no register here
  test::collect_clean();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
  test::collect_clean();
  EXPECT_EQ(ran.load(), 1);
}

TEST(Cleanup, SeveralPerObjectAllRunOnTheCleanupThread) {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::atomic<int> ran{0};
  test::in_thread([&] {
    auto object = gc::make<Tracked>(2);
    for (int i = 0; i < 3; ++i) {
      gc::add_cleanup(object, [&] {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        ran.fetch_add(1);
      });
    }
  });
  test::collect_clean();
  EXPECT_EQ(ran.load(), 3);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

// What the function holds (here a gc::ptr to another object) is kept alive until it has run.
TEST(Cleanup, WhatTheCleanupHoldsLivesUntilItRuns) {
  std::atomic<int> seen{-1};
  test::in_thread([&] {
    g_object = gc::make<Tracked>(3);
    auto payload = gc::make<Tracked>(33);
    gc::add_cleanup(g_object,
                    [payload, &seen] { seen.store(payload->intact() ? payload->id : -2); });
  });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);  // only the function holds the payload
  test::in_thread([] { g_object = nullptr; });
  test::collect_clean();
  EXPECT_EQ(seen.load(), 33);
  test::collect_clean();  // the function, and its gc::ptr, are gone now
  EXPECT_EQ(Tracked::destroyed.load(), 2);
}

// A destructor and a cleanup each call gc::collect(): neither waits for the other's thread.
struct CollectsWhenDestroyed {
  ~CollectsWhenDestroyed() { gc::collect(); }
};

TEST(Cleanup, ADestructorAndACleanupMayBothCollect) {
  std::atomic<int> ran{0};
  for (int round = 0; round < 5; ++round) {
    test::in_thread([&] {
      gc::make<CollectsWhenDestroyed>();
      gc::add_cleanup(gc::make<Tracked>(5), [&] {
        gc::collect();
        ran.fetch_add(1);
      });
    });
    test::collect_clean();
  }
  EXPECT_EQ(ran.load(), 5);
}

// A constructor that registers a weak reference and a cleanup of its own object, then throws: the
// slot goes back at once, and neither record reaches the next object made in it.
gc::weak<Tracked> g_weak_of_failed;
std::atomic<int> g_failed_cleanups{0};
struct RegistersThenThrows : Tracked {
  RegistersThenThrows() {
    gc::ptr<Tracked> self(this);
    g_weak_of_failed = gc::weak<Tracked>(self);
    gc::add_cleanup(self, [] { g_failed_cleanups.fetch_add(1); });
    throw std::runtime_error("constructor failed on purpose");
  }
};

TEST(Cleanup, TheRecordsOfAnObjectWhoseConstructorThrewDoNotReachTheNextOne) {
  test::in_thread([] {
    EXPECT_THROW(gc::make<RegistersThenThrows>(), std::runtime_error);
    auto next = gc::make<RegistersThenThrows::Tracked>(6);  // same size class: reuses the slot
    EXPECT_EQ(g_weak_of_failed.lock(), nullptr);
    g_object = next;
  });
  test::collect_clean();
  EXPECT_EQ(g_failed_cleanups.load(), 1);  // ran once, for the failed object, not for `next`
  test::in_thread([] { g_object = nullptr; });
  test::collect_clean();
  EXPECT_EQ(g_failed_cleanups.load(), 1);
}

TEST(Cleanup, AThrowingCleanupIsReportedAndTheNextStillRuns) {
  std::atomic<int> ran{0};
  test::in_thread([&] {
    auto object = gc::make<Tracked>(4);
    gc::add_cleanup(object, [] { throw std::runtime_error("cleanup failed on purpose"); });
    gc::add_cleanup(object, [&] { ran.fetch_add(1); });
  });
  testing::internal::CaptureStderr();
  test::collect_clean();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_NE(err.find("tricolor: a cleanup threw: cleanup failed on purpose"), std::string::npos)
      << err;
}

TEST(Cleanup, ANullPointerIsRejected) {
  EXPECT_THROW(gc::add_cleanup(gc::ptr<Tracked>(), [] {}), std::invalid_argument);
}

// Threads make objects with cleanups while cycles run, keeping the most recent ones: a cleanup
// never runs for an object still held, and every other one runs exactly once.
TEST(Cleanup, ObjectsWithCleanupsDieWhileCyclesRun) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  constexpr int kKept = 2000;  // long enough for their spans to be swept while held
  auto runs = std::make_unique<std::atomic<int>[]>(kThreads * kPerThread);
  std::atomic<long> early{0};
  std::vector<std::thread> threads;
  std::atomic<int> finished{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<gc::ptr<Tracked>> kept;
      for (int i = 0; i < kPerThread; ++i) {
        const int id = t * kPerThread + i;
        auto object = gc::make<Tracked>(id);
        gc::add_cleanup(object, [&runs, id] { runs[id].fetch_add(1); });
        kept.push_back(object);
        if (kept.size() > kKept) kept.erase(kept.begin());
        struct Garbage {
          char bytes[512];
        };
        gc::make<Garbage>();  // 40 MiB in all: cycles run meanwhile
        if (i % 1000 == 999) {
          for (const auto& k : kept)
            if (runs[k->id].load() != 0) early.fetch_add(1);
        }
      }
      finished.fetch_add(1);
    });
  }
  test::collect_while_threads_run(finished, kThreads);
  for (auto& t : threads) t.join();
  test::collect_clean();
  EXPECT_EQ(early.load(), 0);
  long once = 0, more = 0;
  for (int id = 0; id < kThreads * kPerThread; ++id) {
    once += runs[id].load() == 1;
    more += runs[id].load() > 1;
  }
  EXPECT_EQ(more, 0);
  EXPECT_GE(once, kThreads * (kPerThread - kKept) - 100);  // a stale stack word may keep a few
  EXPECT_GT(gc::read_stats().num_gc, 2u);
}

}  // namespace
