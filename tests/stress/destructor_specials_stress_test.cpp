// ctest-env: GOGC=50
// The destructor path meets weak references, cleanups and allocating destructors: threads build
// chains of objects with destructors, take gc::weak references to some and add cleanups to some,
// keep a few chains and drop the rest, while a thread runs gc::collect() now and then. Some
// destructors allocate over a MiB of garbage with destructors of its own, so the destructor thread
// runs the spans queued since (CallbackQueue::run_queued) in the middle of a span. Dead objects'
// slots are freed in the cycle that found them dead, during the next mark too, and handed out
// again at once.
//
// What must hold: a weak reference to a reachable object locks, and one that locks gives a live
// object, never a destroyed one nor a new object built in its freed slot (each object carries its
// own serial number, which the weak reference's holder knows); every object is destroyed once;
// every cleanup runs once; everything dropped is destroyed and cleaned up once the threads are
// done. gccheckmark (on for stress tests) verifies every cycle's mark.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "../support/sanitizers.hpp"

namespace {

constexpr std::uint64_t kCanary = 0xD1E5D1E5CAFEF00Dull;

std::atomic<long> g_serial{0};
std::atomic<long> g_built{0};
std::atomic<long> g_destroyed{0};
std::atomic<long> g_bad_destroy{0};  // a destructor found its object destroyed or never built
std::atomic<long> g_bad_lock{0};     // a weak reference locked to a dead or different object
std::atomic<long> g_lost{0};         // a weak reference to a reachable object did not lock
std::atomic<long> g_bad_chain{0};    // a kept chain was destroyed or changed
std::atomic<long> g_cleanups_added{0};
std::atomic<long> g_cleanups_run{0};
std::atomic<long> g_garbage_built{0};
std::atomic<long> g_garbage_destroyed{0};

struct Garbage {
  gc::ptr<Garbage> next;
  long payload[5];
  Garbage() { g_garbage_built.fetch_add(1, std::memory_order_relaxed); }
  ~Garbage() { g_garbage_destroyed.fetch_add(1, std::memory_order_relaxed); }
};

struct Obj {
  explicit Obj(bool allocates) : serial(g_serial.fetch_add(1) + 1), allocates(allocates) {
    canary = kCanary;
    g_built.fetch_add(1, std::memory_order_relaxed);
  }
  ~Obj() {
    if (canary != kCanary) {
      g_bad_destroy.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    canary = 0;
    serial = -serial;
    g_destroyed.fetch_add(1, std::memory_order_relaxed);
    if (allocates) {
      // 1.3 MiB of garbage with destructors: the destructor thread destroys it before it goes on.
      gc::ptr<Garbage> chain;
      for (int i = 0; i < 24'000; ++i) {
        auto g = gc::make<Garbage>();
        if (i % 8 != 0) g->next = chain;
        chain = g;
      }
    }
  }
  gc::ptr<Obj> next;
  long serial;
  std::uint64_t canary;
  bool allocates;
};

struct WeakRef {
  gc::weak<Obj> ref;
  long serial = 0;
  bool kept = false;  // its object is reachable from a kept chain
};

gc::ptr<Obj> make_chain(int length, std::mt19937& rng, std::vector<WeakRef>& weaks, bool kept) {
  gc::ptr<Obj> head;
  for (int i = 0; i < length; ++i) {
    auto o = gc::make<Obj>(!kept && rng() % 2000 == 0);
    o->next = head;
    head = o;
    if (rng() % 4 == 0) weaks.push_back({gc::weak<Obj>(o), o->serial, kept});
    if (rng() % 8 == 0) {
      g_cleanups_added.fetch_add(1, std::memory_order_relaxed);
      gc::add_cleanup(o, [] { g_cleanups_run.fetch_add(1, std::memory_order_relaxed); });
    }
  }
  return head;
}

void check_chain(const Obj* o, int length) {
  for (int i = 0; i < length; ++i, o = o->next.get()) {
    if (o == nullptr || o->canary != kCanary || o->serial <= 0) {
      g_bad_chain.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
}

void check_weaks(std::vector<WeakRef>& weaks) {
  for (WeakRef& w : weaks) {
    gc::ptr<Obj> p = w.ref.lock();
    if (!p) {
      if (w.kept) g_lost.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (p->canary != kCanary || p->serial != w.serial)
      g_bad_lock.fetch_add(1, std::memory_order_relaxed);
  }
}

// One destructor thread destroys for all (design notes, known limits): the threads make a bounded
// amount of garbage, which it can keep up with, rather than run for a given time.
__attribute__((noinline)) void work(unsigned seed, long max_rounds) {
  std::mt19937 rng(seed);
  std::array<gc::ptr<Obj>, 4> kept;
  std::array<int, 4> kept_length{};
  std::vector<WeakRef> weaks;
  long rounds = 0;
  while (rounds < max_rounds) {
    const std::size_t k = rng() % kept.size();
    const bool keep = rng() % 16 == 0;
    if (keep) {
      // The weak references into the chain that goes are no longer to reachable objects.
      for (WeakRef& w : weaks) w.kept = false;
      const int length = 16 + static_cast<int>(rng() % 64);
      kept[k] = make_chain(length, rng, weaks, true);
      kept_length[k] = length;
      // The other kept chains' weak references were cleared above: they may still lock, which
      // check_weaks accepts; only this chain's must.
    } else {
      const int length = 32 + static_cast<int>(rng() % 256);
      auto chain = make_chain(length, rng, weaks, false);
      check_chain(chain.get(), length);
    }
    if (kept[k]) check_chain(kept[k].get(), kept_length[k]);
    if (rounds % 8 == 0) check_weaks(weaks);
    if (weaks.size() > 4096) {
      // Forget the oldest half, not the current kept chain's.
      std::vector<WeakRef> rest;
      rest.reserve(weaks.size());
      for (std::size_t i = 0; i < weaks.size(); ++i)
        if (i >= weaks.size() / 2 || weaks[i].kept) rest.push_back(std::move(weaks[i]));
      weaks = std::move(rest);
    }
    ++rounds;
  }
  check_weaks(weaks);
  for (std::size_t k = 0; k < kept.size(); ++k)
    if (kept[k]) check_chain(kept[k].get(), kept_length[k]);
}

TEST(DestructorSpecialsStress, WeakRefsAndCleanupsFollowObjectsWhoseSlotsComeBackAtOnce) {
  constexpr long kRounds = test::kThreadSanitizer || test::kAddressSanitizer ? 300 : 1500;
  std::atomic<bool> done{false};
  std::thread collector([&] {
    while (!done.load(std::memory_order_relaxed)) {
      gc::collect();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t) threads.emplace_back([t] { work(t + 11, kRounds); });
  for (auto& t : threads) t.join();
  done.store(true);
  collector.join();
  // Everything is garbage now: its destructors, the garbage they make, and the cleanups all run.
  gc::collect();
  gc::collect();
  gc::collect();
  std::printf(
      "built %ld, destroyed %ld; garbage built %ld, destroyed %ld; cleanups %ld of %ld; "
      "%llu cycles\n",
      g_built.load(), g_destroyed.load(), g_garbage_built.load(), g_garbage_destroyed.load(),
      g_cleanups_run.load(), g_cleanups_added.load(),
      static_cast<unsigned long long>(gc::read_stats().num_gc));
  EXPECT_EQ(g_bad_destroy.load(), 0);
  EXPECT_EQ(g_bad_lock.load(), 0);
  EXPECT_EQ(g_lost.load(), 0);
  EXPECT_EQ(g_bad_chain.load(), 0);
  // A few may stay reachable from stale words of this thread's stack.
  EXPECT_LE(g_built.load() - g_destroyed.load(), 64);
  EXPECT_GE(g_built.load() - g_destroyed.load(), 0);
  EXPECT_LE(g_garbage_built.load() - g_garbage_destroyed.load(), 64);
  EXPECT_LE(g_cleanups_added.load() - g_cleanups_run.load(), 64);
  EXPECT_GE(g_cleanups_added.load() - g_cleanups_run.load(), 0);
  EXPECT_GT(g_garbage_built.load(), 0);
}

}  // namespace
