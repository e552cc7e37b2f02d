// The write barrier's buffer (gc/write_barrier.hpp), filled by gc::ptr's assignment. A thread
// flushes its own full buffer a chunk to a critical section: a stop of the world that lands during
// the flush waits for one chunk (support/barrier_flush.hpp); flushed in one critical section, the
// buffer would be empty when the thread parks.
//
// A store puts one entry in the buffer or two (the value it overwrites, if any, and the value it
// stores), so the buffer fills from an odd or an even count; each test fills it from one. A flush
// that waited for the buffer to fill exactly would be made inside the store's own critical section
// from one of the two.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "../support/barrier_flush.hpp"
#include "../support/held_mark.hpp"
#include "../support/support.hpp"
#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/mark_state.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/mutator.hpp"

namespace {

using gc::detail::MarkHold;
using test::end_the_held_cycle;
using test::g_stop_deferred;
using test::g_stop_wanted;
using test::Tracked;
using test::with_the_world_stopped;

constexpr std::uint32_t kEntries = test::kBarrierEntries;

struct Holder {
  gc::ptr<Tracked> slot;
};

void assign(Holder& holder, const gc::ptr<Tracked>& value) { holder.slot = value; }

std::uint32_t entries_left_at_a_stop_during_the_flush(bool odd) {
  return test::entries_left_at_a_stop_during_the_flush<Holder>(odd, assign);
}

TEST(BarrierBuffer, AStopDuringAFlushFromAnOddCountWaitsForOneChunk) {
  const std::uint32_t left = entries_left_at_a_stop_during_the_flush(/*odd=*/true);
  // The chunk the stop landed in was shaded before the thread parked; the rest waited.
  EXPECT_GT(left, 0u) << "the whole buffer was flushed inside one critical section";
  EXPECT_LT(left, kEntries);
}

TEST(BarrierBuffer, AStopDuringAFlushFromAnEvenCountWaitsForOneChunk) {
  const std::uint32_t left = entries_left_at_a_stop_during_the_flush(/*odd=*/false);
  EXPECT_GT(left, 0u) << "the whole buffer was flushed inside one critical section";
  EXPECT_LT(left, kEntries);
}

// A store made while the barrier is on, and its barrier, fall in one critical section: a stop that
// lands between them (the hook asks for one there) waits until both are done, so the parked thread
// has stored the new value and buffered the old and the new. A stop that parked the thread between
// its barrier and its store, and was followed by the mark's end and the next mark's start before
// the thread ran again, would let the store escape both marks' barriers.
std::atomic<bool> g_store_armed{false};

void stop_inside_store() {
  if (!g_store_armed.exchange(false)) return;
  g_stop_deferred.store(test::ask_for_a_stop_and_wait_until_deferred(g_stop_wanted));
}

TEST(BarrierBuffer, AStopBetweenABarrieredStoreAndItsBarrierWaitsForBoth) {
  g_stop_wanted = false;
  g_stop_deferred = false;
  test::start_held_cycle(MarkHold::kAfterRoots);
  ASSERT_TRUE(gc::detail::marking());

  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::atomic<Holder*> holder_seen{nullptr};
  std::atomic<Tracked*> stored{nullptr};
  std::atomic<std::uint32_t> count_before{0};
  std::thread actor([&] {
    gc::detail::ThreadRecord* r = gc::detail::ensure_registered();
    record = r;
    gc::ptr<Holder> holder = gc::make<Holder>();
    gc::ptr<Tracked> a = gc::make<Tracked>(1), b = gc::make<Tracked>(2);
    holder->slot = a;
    holder_seen = holder.get();
    stored = b.get();
    count_before = r->barrier_count;
    gc::detail::g_barrier_store_hook.store(&stop_inside_store);
    g_store_armed.store(true);
    holder->slot = b;  // overwrites a: two entries
    gc::detail::g_barrier_store_hook.store(nullptr);
  });

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!g_stop_wanted.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_TRUE(g_stop_wanted.load()) << "the store did not reach its hook";
  Tracked* in_slot = nullptr;
  std::uint32_t count_at_stop = 0;
  with_the_world_stopped([&] {
    in_slot = holder_seen.load()->slot.get();
    count_at_stop = record.load()->barrier_count;
  });
  end_the_held_cycle(actor);

  EXPECT_TRUE(g_stop_deferred.load()) << "the stop landed outside a critical section";
  EXPECT_EQ(in_slot, stored.load());
  // The buffer may have been flushed by the store itself when it filled; otherwise it holds two
  // more entries than before the store.
  EXPECT_TRUE(count_at_stop == count_before.load() + 2 || count_at_stop < count_before.load())
      << count_before.load() << " entries before the store, " << count_at_stop << " at the stop";
}
}  // namespace
