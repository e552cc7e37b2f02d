// ctest-env: GODEBUG=gccheckmark=1 GOGC=25
// gc::atomic_ptr: the operations, what it keeps alive, the barrier on its writes, and lock-free
// structures built on it (a Treiber stack, the example's Michael–Scott queue) under collections.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../../examples/lockfree_queue.hpp"
#include "../support/barrier_flush.hpp"
#include "../support/held_mark.hpp"
#include "../support/support.hpp"

namespace {

using test::Tracked;

TEST(AtomicPtr, LoadStoreExchangeCompareExchange) {
  auto a = gc::make<Tracked>(1), b = gc::make<Tracked>(2);
  gc::atomic_ptr<Tracked> slot;
  EXPECT_EQ(slot.load(), nullptr);
  slot.store(a);
  EXPECT_EQ(slot.load(), a);
  EXPECT_EQ(slot.exchange(b), a);
  gc::ptr<Tracked> expected = a;
  EXPECT_FALSE(slot.compare_exchange_strong(expected, a));
  EXPECT_EQ(expected, b);  // a failed compare-exchange reports what it found
  EXPECT_TRUE(slot.compare_exchange_strong(expected, a));
  EXPECT_EQ(slot.load(), a);
  static_assert(gc::atomic_ptr<Tracked>::is_always_lock_free);
}

gc::atomic_ptr<Tracked> g_slot;

struct Holder {
  gc::atomic_ptr<Tracked> slot;
};

TEST(AtomicPtr, KeepsItsTargetAliveInAGlobalAHeapObjectAndMallocMemory) {
  auto* in_malloc = new gc::atomic_ptr<Tracked>;
  gc::ptr<Holder> holder = gc::make<Holder>();
  test::in_thread([&] {
    g_slot.store(test::make_chain(100));
    holder->slot.store(test::make_chain(100));
    in_malloc->store(test::make_chain(100));
  });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  // Loaded on other threads, so that no stale copy on this stack keeps a chain alive afterwards.
  test::in_thread([&] {
    EXPECT_TRUE(test::chain_intact(g_slot.load().get(), 100));
    EXPECT_TRUE(test::chain_intact(holder->slot.load().get(), 100));
    EXPECT_TRUE(test::chain_intact(in_malloc->load().get(), 100));
  });
  test::in_thread([&] {
    delete in_malloc;
    g_slot.store(nullptr);
  });
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 190);  // the malloc one's and the global's chains
}

// The deletion half on an exchange: a thread whose stack was scanned takes the only heap copy of
// an object out of the slot during the mark. Run also with the half switched off, to show that the
// test reaches the case.
void exchange_during_marking(unsigned switched_off) {
  test::in_thread([] { g_slot.store(gc::make<Tracked>(7)); });
  gc::collect();
  test::during_a_held_mark(gc::detail::MarkHold::kAfterStart, switched_off, [&](auto wait) {
    gc::ptr<Tracked> x = g_slot.exchange(nullptr);
    wait();
    EXPECT_TRUE(switched_off != 0 || x->intact());
  });
}

TEST(AtomicPtr, AValueExchangedOutDuringMarkingSurvives) {
  exchange_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(AtomicPtr, WithoutTheDeletionHalfTheExchangedValueIsLost) {
  exchange_during_marking(gc::detail::kTestNoShadeOld);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

// A Treiber stack: threads push and pop nodes while collections run (GOGC=25). Popped nodes are
// checked intact; every value pushed is popped exactly once in the end.
struct StackNode {
  explicit StackNode(long v) : value(v) {}
  Tracked tracked;
  long value;
  gc::ptr<StackNode> next;
};

// The barrier of an atomic write is made inside the write's own critical section; the buffer it
// fills is flushed after that section, a chunk at a time, so a stop waits for one chunk
// (support/barrier_flush.hpp). Flushed inside the section, the parked thread's buffer is empty.
void atomic_store(Holder& holder, const gc::ptr<Tracked>& value) { holder.slot.store(value); }
void atomic_compare_exchange(Holder& holder, const gc::ptr<Tracked>& value) {
  gc::ptr<Tracked> expected = holder.slot.load();
  EXPECT_TRUE(holder.slot.compare_exchange_strong(expected, value));
}

TEST(AtomicPtr, AStopDuringTheFlushAStoreLeftWaitsForOneChunk) {
  const std::uint32_t left = test::entries_left_at_a_stop_during_the_flush<Holder>(
      /*odd=*/true, atomic_store);
  EXPECT_GT(left, 0u) << "the whole buffer was flushed inside the store's critical section";
  EXPECT_LT(left, test::kBarrierEntries);
}

TEST(AtomicPtr, AStopDuringTheFlushACompareExchangeLeftWaitsForOneChunk) {
  const std::uint32_t left = test::entries_left_at_a_stop_during_the_flush<Holder>(
      /*odd=*/false, atomic_compare_exchange);
  EXPECT_GT(left, 0u) << "the whole buffer was flushed inside the exchange's critical section";
  EXPECT_LT(left, test::kBarrierEntries);
}

TEST(AtomicPtr, ATreiberStackNeedsNothingElseForReclamation) {
  constexpr int kThreads = 4, kPerThread = 100000;
  gc::atomic_ptr<StackNode> top;
  std::vector<std::atomic<int>> popped(kThreads * kPerThread);
  std::atomic<long> failures{0};
  const auto pop = [&]() -> bool {
    gc::ptr<StackNode> node = top.load();
    while (node != nullptr && !top.compare_exchange_weak(node, node->next)) {
    }
    if (node == nullptr) return false;
    if (!node->tracked.intact()) failures.fetch_add(1);
    popped[node->value].fetch_add(1);
    return true;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (long i = 0; i < kPerThread; ++i) {
        auto node = gc::make<StackNode>(t * kPerThread + i);
        node->next = top.load();
        while (!top.compare_exchange_weak(node->next, node)) {
        }
        if (i % 2 == 1) pop();
      }
    });
  // Pacing alone gives several cycles on a quiet machine, but a starved marker can stretch one
  // over the whole run: these three overlap the pushes and pops however loaded the machine is.
  for (int cycle = 0; cycle < 3; ++cycle) gc::collect();
  for (auto& t : threads) t.join();
  while (pop()) {
  }
  EXPECT_EQ(failures.load(), 0);
  for (int v = 0; v < kThreads * kPerThread; ++v) ASSERT_EQ(popped[v].load(), 1) << v;
  EXPECT_GT(gc::read_stats().num_gc, 2u);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

TEST(AtomicPtr, AMichaelScottQueueSharedByEightThreads) {
  constexpr int kProducers = 4, kPerProducer = 50000;
  example::LockFreeQueue<long> queue;
  std::vector<std::atomic<int>> seen(kProducers * kPerProducer);
  std::atomic<long> received{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p)
    threads.emplace_back([&, p] {
      for (long i = 0; i < kPerProducer; ++i) queue.push(p * kPerProducer + i);
    });
  for (int c = 0; c < 4; ++c)
    threads.emplace_back([&] {
      while (received.load() < kProducers * kPerProducer)
        if (const auto v = queue.pop()) {
          seen[*v].fetch_add(1);
          received.fetch_add(1);
        }
    });
  for (auto& t : threads) t.join();
  for (int v = 0; v < kProducers * kPerProducer; ++v) ASSERT_EQ(seen[v].load(), 1) << v;
  EXPECT_FALSE(queue.pop());
}

}  // namespace
