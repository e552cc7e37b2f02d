// Threads start, allocate, keep objects only on their stacks, block, spin and exit while others
// collect: the registry, thread caches handed back at exit, safepoints, blocking regions and stop
// signals all under load at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

constexpr std::uint64_t kAlive = 0xA11CE5A11CE5ull;
std::atomic<long> g_errors{0};

struct Cell {
  ~Cell() { tag = 0; }
  std::uint64_t tag = kAlive;
  gc::ptr<Cell> next;
  int value = 0;
};

__attribute__((noinline)) Cell* build(int n) {
  gc::ptr<Cell> head;
  for (int i = 0; i < n; ++i) {
    auto c = gc::make<Cell>();
    c->value = i;
    c->next = head;
    head = c;
  }
  return head.get();
}

constexpr const char* kKinds[] = {"allocating", "blocking", "spinning"};

void verify(const Cell* c, int n, int kind) {
  for (int i = n - 1; i >= 0; --i, c = c->next.get())
    if (c == nullptr || c->tag != kAlive || c->value != i) {
      std::fprintf(stderr, "a %s thread's chain is broken at cell %d (%p, tag %#llx, value %d)\n",
                   kKinds[kind], i, static_cast<const void*>(c),
                   c ? static_cast<unsigned long long>(c->tag) : 0ull, c ? c->value : -1);
      g_errors.fetch_add(1);
      return;
    }
}

TEST(ThreadChurn, ThreadsComeAndGoDuringCollections) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  std::atomic<bool> done{false};
  std::thread collector([&] {
    while (!done.load()) {
      gc::collect();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  int generations = 0;
  // Six seconds, and at least five generations however slow the machine (or the sanitizer) is.
  while (generations < 5 || std::chrono::steady_clock::now() < deadline) {
    std::vector<std::thread> batch;
    for (int t = 0; t < 6; ++t) {
      batch.emplace_back([t] {
        Cell* mine = build(300);
        switch (t % 3) {
          case 0:  // allocate garbage
            for (int i = 0; i < 20000; ++i) gc::make<Cell>();
            break;
          case 1: {  // block in a blocking region
            gc::blocking_region region;
            ::usleep(3000);
            break;
          }
          case 2: {  // spin without a safepoint
            volatile long x = 0;
            for (long i = 0; i < 3'000'000; ++i) x = x + i;
            break;
          }
        }
        verify(mine, 300, t % 3);
      });
    }
    for (auto& t : batch) t.join();
    ++generations;
  }
  done = true;
  collector.join();
  std::printf("%d generations of 6 threads\n", generations);
  EXPECT_EQ(g_errors.load(), 0);
}

}  // namespace
