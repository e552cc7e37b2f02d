// ctest-env: GODEBUG=gccheckmark=1
// gc::pool: get() returns what put() gave back, a pooled object survives one collection and is
// dropped by the second, a get() during a mark keeps what it took, and threads sharing a pool while
// cycles run never receive a destroyed object.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "../support/held_mark.hpp"
#include "../support/support.hpp"

namespace {

using test::Tracked;

std::atomic<long> g_made{0};

gc::ptr<Tracked> make_counted() {
  g_made.fetch_add(1);
  return gc::make<Tracked>(7);
}

TEST(Pool, GetReturnsWhatPutGaveBack) {
  gc::pool<Tracked> pool(make_counted);
  auto a = pool.get();
  EXPECT_EQ(g_made.load(), 1);
  const Tracked* address = a.get();
  pool.put(a);
  a = nullptr;
  auto b = pool.get();
  EXPECT_EQ(b.get(), address);
  EXPECT_EQ(g_made.load(), 1);
  auto c = pool.get();  // empty again: the factory's
  EXPECT_NE(c.get(), address);
  EXPECT_EQ(g_made.load(), 2);
  pool.put(nullptr);  // ignored
  EXPECT_NE(pool.get(), nullptr);
}

TEST(Pool, ADefaultPoolMakesObjectsWithMake) {
  gc::pool<Tracked> pool;
  auto a = pool.get();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, 0);
}

TEST(Pool, PooledObjectsSurviveOneCollectionAndAreDroppedByTheSecond) {
  gc::pool<Tracked> pool(make_counted);
  test::in_thread([&] {
    std::vector<gc::ptr<Tracked>> held;
    for (int i = 0; i < 100; ++i) held.push_back(pool.get());
    for (auto& p : held) pool.put(p);
  });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 100);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

// One gc::collect() runs a second cycle when a destructor's work was left to the next sweep (here
// a large object destroyed during a mark: its empty span cannot go back to the page heap while a
// marker may be resolving an address in it); that follow-up cycle leaves pools alone. Left to
// chance, the case is rare, so it is staged: a destructor from an earlier cycle is held until
// collect()'s mark has started, and that mark is held until the destructor thread has deferred the
// span.
std::atomic<int> g_slow_stage{0};  // 1: the destructor has started; 2: it may return

struct SlowToDestroy {
  char large[40 << 10];  // a span of its own
  ~SlowToDestroy() {
    g_slow_stage.store(1);
    gc::blocking_region waiting;  // the collector need not stop this thread while it waits
    while (g_slow_stage.load() != 2) std::this_thread::yield();
  }
};

TEST(Pool, OneCollectEmptiesNoPool) {
  using gc::detail::MarkHold;
  gc::set_percent(-1);  // no cycle but those started here
  test::in_thread([] { gc::make<SlowToDestroy>(); });
  // A cycle whose sweep hands the object to the destructor thread, which stays in its destructor.
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_cycle_end();
  gc::detail::finish_sweeping();
  while (g_slow_stage.load() != 1) std::this_thread::yield();

  gc::pool<Tracked> pool(make_counted);
  test::in_thread([&] { pool.put(pool.get()); });

  const std::uint64_t deferred = gc::detail::deferred_zombie_slots();
  gc::detail::set_mark_hold(MarkHold::kAfterStart);
  std::thread stager([&] {
    gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);  // collect()'s first mark has started
    g_slow_stage.store(2);  // the destructor returns; during a mark its span cannot be freed
    while (gc::detail::deferred_zombie_slots() == deferred) std::this_thread::yield();
    gc::detail::set_mark_hold(MarkHold::kNone);
  });
  const auto before = gc::read_stats().num_gc;
  gc::collect();
  stager.join();
  EXPECT_EQ(gc::read_stats().num_gc - before, 2u);  // the first cycle and the follow-up
  test::in_thread([&] { pool.get(); });             // the pooled object, from the victim cache
  EXPECT_EQ(g_made.load(), 1);
}

TEST(Pool, AnObjectTakenFromTheVictimCacheIsLiveAgain) {
  gc::pool<Tracked> pool(make_counted);
  test::in_thread([&] { pool.put(pool.get()); });
  test::collect_clean();  // now in the victim cache
  test::in_thread([&] {
    auto p = pool.get();
    EXPECT_EQ(g_made.load(), 1);
    test::collect_clean();
    test::collect_clean();
    EXPECT_TRUE(p->intact());
  });
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

gc::pool<Tracked>* g_pool = nullptr;

// The pooled object is reachable only through the pool when the mark starts; a thread whose stack
// counts as scanned takes it before the pool's chunks are scanned. Taking it empties its slot, and
// the barrier's shade of the old value is all that keeps it. Run also with that half switched off.
void take_during_marking(unsigned switched_off) {
  gc::pool<Tracked> pool(make_counted);
  g_pool = &pool;
  test::in_thread([] { g_pool->put(g_pool->get()); });
  test::scrub_stack();
  test::during_a_held_mark(gc::detail::MarkHold::kAfterStart, switched_off, [&](auto wait) {
    gc::ptr<Tracked> taken = g_pool->get();
    EXPECT_EQ(g_made.load(), 1);
    wait();
    EXPECT_TRUE(switched_off != 0 || taken->intact());
  });
  g_pool = nullptr;
}

TEST(Pool, AGetDuringMarkingKeepsWhatItTook) {
  take_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Pool, WithoutTheShadeOfTheOldValueTheTakenObjectIsLost) {
  take_during_marking(gc::detail::kTestNoShadeOld);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

// Threads take buffers, fill and check them, and put them back, while garbage drives cycles: no
// buffer is destroyed while out of the pool, and most gets are served from the pool.
TEST(Pool, ThreadsShareAPoolWhileCyclesRun) {
  struct Buffer {
    std::uint64_t words[32] = {};
    gc::ptr<Tracked> tag = gc::make<Tracked>(9);
  };
  std::atomic<long> made{0};
  gc::pool<Buffer> pool([&] {
    made.fetch_add(1);
    return gc::make<Buffer>();
  });
  std::atomic<long> bad{0};
  std::atomic<int> finished{0};
  constexpr int kThreads = 4;
  constexpr int kRounds = 40000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      struct Garbage {
        char bytes[256];
      };
      for (int i = 0; i < kRounds; ++i) {
        auto a = pool.get();
        auto b = pool.get();
        for (auto& w : a->words) w = static_cast<std::uint64_t>(t) << 32 | static_cast<unsigned>(i);
        if (!a->tag->intact() || !b->tag->intact()) bad.fetch_add(1);
        gc::make<Garbage>();  // 40 MiB in all: cycles run meanwhile
        for (auto w : a->words)
          if (w != (static_cast<std::uint64_t>(t) << 32 | static_cast<unsigned>(i)))
            bad.fetch_add(1);
        pool.put(std::move(a));
        pool.put(std::move(b));
      }
      finished.fetch_add(1);
    });
  }
  // The pacer's cycles alone were too few on a loaded machine (one, now and then, in 30 runs): the
  // pools rotate under the threads at least three times.
  test::collect_while_threads_run(finished, kThreads);
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
  EXPECT_GT(gc::read_stats().num_gc, 2u);
  EXPECT_LT(made.load(), kThreads * kRounds * 2 / 10);  // at least 90% of gets reused
  std::printf("%ld buffers made for %d gets, %llu cycles\n", made.load(), kThreads * kRounds * 2,
              static_cast<unsigned long long>(gc::read_stats().num_gc));
}

// gc::why_alive names the pool that keeps a pooled object.
TEST(Pool, WhyAliveNamesThePool) {
  gc::pool<Tracked> pool(make_counted);
  const Tracked* address = nullptr;
  test::in_thread([&] {
    auto a = pool.get();
    address = a.get();
    pool.put(a);
  });
  test::scrub_stack();
  const std::string route = gc::why_alive(address);
  EXPECT_EQ(route.rfind("root: a gc::ptr in a gc::pool's free list, at ", 0), 0u) << route;
}

}  // namespace
