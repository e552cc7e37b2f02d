// A stop of the world made to land inside a thread's flush of its own barrier buffer
// (gc/write_barrier.hpp), for each kind of store that buffers: gc::ptr's assignment
// (barrier_buffer_test) and gc::atomic_ptr's writes (atomic_ptr_test). A thread flushes its own
// buffer a chunk to a critical section, so the stop waits for one chunk, and the collector shades
// the rest with the world stopped: the parked thread's buffer still holds all but that chunk.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

#include "gc/cycle.hpp"
#include "gc/mark_state.hpp"
#include "gc/test_hooks.hpp"
#include "held_mark.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"
#include "support.hpp"

namespace test {

inline constexpr std::uint32_t kBarrierEntries = gc::detail::ThreadRecord::kBarrierBufferEntries;

inline std::atomic<bool> g_flush_armed{false};
inline std::atomic<bool> g_stop_wanted{false};
inline std::atomic<bool> g_stop_deferred{false};

// Runs `look` with the world stopped.
template <class Look>
void with_the_world_stopped(Look look) {
  std::lock_guard cycle(gc::detail::cycle_mutex());
  gc::detail::WorldStopped world = gc::detail::stop_the_world();
  look();
  gc::detail::start_the_world(std::move(world));
}

// Once `actor` is done, lets the held mark end, sweeps, and runs the destructors it queued.
inline void end_the_held_cycle(std::thread& actor) {
  actor.join();
  finish_held_cycle();
}

// The hook, on the flushing thread, inside a chunk's critical section: asks for a stop and waits
// until its signal has landed here and been deferred.
inline void stop_inside_flush() {
  if (!g_flush_armed.exchange(false)) return;
  g_stop_deferred.store(ask_for_a_stop_and_wait_until_deferred(g_stop_wanted));
}

// Fills a new thread's buffer during a held mark, from an even or an odd count, with stores of two
// entries each made by `store(holder, value)` into a Holder made by gc::make, and stops the world
// when the thread's flush asks; returns the entries the parked thread still held then.
template <class Holder, class Store>
std::uint32_t entries_left_at_a_stop_during_the_flush(bool odd, Store store) {
  g_flush_armed = false;
  g_stop_wanted = false;
  g_stop_deferred = false;
  start_held_cycle(gc::detail::MarkHold::kAfterRoots);
  EXPECT_TRUE(gc::detail::marking());

  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::atomic<bool> flushed{false};
  std::thread actor([&] {
    gc::detail::ThreadRecord* r = gc::detail::ensure_registered();
    record = r;
    gc::ptr<Holder> holder = gc::make<Holder>(), other = gc::make<Holder>();
    gc::ptr<Tracked> a = gc::make<Tracked>(1), b = gc::make<Tracked>(2);
    store(*holder, a);  // one entry: nothing overwritten
    if ((r->barrier_count % 2 == 1) != odd) store(*other, a);
    EXPECT_EQ(r->barrier_count % 2 == 1, odd);
    gc::detail::g_barrier_flush_hook.store(&stop_inside_flush);
    g_flush_armed.store(true);
    for (std::uint32_t i = 0; i < kBarrierEntries && g_flush_armed.load(); ++i)
      store(*holder, i % 2 ? a : b);
    gc::detail::g_barrier_flush_hook.store(nullptr);
    flushed = !g_flush_armed.exchange(false);
    EXPECT_EQ(r->barrier_count, 0u) << "the flush did not finish after the stop";
  });

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!g_stop_wanted.load(std::memory_order_acquire) && !flushed.load() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  std::uint32_t left = 0;
  if (g_stop_wanted.load()) with_the_world_stopped([&] { left = record.load()->barrier_count; });
  end_the_held_cycle(actor);

  EXPECT_TRUE(g_stop_wanted.load()) << "the thread's own flush never ran: flushed in the store";
  EXPECT_TRUE(flushed.load());
  EXPECT_TRUE(g_stop_deferred.load()) << "the stop did not land inside the flush";
  return left;
}

}  // namespace test
