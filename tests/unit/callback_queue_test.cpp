// The callback queue (src/gc/callback_queue.hpp) alone, with items of the test's own: one item at a
// time in push order; a push of an item already queued adds nothing to run but is waited for; an
// item pushed again while it runs runs again; wait() returns only when every push before it has
// run, the item in progress included; run_queued runs what was queued since, inside an item.
#include "gc/callback_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "../support/support.hpp"

namespace {

struct Item {
  Item* next = nullptr;
  std::uint64_t seq = 0;
  bool queued = false;
  int id = 0;
  Item* nested = nullptr;  // pushed, then run, from inside this item's run
};

void drain();
constinit gc::detail::CallbackQueue<Item, &Item::next, &Item::seq, &Item::queued> g_queue(
    "test-queue", "callback", drain);

std::mutex g_mutex;
std::vector<int> g_ran;      // ids, in the order their runs ended
std::atomic<int> g_gate{0};  // the item with id 1 waits: 1 while it does, 2 to let it go

void run(Item* item) {
  if (item->id == 1 && g_gate.load() != 2) {
    g_gate.store(1);
    gc::blocking_region waiting;
    while (g_gate.load() != 2) std::this_thread::yield();
  }
  if (item->nested != nullptr) {
    g_queue.push(item->nested, item->nested);
    g_queue.run_queued(run);
  }
  std::lock_guard lock(g_mutex);
  g_ran.push_back(item->id);
}

void drain() { g_queue.run_all(run); }

std::vector<int> ran() {
  std::lock_guard lock(g_mutex);
  return g_ran;
}

class CallbackQueue : public testing::Test {
 protected:
  void SetUp() override {
    g_queue.prepare();
    g_gate.store(0);
    std::lock_guard lock(g_mutex);
    g_ran.clear();
  }
};

TEST_F(CallbackQueue, AWaitCoversEveryPushBeforeItTheItemInProgressIncluded) {
  Item a{.id = 1}, b{.id = 2}, c{.id = 3};
  EXPECT_TRUE(g_queue.push(&a, &a));
  ASSERT_TRUE(test::eventually([] { return g_gate.load() == 1; }));  // a runs, and waits
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    g_queue.wait();  // the queue is empty, but a is not done
    waited.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(waited.load());
  EXPECT_TRUE(g_queue.push(&b, &b));
  EXPECT_TRUE(g_queue.push(&c, &c));
  EXPECT_FALSE(g_queue.push(&b, &b));  // queued already: nothing more to run, but waited for
  EXPECT_TRUE(g_queue.push(&a, &a));   // running, no longer queued: it runs again
  g_gate.store(2);
  waiter.join();
  g_queue.wait();
  EXPECT_EQ(ran(), (std::vector<int>{1, 2, 3, 1}));
}

TEST_F(CallbackQueue, AnItemRunsWhatWasQueuedSinceInsideItsRun) {
  Item inner{.id = 5};
  Item outer{.id = 1, .nested = &inner};  // waits at the gate first
  Item later{.id = 6};
  EXPECT_TRUE(g_queue.push(&outer, &outer));
  ASSERT_TRUE(test::eventually([] { return g_gate.load() == 1; }));
  EXPECT_TRUE(g_queue.push(&later, &later));
  g_gate.store(2);
  g_queue.wait();
  // `later` was queued before `inner`, both after `outer` began: both run inside it, in order.
  EXPECT_EQ(ran(), (std::vector<int>{6, 5, 1}));
}

}  // namespace
