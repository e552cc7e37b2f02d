// The write barrier's buffer (gc/write_barrier.hpp). A thread flushes its own full buffer a chunk
// to a critical section: a stop of the world that lands during the flush waits for one chunk, and
// the collector shades what is left with the world stopped. The test makes a stop land inside the
// first chunk (the test hook) and looks at the parked thread's buffer: it still holds all but that
// chunk. Flushed in one critical section, the buffer would be empty when the thread parks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

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
using test::Tracked;

struct Holder {
  gc::ptr<Tracked> slot;
};

std::atomic<bool> g_armed{false};
std::atomic<bool> g_stop_wanted{false};
std::atomic<bool> g_stop_deferred{false};

// The hook, on the flushing thread, inside a chunk's critical section: asks for a stop and waits
// until its signal has landed here and been deferred.
void stop_inside_flush() {
  if (!g_armed.exchange(false)) return;
  g_stop_deferred.store(test::ask_for_a_stop_and_wait_until_deferred(g_stop_wanted));
}

TEST(BarrierBuffer, AStopDuringAFlushWaitsForOneChunk) {
  constexpr std::uint32_t kEntries = gc::detail::ThreadRecord::kBarrierBufferEntries;
  gc::detail::set_mark_hold(MarkHold::kAfterRoots);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterRoots);
  ASSERT_TRUE(gc::detail::marking());

  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::atomic<bool> flushed{false};
  std::thread actor([&] {
    record = gc::detail::ensure_registered();
    gc::ptr<Holder> holder = gc::make<Holder>();
    gc::ptr<Tracked> a = gc::make<Tracked>(1), b = gc::make<Tracked>(2);
    gc::detail::g_barrier_flush_hook.store(&stop_inside_flush);
    g_armed.store(true);
    // Each store off the stack puts two entries in the buffer: the old value and the new.
    for (std::uint32_t i = 0; i < kEntries && g_armed.load(); ++i) holder->slot = i % 2 ? a : b;
    gc::detail::g_barrier_flush_hook.store(nullptr);
    flushed = !g_armed.load();
    EXPECT_EQ(record.load()->barrier_count, 0u) << "the flush did not finish after the stop";
  });

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!g_stop_wanted.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_TRUE(g_stop_wanted.load()) << "the buffer never filled";
  std::uint32_t left = 0;
  {
    std::lock_guard cycle(gc::detail::cycle_mutex());
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    left = record.load()->barrier_count;
    gc::detail::start_the_world(std::move(world));
  }
  actor.join();
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  gc::detail::finish_sweeping();
  gc::detail::wait_for_destructors();

  EXPECT_TRUE(flushed.load());
  EXPECT_TRUE(g_stop_deferred.load()) << "the stop did not land inside the flush";
  // The chunk the stop landed in was shaded before the thread parked; the rest waited.
  EXPECT_GT(left, 0u) << "the whole buffer was flushed inside one critical section";
  EXPECT_LT(left, kEntries);
}

}  // namespace
