// gc::why_alive: the route from a root to an object, or "" for an object nothing reaches. Each test
// builds its objects in a noinline function of its own and scrubs the stack before it asks, so that
// no stale copy of an address becomes the root; copies of the address asked about on the calling
// thread's stack never count.
// ctest-env: GODEBUG=gccheckmark=1
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "../support/support.hpp"
#include "tricolor/inspect.hpp"

namespace {

struct Node {
  long payload = 0;
  gc::ptr<Node> next;
  gc::ptr<Node> other;
};

constexpr std::size_t kNextOffset = offsetof(Node, next);
constexpr std::size_t kOtherOffset = offsetof(Node, other);

gc::ptr<Node> g_root;
gc::ptr<Node> g_shortcut;

std::uintptr_t address_of(const Node* n) { return reinterpret_cast<std::uintptr_t>(n); }

// g_root -> first -> (other) second -> (next) target; returns the target's address.
__attribute__((noinline)) std::uintptr_t build_global_route() {
  g_root = gc::make<Node>();
  g_root->other = gc::make<Node>();
  g_root->other->next = gc::make<Node>();
  return address_of(g_root->other->next.get());
}

__attribute__((noinline)) std::string ask(std::uintptr_t address) {
  test::scrub_stack();
  return gc::why_alive(reinterpret_cast<const void*>(address));
}

TEST(WhyAlive, NamesTheGlobalAndEachHop) {
  const std::uintptr_t target = build_global_route();
  const std::string route = ask(target);
  const std::uintptr_t first = address_of(g_root.get());
  const std::uintptr_t second = address_of(g_root->other.get());
  char hops[512];
  std::snprintf(hops, sizeof hops,
                "root: the global [^\n]*g_root[^\n]*\n"
                "  -> %#lx \\([^,\n]*Node, %zu bytes\\)\n"
                "  -> %#lx \\([^,\n]*Node, %zu bytes\\) via the gc::ptr at \\+%zu of the object "
                "before\n"
                "  -> %#lx \\([^,\n]*Node, %zu bytes\\) via the gc::ptr at \\+%zu of the object "
                "before\n"
                "  the object asked about is the last one",
                static_cast<unsigned long>(first), sizeof(Node), static_cast<unsigned long>(second),
                sizeof(Node), kOtherOffset, static_cast<unsigned long>(target), sizeof(Node),
                kNextOffset);
  EXPECT_TRUE(std::regex_search(route, std::regex(hops))) << route << "\nexpected:\n" << hops;
  g_root = nullptr;
}

TEST(WhyAlive, AnInteriorAddressNamesItsObject) {
  const std::uintptr_t target = build_global_route();
  const std::string route = ask(target + kNextOffset);
  EXPECT_NE(route.find("the address asked about is +" + std::to_string(kNextOffset) +
                       " into the last one"),
            std::string::npos)
      << route;
  g_root = nullptr;
}

// The route is a shortest one: a second global that points at the target directly wins over the
// three-object route.
TEST(WhyAlive, TakesAShortestRoute) {
  const std::uintptr_t target = build_global_route();
  g_shortcut = gc::ptr<Node>(g_root->other->next);
  const std::string route = ask(target);
  EXPECT_NE(route.find("g_shortcut"), std::string::npos) << route;
  EXPECT_EQ(route.find("via the gc::ptr"), std::string::npos) << route;
  g_shortcut = nullptr;
  g_root = nullptr;
}

// g_root -> a; a.next -> d -> target; a.other -> b -> c -> target. A depth-first mark scans a's
// slots, pushes d then b, and pops b first: it would reach the target through c.
__attribute__((noinline)) std::uintptr_t build_two_routes() {
  g_root = gc::make<Node>();
  Node* a = g_root.get();
  a->next = gc::make<Node>();
  a->next->next = gc::make<Node>();
  a->other = gc::make<Node>();
  a->other->next = gc::make<Node>();
  a->other->next->next = gc::ptr<Node>(a->next->next);
  return address_of(a->next->next.get());
}

TEST(WhyAlive, TakesTheShorterOfTwoRoutesThroughTheHeap) {
  const std::uintptr_t target = build_two_routes();
  const std::string route = ask(target);
  std::size_t hops = 0;
  for (std::size_t at = route.find("\n  -> "); at != std::string::npos;
       at = route.find("\n  -> ", at + 1))
    ++hops;
  EXPECT_EQ(hops, 3u) << route;
  g_root = nullptr;
}

__attribute__((noinline)) std::uintptr_t build_garbage() {
  gc::ptr<Node> n = gc::make<Node>();
  n->next = gc::make<Node>();
  return address_of(n->next.get());
}

TEST(WhyAlive, AnUnreachableObjectHasNoRoute) {
  const std::uintptr_t dead = build_garbage();
  EXPECT_EQ(ask(dead), "");
  EXPECT_EQ(gc::why_alive(nullptr), "");
  int not_in_the_heap = 0;
  EXPECT_EQ(gc::why_alive(&not_in_the_heap), "");
}

__attribute__((noinline)) gc::ptr<Node>* build_malloc_root(std::uintptr_t& target) {
  auto* boxed = new gc::ptr<Node>(gc::make<Node>());
  (*boxed)->next = gc::make<Node>();
  target = address_of((*boxed)->next.get());
  return boxed;
}

TEST(WhyAlive, NamesARootInMallocMemory) {
  std::uintptr_t target = 0;
  gc::ptr<Node>* boxed = build_malloc_root(target);
  const std::string route = ask(target);
  char root[96];
  std::snprintf(root, sizeof root, "root: a gc::ptr registered as a root at %#lx (in memory from",
                reinterpret_cast<unsigned long>(boxed));
  EXPECT_NE(route.find(root), std::string::npos) << route;
  delete boxed;
}

// The holder is on this frame; the address asked about is another object's.
TEST(WhyAlive, NamesTheCallingThreadsFrame) {
  gc::ptr<Node> holder = gc::make<Node>();
  holder->next = gc::make<Node>();
  const std::string route = ask(address_of(holder->next.get()));
  EXPECT_TRUE(std::regex_search(
      route, std::regex("root: the stack of the calling thread [0-9]+ \\([^)]*\\), in the frame "
                        "of [^\n]*NamesTheCallingThreadsFrame[^\n]*TestBody")))
      << route;
  EXPECT_NE(route.find("via the gc::ptr at +" + std::to_string(kNextOffset)), std::string::npos)
      << route;
}

TEST(WhyAlive, NamesAnotherThreadsStack) {
  std::atomic<std::uintptr_t> target{0};
  std::atomic<bool> done{false};
  std::thread holder([&] {
    gc::ptr<Node> mine = gc::make<Node>();
    target.store(address_of(mine.get()));
    while (!done.load()) gc::safepoint();
  });
  while (target.load() == 0) std::this_thread::yield();
  const std::string route = ask(target.load());
  done.store(true);
  holder.join();
  EXPECT_TRUE(std::regex_search(route, std::regex("root: the stack of thread [0-9]+ "))) << route;
}

// A blocking region's copy of its thread's registers is a root only while the thread is inside
// the region: the copy an earlier region left names what the thread may no longer hold. The holder
// keeps an object's only address in a register across a gc::blocking_region (whose entry copies
// the registers), then lets it go and waits at safepoints; asked about the object, why_alive must
// not find it through that copy.
constexpr std::uintptr_t kHide = 0x5A5A'5A5A'5A5A'5A5Aull;

__attribute__((noinline)) std::uintptr_t held_across_a_region() {
  Node* raw = gc::make<Node>().get();
  { gc::blocking_region waiting; }
  asm volatile("" : : "r"(raw));  // live across the region: in a callee-saved register
  return address_of(raw) ^ kHide;
}

TEST(WhyAlive, AStaleCopyOfABlockingRegionsRegistersIsNoRoot) {
  std::atomic<std::uintptr_t> hidden{0};
  std::atomic<bool> done{false};
  std::thread holder([&] {
    const std::uintptr_t h = held_across_a_region();
    test::scrub_stack();
    hidden.store(h);
    while (!done.load()) gc::safepoint();
  });
  while (hidden.load() == 0) std::this_thread::yield();
  const std::string route = ask(hidden.load() ^ kHide);
  done.store(true);
  holder.join();
  EXPECT_EQ(route.find("saved registers"), std::string::npos) << route;
}

__attribute__((noinline)) std::uintptr_t build_long_route(int n) {
  g_root = gc::make<Node>();
  Node* at = g_root.get();
  for (int i = 1; i < n; ++i) {
    at->next = gc::make<Node>();
    at = at->next.get();
  }
  return address_of(at);
}

TEST(WhyAlive, ALongRouteIsShortenedInTheMiddle) {
  const std::uintptr_t target = build_long_route(5000);
  const std::string route = ask(target);
  EXPECT_NE(route.find("... 4800 more objects ..."), std::string::npos) << route.substr(0, 300);
  EXPECT_NE(route.find("the object asked about is the last one"), std::string::npos);
  g_root = nullptr;
}

// Stops of the world for why_alive among collections and threads that build and drop lists: every
// answer reaches the target (from the global, or from a stale word on a thread's stack that points
// into the route), and every list stays intact.
TEST(WhyAlive, AnswersWhileOtherThreadsAllocateAndCollect) {
  const std::uintptr_t target = build_global_route();
  std::atomic<bool> stop{false};
  std::atomic<int> broken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        gc::ptr<test::Tracked> chain = test::make_chain(200);
        if (t == 0) gc::collect();
        if (!test::chain_intact(chain.get(), 200)) broken.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    const std::string route = ask(target);
    ASSERT_NE(route.find("the object asked about is the last one"), std::string::npos) << route;
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(broken.load(), 0);
  g_root = nullptr;
}

using WhyAliveDeathTest = ::testing::Test;

TEST_F(WhyAliveDeathTest, InsideABlockingRegionIsMisuse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::uintptr_t target = build_global_route();
  EXPECT_DEATH(
      {
        gc::blocking_region region;
        gc::why_alive(reinterpret_cast<const void*>(target));
      },
      "gc::why_alive.*blocking_region");
}

}  // namespace
