// ctest-env: GODEBUG=gccheckmark=1 GOGC=50
// gc::allocator: standard containers of gc::ptr inside managed objects are traced through their
// owner (their elements live while it does, and die with it, cycles too); on the stack and in
// malloc memory they keep their elements alive; moving and swapping containers keeps everything
// traced; containers change under concurrent marking; and their buffers are freed.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <list>
#include <map>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../support/support.hpp"

namespace {

using test::Tracked;
using TrackedPtr = gc::ptr<Tracked>;

template <class T>
using gvector = std::vector<T, gc::allocator<T>>;
template <class T>
using gdeque = std::deque<T, gc::allocator<T>>;
template <class T>
using glist = std::list<T, gc::allocator<T>>;
template <class K, class V>
using gmap = std::map<K, V, std::less<K>, gc::allocator<std::pair<const K, V>>>;
template <class K, class V>
using gunordered_map =
    std::unordered_map<K, V, std::hash<K>, std::equal_to<K>, gc::allocator<std::pair<const K, V>>>;

struct Holder {
  gvector<TrackedPtr> vector;
  gdeque<TrackedPtr> deque;
  glist<TrackedPtr> list;
  gmap<int, TrackedPtr> map;
  gunordered_map<TrackedPtr, int> by_pointer;
};

gc::ptr<Holder> g_holder;

constexpr int kEach = 500;

void fill(Holder& h, int n) {
  for (int i = 0; i < n; ++i) {
    h.vector.push_back(gc::make<Tracked>(i));
    h.deque.push_front(gc::make<Tracked>(i));
    h.list.push_back(gc::make<Tracked>(i));
    h.map.emplace(i, gc::make<Tracked>(i));
    h.by_pointer.emplace(gc::make<Tracked>(i), i);
  }
}

bool intact(const Holder& h, int n) {
  if (h.vector.size() != static_cast<std::size_t>(n) || h.map.size() != h.vector.size() ||
      h.deque.size() != h.vector.size() || h.list.size() != h.vector.size() ||
      h.by_pointer.size() != h.vector.size())
    return false;
  for (int i = 0; i < n; ++i) {
    const auto& m = h.map.at(i);
    if (!h.vector[i]->intact() || h.vector[i]->id != i || !m->intact() || m->id != i) return false;
    if (!h.deque[n - 1 - i]->intact() || h.deque[n - 1 - i]->id != i) return false;
  }
  for (const auto& p : h.list)
    if (!p->intact()) return false;
  for (const auto& [p, i] : h.by_pointer)
    if (!p->intact() || p->id != i) return false;
  return true;
}

TEST(GcAllocator, ContainersInAManagedObjectLiveAndDieWithIt) {
  test::in_thread([] {
    g_holder = gc::make<Holder>();
    fill(*g_holder, kEach);
  });
  for (int i = 0; i < 3; ++i) test::collect_clean();
  test::in_thread([] { EXPECT_TRUE(intact(*g_holder, kEach)); });  // no stale copy stays here
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  test::in_thread([] { g_holder = nullptr; });  // the old value stays in no register here
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 5 * kEach);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

// A graph node's children are in a vector: two nodes that hold each other, and nothing else.
struct GraphNode {
  gvector<gc::ptr<GraphNode>> children;
  gmap<int, gc::ptr<GraphNode>> named;
  static inline std::atomic<int> destroyed{0};
  ~GraphNode() { destroyed.fetch_add(1); }
};

TEST(GcAllocator, ACycleThroughContainersIsCollected) {
  test::in_thread([] {
    for (int i = 0; i < 100; ++i) {
      auto a = gc::make<GraphNode>();
      auto b = gc::make<GraphNode>();
      a->children.push_back(b);
      b->children.push_back(a);
      a->named.emplace(1, a);  // a self-loop through a map node
      b->named.emplace(2, a);
    }
  });
  test::collect_clean();
  EXPECT_EQ(GraphNode::destroyed.load(), 200);
}

TEST(GcAllocator, ContainersOnTheStackAndInMallocMemoryKeepTheirElements) {
  gvector<TrackedPtr> on_stack;
  auto* in_malloc = new gmap<int, TrackedPtr>;
  for (int i = 0; i < kEach; ++i) {
    on_stack.push_back(gc::make<Tracked>(i));
    in_malloc->emplace(i, gc::make<Tracked>(i));
  }
  for (int i = 0; i < 3; ++i) test::collect_clean();
  for (int i = 0; i < kEach; ++i) {
    EXPECT_TRUE(on_stack[i]->intact());
    EXPECT_TRUE(in_malloc->at(i)->intact());
  }
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  delete in_malloc;
  on_stack.clear();
  on_stack.shrink_to_fit();
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 2 * kEach - 4);  // a stale stack word may keep a few
}

// Buffers move between containers in different owners: every element stays traced through the
// owner that has it now, and nothing through the owner that had it.
TEST(GcAllocator, MovedAndSwappedContainersStayTraced) {
  test::in_thread([] {
    gvector<TrackedPtr> local;
    gmap<int, TrackedPtr> local_map;
    for (int i = 0; i < kEach; ++i) {
      local.push_back(gc::make<Tracked>(i));
      local_map.emplace(i, gc::make<Tracked>(i));
    }
    auto first = gc::make<Holder>();
    first->vector = std::move(local);  // move assignment: the buffer and its allocator move
    first->map.swap(local_map);        // swap: both allocators swap
    auto second = gc::make<Holder>();
    second->vector = gvector<TrackedPtr>(std::move(first->vector));  // move construction
    second->map = first->map;                                        // copy: a list of its own
    g_holder = second;
  });
  for (int i = 0; i < 3; ++i) test::collect_clean();
  test::in_thread([] {
    ASSERT_EQ(g_holder->vector.size(), static_cast<std::size_t>(kEach));
    ASSERT_EQ(g_holder->map.size(), static_cast<std::size_t>(kEach));
    for (int i = 0; i < kEach; ++i) {
      EXPECT_TRUE(g_holder->vector[i]->intact());
      EXPECT_TRUE(g_holder->map.at(i)->intact());
    }
  });
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  test::in_thread([] { g_holder = nullptr; });  // the old value stays in no register here
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 2 * kEach);
}

// Containers that share one allocator may exchange nodes: merge, extract and insert, splice.
TEST(GcAllocator, ContainersSharingAnAllocatorExchangeNodes) {
  test::in_thread([] {
    auto first = gc::make<Holder>();
    for (int i = 0; i < kEach; ++i) first->map.emplace(i, gc::make<Tracked>(i));
    auto second = gc::make<Holder>();
    second->map = gmap<int, TrackedPtr>(first->map.get_allocator());
    second->map.merge(first->map);
    auto node = second->map.extract(0);
    first->map.insert(std::move(node));
    second->list = glist<TrackedPtr>(first->list.get_allocator());
    first->list.push_back(gc::make<Tracked>(-1));
    second->list.splice(second->list.end(), first->list);
    first = nullptr;  // the nodes' list is now reached through `second` only
    g_holder = second;
  });
  for (int i = 0; i < 3; ++i) test::collect_clean();
  test::in_thread([] {
    EXPECT_EQ(g_holder->map.size(), static_cast<std::size_t>(kEach - 1));
    for (const auto& [k, p] : g_holder->map) EXPECT_TRUE(p->intact() && p->id == k);
    ASSERT_EQ(g_holder->list.size(), 1u);
    EXPECT_TRUE(g_holder->list.front()->intact());
  });
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // node 0, left in `first`, died with it
}

TEST(GcAllocatorDeathTest, ANodeFreedThroughAnotherContainersAllocatorStopsTheProgram) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto transfer = [] {
    gmap<int, TrackedPtr> a;
    gmap<int, TrackedPtr> b;  // unequal allocators
    a.emplace(1, gc::make<Tracked>(1));
    b.insert(a.extract(1));  // undefined by the standard
    b.clear();
  };
  EXPECT_DEATH(transfer(), "freed through the allocator of another container");
}

// Threads grow, shrink and rebalance containers inside managed objects while cycles mark
// concurrently (GOGC=50, and garbage to drive them): vector reallocation, map rotations and hash
// table rehashing all move gc::ptrs between buffers during marks.
TEST(GcAllocator, ContainersChangeWhileCyclesRun) {
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  std::atomic<int> finished{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto holder = gc::make<Holder>();
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 400; ++i) {
          const int key = (round * 400 + i) * 4 + t;
          holder->vector.push_back(gc::make<Tracked>(key));
          holder->map.emplace(key, gc::make<Tracked>(key));
          holder->by_pointer.emplace(gc::make<Tracked>(key), key);
          holder->deque.push_back(gc::make<Tracked>(key));
          struct Garbage {
            char bytes[1024];
          };
          gc::make<Garbage>();  // 32 MiB in all: cycles run meanwhile
        }
        for (const auto& p : holder->vector)
          if (!p->intact()) bad.fetch_add(1);
        for (const auto& [k, p] : holder->map)
          if (!p->intact() || p->id != k) bad.fetch_add(1);
        for (const auto& [p, k] : holder->by_pointer)
          if (!p->intact() || p->id != k) bad.fetch_add(1);
        for (const auto& p : holder->deque)
          if (!p->intact()) bad.fetch_add(1);
        // Drop half, from the front: buffers shrink and map nodes go.
        holder->vector.erase(holder->vector.begin(),
                             holder->vector.begin() + static_cast<long>(holder->vector.size() / 2));
        holder->vector.shrink_to_fit();
        for (int i = 0; i < 200 && !holder->map.empty(); ++i)
          holder->map.erase(holder->map.begin());
        for (int i = 0; i < 200 && !holder->deque.empty(); ++i) holder->deque.pop_front();
        if (round % 4 == 3) holder->by_pointer.clear();
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

// 1M gc::ptrs (8 MiB of buffer) come and go: the buffers are freed once their container is done.
TEST(GcAllocator, BuffersAreFreed) {
  test::collect_clean();
  const auto before = gc::read_stats().heap_alloc;
  test::in_thread([] {
    for (int round = 0; round < 4; ++round) {
      auto holder = gc::make<Holder>();
      auto one = gc::make<Tracked>(1);
      holder->vector.assign(1 << 20, one);
    }
  });
  // A conservative scan of a frame that still holds a stale word (a library thread's, between its
  // rounds: docs/design.md, section 2, "Sweeping and destructors") may keep one dead buffer for a
  // few cycles more; a buffer that its container never let go of stays for good.
  int collections = 0;
  for (; collections < 8 && (collections < 2 || gc::read_stats().heap_alloc >= before + (4u << 20));
       ++collections)
    test::collect_clean();
  const auto after = gc::read_stats().heap_alloc;
  EXPECT_LT(after, before + (4u << 20))
      << "before " << before << ", after " << after << ", " << collections << " collections";
}

}  // namespace
