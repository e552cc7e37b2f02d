// ctest-env: GOMEMLIMIT=24MiB
// Pages go back to the OS while threads allocate into them: a memory limit a little above the live
// heap keeps the scavenger working without pause and makes span allocations release idle pages
// on the allocating thread, while threads replace nodes in their rings and drop bursts of garbage
// that free whole spans. A page released under a live object reads as zero: every node carries a
// tag and its owner's id, and each thread checks its whole ring after every round.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

constexpr std::uint64_t kTag = 0x5CA7E5CA7E5CA7E5ull;

struct Node {
  std::uint64_t tag = kTag;
  std::uint64_t owner = 0;
  gc::ptr<Node> child;
  char payload[200];
};

std::atomic<long> g_errors{0};

__attribute__((noinline)) void burst(std::size_t nodes) {
  gc::ptr<Node> head;
  for (std::size_t i = 0; i < nodes; ++i) {
    auto n = gc::make<Node>();
    n->child = head;
    head = n;
  }
}

void churn(std::uint64_t owner, std::chrono::steady_clock::time_point deadline) {
  // The ring is a managed array, so its slots are heap slots, not registered roots.
  auto ring = gc::make<gc::ptr<Node>[]>(20'000);  // about 5 MiB per thread with the children
  auto fresh = [owner] {
    auto n = gc::make<Node>();
    n->owner = owner;
    n->child = gc::make<Node>();
    n->child->owner = owner;
    return n;
  };
  for (std::size_t i = 0; i < ring.size(); ++i) ring[i] = fresh();
  unsigned r = static_cast<unsigned>(owner) * 7919u + 1u;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 20'000; ++i) {
      r = r * 1103515245u + 12345u;
      ring[(r >> 8) % ring.size()] = fresh();
    }
    burst(10'000);  // about 2.5 MiB of garbage in spans of its own, freed whole by the next sweep
    for (std::size_t i = 0; i < ring.size(); ++i) {
      const Node* n = ring[i].get();
      if (n->tag != kTag || n->owner != owner || n->child->tag != kTag ||
          n->child->owner != owner) {
        g_errors.fetch_add(1);
        break;
      }
    }
  }
}

TEST(ScavengeStress, ReleasedPagesNeverHoldALiveObject) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<std::thread> threads;
  for (std::uint64_t t = 1; t <= 3; ++t) threads.emplace_back(churn, t, deadline);
  std::uint64_t most_released = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const gc::stats s = gc::read_stats();
    if (s.heap_released > most_released) most_released = s.heap_released;
  }
  for (auto& t : threads) t.join();
  const gc::stats s = gc::read_stats();
  std::printf("%llu cycles; up to %llu KiB released at once\n",
              static_cast<unsigned long long>(s.num_gc),
              static_cast<unsigned long long>(most_released >> 10));
  EXPECT_EQ(g_errors.load(), 0);
  EXPECT_GT(most_released, 0u);  // the limit did make pages go back while threads allocated
}

}  // namespace
