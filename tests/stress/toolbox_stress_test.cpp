// ctest-env: GOGC=25
// The API's toolbox at once, while collections run: threads share a gc::pool of buffers and a map
// with gc::allocator (under a mutex), build lists in arenas of their own that point at managed
// items, hold gc::weak references to items and register cleanups on them. Every item reached is
// checked by its canary and id; at the end every cleanup has run exactly once, after its item died.
// gccheckmark (on for stress tests) verifies each cycle's mark from scratch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

constexpr std::uint64_t kCanary = 0x70017B0C5EEDull;
constexpr int kThreads = 4;
constexpr int kMaxItems = 1 << 20;

std::atomic<int> g_next_id{0};
std::atomic<long> g_errors{0};
std::atomic<long> g_registered{0};
std::unique_ptr<std::atomic<int>[]> g_cleanups(new std::atomic<int>[ kMaxItems ]);

struct Item {
  Item() : id(g_next_id.fetch_add(1)) {}
  ~Item() { canary = 0xDEAD; }
  void check() const {
    if (canary != kCanary || id < 0 || id >= kMaxItems) g_errors.fetch_add(1);
  }
  std::uint64_t canary = kCanary;
  int id;
  gc::ptr<Item> next;
};

struct Garbage {
  explicit Garbage(gc::ptr<Garbage> n) : next(std::move(n)) {}
  gc::ptr<Garbage> next;
  char bytes[112] = {};
};

struct Buffer {
  std::uint64_t words[64] = {};
  gc::ptr<Item> owner_tag = gc::make<Item>();
};

struct ArenaNode {
  gc::ptr<Item> item;
  gc::ptr<ArenaNode> next;
};

using ItemMap = std::map<int, gc::ptr<Item>, std::less<int>,
                         gc::allocator<std::pair<const int, gc::ptr<Item>>>>;
struct Registry {
  std::mutex mutex;
  ItemMap items;
};

void worker(int seed, gc::pool<Buffer>& pool, const gc::ptr<Registry>& registry,
            std::chrono::steady_clock::time_point deadline) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<gc::weak<Item>> weaks;
  auto arena = std::make_unique<gc::arena>();
  gc::ptr<ArenaNode> list;
  int list_length = 0;
  for (int op = 0;
       std::chrono::steady_clock::now() < deadline && g_next_id.load() < kMaxItems - 4096; ++op) {
    switch (rng() % 6) {
      case 0: {  // a pooled buffer: fill, check, give back
        auto buffer = pool.get();
        buffer->owner_tag->check();
        for (auto& w : buffer->words) w = static_cast<std::uint64_t>(seed) * 1000003u + op;
        for (auto w : buffer->words)
          if (w != static_cast<std::uint64_t>(seed) * 1000003u + op) g_errors.fetch_add(1);
        pool.put(std::move(buffer));
        break;
      }
      case 1: {  // the shared map: insert, erase, walk a little
        auto item = gc::make<Item>();
        {
          // The wait counts as stopped: a holder parked by a stop of the world must not hold up
          // threads waiting for it (ThreadSanitizer defers the stop signal for a thread blocked
          // in pthread_mutex_lock, so without this the stop would wait for them forever).
          gc::blocking_region waiting;
          registry->mutex.lock();
        }
        std::lock_guard lock(registry->mutex, std::adopt_lock);
        registry->items.emplace(item->id, item);
        if (registry->items.size() > 2000) registry->items.erase(registry->items.begin());
        int n = 0;
        for (auto it = registry->items.rbegin(); it != registry->items.rend() && n < 8; ++it, ++n) {
          it->second->check();
          if (it->second->id != it->first) g_errors.fetch_add(1);
        }
        break;
      }
      case 2: {  // the arena's list grows; every so often the arena is checked and freed
        auto node = arena->make<ArenaNode>();
        node->item = gc::make<Item>();
        node->next = list;
        list = node;
        if (++list_length == 500) {
          int seen = 0;
          for (auto n = list; n; n = n->next, ++seen) n->item->check();
          if (seen != list_length) g_errors.fetch_add(1);
          list = nullptr;
          list_length = 0;
          arena = std::make_unique<gc::arena>();
        }
        break;
      }
      case 3: {  // weak references, some to items that die at once
        auto item = gc::make<Item>();
        weaks.emplace_back(item);
        if (weaks.size() > 256) weaks.erase(weaks.begin(), weaks.begin() + 128);
        for (int k = 0; k < 4; ++k)
          if (auto p = weaks[rng() % weaks.size()].lock()) p->check();
        break;
      }
      case 4: {  // a cleanup that must run once, after its item died
        auto item = gc::make<Item>();
        const int id = item->id;
        gc::add_cleanup(item, [id] { g_cleanups[id].fetch_add(1); });
        g_registered.fetch_add(1);
        break;
      }
      default: {  // garbage: chains that keep the collector busy
        gc::ptr<Garbage> head;
        for (int i = 0; i < 16; ++i) head = gc::make<Garbage>(head);
        break;
      }
    }
  }
}

TEST(ToolboxStress, PoolsArenasContainersWeaksAndCleanupsWhileCyclesRun) {
  {
    gc::pool<Buffer> pool;
    auto registry = gc::make<Registry>();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] { worker(t + 1, pool, registry, deadline); });
    for (auto& t : threads) t.join();
    EXPECT_EQ(g_errors.load(), 0);
    EXPECT_GT(gc::read_stats().num_gc, 5u);
  }
  for (int i = 0; i < 3; ++i) gc::collect();
  long twice = 0, ran = 0;
  for (int id = 0; id < g_next_id.load(); ++id) {
    twice += g_cleanups[id].load() > 1;
    ran += g_cleanups[id].load() == 1;
  }
  EXPECT_EQ(twice, 0);
  EXPECT_GE(ran, g_registered.load() - 100);  // a stale stack word may keep a few
  EXPECT_EQ(g_errors.load(), 0);
  std::printf("%d items, %ld cleanups ran, %llu cycles\n", g_next_id.load(), ran,
              static_cast<unsigned long long>(gc::read_stats().num_gc));
}

}  // namespace
