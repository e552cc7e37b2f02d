// ctest-env: GOGC=50
// The destructor path under load: threads build and drop trees of two node types that share a
// size class (so spans hold both, and the second type's destructors live in the span's table),
// keep a few trees alive and check them, let constructors throw after allocating (their slots go
// back unregistered, sometimes in spans their thread no longer holds), and let destructors
// allocate. Zombies are destroyed while sweeps, marks and thread caches race for their spans.
// Every object built is destroyed exactly once, none while reachable; gccheckmark (on for stress
// tests) verifies every cycle's mark, with dead objects' gc::ptr members left as they were.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "../support/sanitizers.hpp"

namespace {

constexpr std::uint64_t kCanary = 0xC0DEC0DE5EED5EEDull;

std::atomic<long> g_built{0};
std::atomic<long> g_destroyed{0};
std::atomic<long> g_bad_destroy{0};  // a destructor found its object destroyed, or never built
std::atomic<long> g_bad_node{0};     // a reachable node was destroyed or wrong

struct Garbage {
  gc::ptr<Garbage> next;
  long payload[3];
};

// Two types of the same size and kind: one size class, one span class.
template <int Kind>
struct Node {
  explicit Node(int depth, bool throws = false) : depth(depth) {
    if (throws) {
      // Allocate first, enough to give the span back now and then, then fail.
      for (int i = 0; i < 600; ++i) gc::make<Node<Kind>>(0);
      throw std::runtime_error("constructor failed");
    }
    canary = kCanary;
    g_built.fetch_add(1, std::memory_order_relaxed);
  }
  ~Node() {
    if (canary != kCanary) {
      g_bad_destroy.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    canary = 0;
    g_destroyed.fetch_add(1, std::memory_order_relaxed);
    if (depth == 3) gc::make<Garbage>();  // destructors allocate
  }
  gc::ptr<Node<0>> left;
  gc::ptr<Node<1>> right;
  std::uint64_t canary;  // written last by the constructor
  int depth;
};
using A = Node<0>;
using B = Node<1>;
static_assert(sizeof(A) == sizeof(B));

gc::ptr<A> make_tree(int depth, std::mt19937& rng) {
  auto n = gc::make<A>(depth);
  if (depth > 0) {
    n->left = make_tree(depth - 1, rng);
    auto r = gc::make<B>(depth - 1);
    if (depth > 1) {
      r->left = make_tree(depth - 2, rng);
      r->right = gc::make<B>(depth - 2);
    }
    n->right = r;
  }
  return n;
}

int check_tree(const A* n, int depth) {
  if (n == nullptr || n->canary != kCanary || n->depth != depth) {
    g_bad_node.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  int count = 1;
  if (depth > 0) {
    count += check_tree(n->left.get(), depth - 1);
    const B* r = n->right.get();
    if (r == nullptr || r->canary != kCanary || r->depth != depth - 1) {
      g_bad_node.fetch_add(1, std::memory_order_relaxed);
      return count;
    }
    ++count;
    if (depth > 1) count += check_tree(r->left.get(), depth - 2);
  }
  return count;
}

__attribute__((noinline)) void work(unsigned seed, std::chrono::steady_clock::time_point end) {
  std::mt19937 rng(seed);
  std::array<gc::ptr<A>, 8> kept;
  std::array<int, 8> kept_depth{};
  long rounds = 0;
  while (std::chrono::steady_clock::now() < end || rounds < 200) {
    const int depth = 3 + static_cast<int>(rng() % 5);
    auto tree = make_tree(depth, rng);
    check_tree(tree.get(), depth);
    const std::size_t k = rng() % kept.size();
    if (kept[k]) check_tree(kept[k].get(), kept_depth[k]);
    if (rng() % 4 == 0) {
      kept[k] = tree;
      kept_depth[k] = depth;
    }
    if (rng() % 64 == 0) {
      try {
        if (rng() % 2 == 0) {
          gc::make<A>(0, true);
        } else {
          gc::make<B>(0, true);
        }
      } catch (const std::runtime_error&) {
      }
    }
    ++rounds;
  }
  for (std::size_t k = 0; k < kept.size(); ++k)
    if (kept[k]) check_tree(kept[k].get(), kept_depth[k]);
}

TEST(DestructorStress, EveryObjectIsDestroyedOnceAndNoneWhileReachable) {
  const auto seconds = test::kThreadSanitizer || test::kAddressSanitizer ? 4 : 3;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back([t, end] { work(t + 1, end); });
  for (auto& t : threads) t.join();
  // Everything is garbage now; two collections run every destructor and the ones they cause.
  gc::collect();
  gc::collect();
  std::printf("built %ld, destroyed %ld, %llu cycles\n", g_built.load(), g_destroyed.load(),
              static_cast<unsigned long long>(gc::read_stats().num_gc));
  EXPECT_EQ(g_bad_node.load(), 0);
  EXPECT_EQ(g_bad_destroy.load(), 0);
  // A few may stay reachable from stale words of this thread's stack.
  EXPECT_LE(g_built.load() - g_destroyed.load(), 64);
  EXPECT_GE(g_built.load() - g_destroyed.load(), 0);
}

}  // namespace
