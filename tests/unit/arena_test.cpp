// ctest-env: GODEBUG=gccheckmark=1 GOGC=50
// gc::arena: objects made in an arena are destroyed together by free(), last made first; until
// then the gc::ptrs inside keep their targets alive though nothing points at the arena; afterwards
// the memory faults, and its addresses come back only once a collection found no pointer into it.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/support.hpp"

namespace {

using test::Tracked;

struct Logged {
  explicit Logged(int i, std::vector<int>* log) : id(i), order(log) {}
  ~Logged() { order->push_back(id); }
  int id;
  std::vector<int>* order;
};

TEST(Arena, FreeRunsEveryDestructorLastMadeFirst) {
  std::vector<int> order;
  gc::arena arena;
  for (int i = 0; i < 3; ++i) arena.make<Logged>(i, &order);
  auto numbers = arena.make<int[]>(1000);
  EXPECT_EQ(numbers.size(), 1000u);
  for (std::size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(numbers[i], 0);
  EXPECT_GE(arena.allocated_bytes(), std::size_t{1} << 20);
  arena.free();
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(arena.allocated_bytes(), 0u);
  arena.make<Logged>(3, &order);  // usable again; its destructor runs at the arena's end
}

struct Holder {
  gc::ptr<Tracked> target;
  gc::ptr<Holder> next;  // to another arena object
};

gc::arena* g_arena = nullptr;

TEST(Arena, ItsGcPtrsKeepTheirTargetsAliveUntilFree) {
  gc::arena arena;
  g_arena = &arena;
  test::in_thread([] {
    // Nothing outside the arena points at these holders.
    gc::ptr<Holder> previous;
    for (int i = 0; i < 1000; ++i) {
      auto h = g_arena->make<Holder>();
      h->target = gc::make<Tracked>(i);
      h->next = previous;
      previous = h;
    }
  });
  for (int i = 0; i < 3; ++i) test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  arena.free();
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 1000);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
  g_arena = nullptr;
}

TEST(ArenaDeathTest, TouchingFreedMemoryFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gc::arena arena;
        auto object = arena.make<Holder>();
        arena.free();
        object->target = nullptr;  // a write into the freed chunk
      },
      "");
}

gc::ptr<Holder> g_dangling;
// Kept inverted: the address itself, on a stack, would count as a pointer into the chunk.
std::uintptr_t g_freed_base_inverted = 0;

// A freed chunk stays out of use while a gc::ptr still points into it, and comes back after a
// collection found none.
TEST(Arena, FreedChunksComeBackOnlyWhenNothingPointsIntoThem) {
  test::in_thread([] {
    gc::arena arena;
    g_dangling = arena.make<Holder>();
    g_freed_base_inverted = ~reinterpret_cast<std::uintptr_t>(g_dangling.get());
  });
  auto reused = [] {
    bool found = false;
    test::in_thread([&] {
      gc::arena probe;
      for (int i = 0; i < 64 && !found; ++i) {
        auto p = reinterpret_cast<std::uintptr_t>(probe.make<char[]>(64 * 1024).get());
        found = p - ~g_freed_base_inverted < (std::uintptr_t{1} << 20);
      }
    });
    return found;
  };
  for (int i = 0; i < 3; ++i) {
    test::collect_clean();
    EXPECT_FALSE(reused());
  }
  test::in_thread([] { g_dangling = nullptr; });  // the old value stays in no register here
  test::collect_clean();
  test::collect_clean();
  EXPECT_TRUE(reused());
}

struct Thrower {
  Thrower() { throw std::runtime_error("no"); }
  gc::ptr<Tracked> member = gc::make<Tracked>(1);
};

TEST(Arena, AConstructorThatThrowsLeavesTheArenaAsItWas) {
  gc::arena arena;
  auto before = arena.make<int>(1);
  EXPECT_THROW(arena.make<Thrower>(), std::runtime_error);
  auto after = arena.make<int>(2);
  EXPECT_EQ(reinterpret_cast<char*>(after.get()), reinterpret_cast<char*>(before.get()) + 4);
}

// A constructor that makes another arena object and then throws: the other object stays (its
// destructor runs once, at free()), and nothing is made over it.
struct Child {
  explicit Child(int i) : id(i) {}
  ~Child() { ++destroyed[id]; }
  int id;
  static inline int destroyed[3] = {};
};
struct Parent {
  explicit Parent(gc::arena& a) : child(a.make<Child>(1)) { throw std::runtime_error("no"); }
  gc::ptr<Child> child;
};

TEST(Arena, AConstructorThatMadeAnotherObjectThenThrew) {
  {
    gc::arena arena;
    EXPECT_THROW(arena.make<Parent>(arena), std::runtime_error);
    auto second = arena.make<Child>(2);
    EXPECT_EQ(second->id, 2);
  }
  EXPECT_EQ(Child::destroyed[1], 1);
  EXPECT_EQ(Child::destroyed[2], 1);
}

TEST(Arena, ArenaObjectsAreNotManagedObjects) {
  gc::arena arena;
  auto object = arena.make<Tracked>(1);
  EXPECT_THROW(gc::ptr<Tracked>(object.get()), std::invalid_argument);
  EXPECT_THROW(gc::weak<Tracked>{object}, std::invalid_argument);
  EXPECT_THROW(gc::add_cleanup(object, [] {}), std::invalid_argument);
}

// Threads build lists in arenas of their own, pointing at managed objects, while cycles run and
// gccheckmark verifies them; each arena is checked and freed, many times.
TEST(Arena, ArenasComeAndGoWhileCyclesRun) {
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  std::atomic<int> finished{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        gc::arena arena;
        gc::ptr<Holder> head;
        for (int i = 0; i < 2000; ++i) {
          auto h = arena.make<Holder>();
          h->target = gc::make<Tracked>(i);
          h->next = head;
          head = h;
          struct Garbage {
            char bytes[256];
          };
          gc::make<Garbage>();
        }
        int expected = 1999;
        for (auto h = head; h; h = h->next, --expected)
          if (!h->target->intact() || h->target->id != expected) bad.fetch_add(1);
        if (expected != -1) bad.fetch_add(1);
        head = nullptr;
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
