// shared_between_threads: objects made on one thread and used, relinked and dropped on others.
//
// A producer makes Items and pushes them into a std::vector<gc::ptr<Item>> guarded by a mutex.
// Workers take a few Items out (so that, while out, only they write them), check them, link each
// to another one (rings form and break all the time), sometimes drop one, and put the rest back.
// The collector runs on its own whenever the heap has grown enough; no thread does anything
// special for it. At the end the vector is emptied and gc::collect() must destroy every Item made.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

std::uint64_t checksum_of(int id) {
  return (static_cast<std::uint64_t>(id) + 1) * 0x9E3779B97F4A7C15ull;
}

struct Item {
  explicit Item(int id_) : id(id_), check(checksum_of(id_)), label("item " + std::to_string(id_)) {}
  ~Item() { destroyed.fetch_add(1, std::memory_order_relaxed); }  // on the destructor thread

  // Written before the Item is published through the mutex and never again: any thread may read
  // them. `next` is written only by the thread that has taken the Item out of the pool.
  const int id;
  const std::uint64_t check;
  const std::string label;
  gc::ptr<Item> next;

  bool intact() const { return check == checksum_of(id) && label == "item " + std::to_string(id); }

  static inline std::atomic<long> destroyed{0};
};

struct Pool {
  std::mutex mutex;
  std::vector<gc::ptr<Item>> items;  // the vector's buffer is malloc memory: its gc::ptrs are roots
};

// Takes the pool's mutex as a blocked thread. The holder may be stopped by a collection while it
// holds the mutex; a thread that waits for it inside a gc::blocking_region counts as stopped, so
// the collector neither waits for it nor has to interrupt it with the stop signal.
std::unique_lock<std::mutex> lock_pool(Pool& pool) {
  std::unique_lock<std::mutex> held(pool.mutex, std::defer_lock);
  gc::blocking_region waiting;
  held.lock();
  return held;
}

constexpr int kItems = 200'000;
constexpr int kBatch = 4;

std::atomic<long> g_failures{0};
std::atomic<long> g_made{0};

void fail(const char* what, int id) {
  if (g_failures.fetch_add(1) < 10) std::fprintf(stderr, "FAILED: %s (item %d)\n", what, id);
}

void produce(Pool& pool) {
  for (int id = 0; id < kItems; ++id) {
    gc::ptr<Item> item = gc::make<Item>(id);
    g_made.fetch_add(1, std::memory_order_relaxed);
    const auto held = lock_pool(pool);
    pool.items.push_back(std::move(item));
  }
}

void work(Pool& pool, unsigned seed, const std::atomic<bool>& producing) {
  std::minstd_rand random(seed);
  std::vector<gc::ptr<Item>> mine;
  for (;;) {
    {
      const auto held = lock_pool(pool);
      if (pool.items.size() < kBatch) {
        if (!producing.load()) return;
      } else {
        for (int i = 0; i < kBatch; ++i) {
          const std::size_t pick = random() % pool.items.size();
          mine.push_back(std::move(pool.items[pick]));
          pool.items[pick] = std::move(pool.items.back());
          pool.items.pop_back();
        }
      }
    }
    if (mine.empty()) {
      std::this_thread::yield();
      continue;
    }
    for (std::size_t i = 0; i < mine.size(); ++i) {
      Item& item = *mine[i];
      if (!item.intact()) fail("item corrupted", item.id);
      // The old successor may be held by another thread now: read only its const fields.
      if (item.next && !item.next->intact()) fail("successor corrupted", item.next->id);
      item.next = mine[(i + 1) % mine.size()];  // relink: the batch becomes a ring
    }
    mine.pop_back();  // drop one: it dies unless another Item still links to it
    {
      const auto held = lock_pool(pool);
      for (gc::ptr<Item>& item : mine) pool.items.push_back(std::move(item));
    }
    mine.clear();
  }
}

}  // namespace

int main() {
  Pool pool;
  std::atomic<bool> producing{true};
  const unsigned workers = std::max(2u, std::thread::hardware_concurrency());

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i)
    threads.emplace_back(work, std::ref(pool), 1234 + i, std::cref(producing));
  std::thread producer([&] {
    produce(pool);
    producing.store(false);
  });
  producer.join();
  for (std::thread& t : threads) t.join();

  // Empty the pool on a short-lived thread, so that no copy of an Item's address is left in a
  // register or stack slot of main when it collects below.
  std::thread([&] { pool.items.clear(); }).join();
  gc::collect();

  const gc::stats s = gc::read_stats();
  const long made = g_made.load();
  const long destroyed = Item::destroyed.load();
  std::printf(
      "%u workers: %ld items made, %ld destroyed, %llu cycles (%llu forced), max pause %.3f ms\n",
      workers, made, destroyed, static_cast<unsigned long long>(s.num_gc),
      static_cast<unsigned long long>(s.num_forced_gc), static_cast<double>(s.pause_max_ns) / 1e6);
  if (destroyed != made) fail("not every item was destroyed", static_cast<int>(made - destroyed));
  if (s.num_gc <= s.num_forced_gc) fail("the collector never ran on its own", 0);
  return g_failures.load() == 0 ? 0 : 1;
}
