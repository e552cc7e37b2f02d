// Stopping the world with threads that do not cooperate: one blocked in read(2), one spinning in a
// loop that never reaches a safepoint. Both hold their objects only through raw pointers on their
// stacks; collections must go on (the signal stops them) and their objects must survive.
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "../support/sanitizers.hpp"
#include "../support/support.hpp"
#include "base/settings.hpp"
#include "gc/cycle.hpp"
#include "gc/mark_state.hpp"
#include "heap/page_heap.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using test::churn;
using test::Tracked;

using test::kThreadSanitizer;

TEST(Threads, BlockedAndSpinningThreadsKeepTheirObjects) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::atomic<bool> stop_spinning{false};
  std::atomic<int> ready{0};
  std::atomic<bool> reader_ok{false}, spinner_ok{false};

  std::thread reader([&] {
    Tracked* mine = test::make_raw_chain(1000);
    ready.fetch_add(1);
    char byte;
    // ThreadSanitizer holds a signal back while the thread is inside read(), which would then
    // never end; it delivers signals during poll(). Without it, the thread blocks in read() itself.
    if (kThreadSanitizer) {
      pollfd pfd{fds[0], POLLIN, 0};
      while (::poll(&pfd, 1, -1) != 1) {
      }
    }
    const ssize_t n = ::read(fds[0], &byte, 1);  // blocks for the whole test
    reader_ok = n == 1 && test::chain_intact(mine, 1000);
  });
  std::thread spinner([&] {
    Tracked* mine = test::make_raw_chain(1000);
    ready.fetch_add(1);
    volatile std::uint64_t counter = 0;
    while (!stop_spinning.load(std::memory_order_relaxed)) {
      counter = counter + 1;
      // ThreadSanitizer delivers a signal only when the thread enters a function it intercepts;
      // give it one. It is not a tricolor safepoint: the stop signal still does the work.
      if (kThreadSanitizer && counter % 1024 == 0) sched_yield();
    }
    spinner_ok = test::chain_intact(mine, 1000);
  });
  while (ready.load() < 2) std::this_thread::yield();

  const auto before = gc::read_stats();
  for (int i = 0; i < 10; ++i) {
    churn(8 << 20);
    gc::collect();
  }
  const auto after = gc::read_stats();
  EXPECT_GE(after.num_gc - before.num_gc, 10u);
  // Each stop signals the two threads a few microseconds in; nothing waits for the blocked thread.
  EXPECT_LT(after.pause_max_ns, 500'000'000u);

  stop_spinning = true;
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  reader.join();
  spinner.join();
  EXPECT_TRUE(reader_ok);
  EXPECT_TRUE(spinner_ok);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Threads, BlockingRegionsAreNotWaitedFor) {
  std::atomic<bool> inside{false}, leave{false};
  std::thread sleeper([&] {
    Tracked* mine = test::make_raw_chain(100);
    {
      gc::blocking_region region;
      inside = true;
      while (!leave.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(test::chain_intact(mine, 100));
    gc::make<Tracked>();  // managed memory is usable again after the region
  });
  while (!inside.load()) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) gc::collect();
  // A thread in a blocking region is never signalled, so stops stay short.
  EXPECT_LT(gc::read_stats().pause_max_ns, 200'000'000u);
  leave = true;
  sleeper.join();
}

TEST(Threads, ExitingThreadsLeaveTheRegistry) {
  gc::make<int>(1);  // registers this thread
  EXPECT_EQ(test::program_threads(), 1u);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([] { churn(1 << 20); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(test::program_threads(), 1u);
  gc::collect();
}

TEST(Threads, SafepointLetsALoopCooperate) {
  std::atomic<bool> stop{false};
  std::thread looper([&] {
    Tracked* mine = test::make_raw_chain(50);
    while (!stop.load(std::memory_order_relaxed)) gc::safepoint();
    EXPECT_TRUE(test::chain_intact(mine, 50));
  });
  for (int i = 0; i < 20; ++i) gc::collect();
  stop = true;
  looper.join();
}

// The collector sends the stop signal to a thread that has not stopped yet; the thread may reach a
// safepoint and park before the signal lands. The late signal must leave alone the range that the
// collector scans and the record of how the thread stopped.
TEST(Threads, ALateStopSignalLeavesAParkedThreadAlone) {
  gc::make<int>(1);  // registers this thread: the stop leaves its caller running
  std::atomic<bool> stop{false};
  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::thread looper([&] {
    record = gc::detail::ensure_registered();
    while (!stop.load(std::memory_order_relaxed)) gc::safepoint();
  });
  while (record.load() == nullptr) std::this_thread::yield();
  gc::detail::ThreadRecord* r = record.load();
  {
    std::lock_guard cycle(gc::detail::cycle_mutex());
    std::optional<gc::detail::WorldStopped> world;
    // On a loaded machine the looper may not get the CPU within the microseconds a stop waits
    // before signalling it: stop again until it has parked at its safepoint.
    for (int i = 0; i < 200; ++i) {
      world.emplace(gc::detail::stop_the_world());
      if (r->cooperative.load()) break;
      gc::detail::start_the_world(std::move(*world));
      world.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the looper get the CPU
    }
    ASSERT_TRUE(r->cooperative.load());
    const std::uintptr_t scan_sp = r->scan_sp.load();
    ::pthread_kill(r->handle, gc::detail::settings().stop_signal);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(r->scan_sp.load(), scan_sp);
    EXPECT_TRUE(r->cooperative.load());
    gc::detail::start_the_world(std::move(*world));
  }
  stop = true;
  looper.join();
}

// A stop signals every late thread at once. A thread that will not arrive for a long time (here,
// one inside a critical section, where the signal is deferred to the section's end) must not hold
// back the signal of a thread behind it in the registry: their deliveries would add up. (A spinner
// kept off its CPU for 20 ms looks stopped: on a loaded machine the test can miss a broken stop,
// but it does not fail a working one.)
TEST(Threads, EveryLateThreadIsSignalledAtOnce) {
  gc::make<int>(1);  // registers this thread: the stop leaves its caller running
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> spins{0};
  std::atomic<gc::detail::ThreadRecord*> spinner_record{nullptr}, holder_record{nullptr};
  std::thread spinner([&] {
    spinner_record = gc::detail::ensure_registered();
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      spins.store(++n, std::memory_order_relaxed);
      // ThreadSanitizer delivers a signal only at a call it intercepts (see above).
      if (kThreadSanitizer && n % 1024 == 0) sched_yield();
    }
  });
  while (spinner_record.load() == nullptr) std::this_thread::yield();

  // Registered after the spinner, so ahead of it in the registry: the stop comes to it first.
  std::atomic<bool> inside{false}, spinner_stopped{false};
  std::thread holder([&] {
    holder_record = gc::detail::ensure_registered();
    gc::detail::CriticalSection section;
    inside = true;
    while (!gc::detail::world_stopping()) std::this_thread::yield();
    // The spinner parks in the signal's handler: its count stays put from then on.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::uint64_t last = spins.load();
    int unchanged = 0;
    while (unchanged < 20 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const std::uint64_t now = spins.load();
      unchanged = now == last ? unchanged + 1 : 0;
      last = now;
    }
    spinner_stopped = unchanged == 20;
  });
  while (!inside.load()) std::this_thread::yield();
  {
    std::lock_guard cycle(gc::detail::cycle_mutex());
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    EXPECT_GE(world.stats().signalled, 2u);
    // Otherwise a stop that signals one thread at a time would signal the spinner first, and pass.
    bool holder_first = false;
    for (gc::detail::ThreadRecord* r = gc::detail::registry_head(); r != nullptr; r = r->next) {
      if (r == holder_record.load()) holder_first = true;
      if (r == spinner_record.load()) break;
    }
    EXPECT_TRUE(holder_first) << "the holder is not ahead of the spinner in the registry";
    gc::detail::start_the_world(std::move(world));
  }
  stop = true;
  spinner.join();
  holder.join();
  EXPECT_TRUE(spinner_stopped.load());
}

// Backing a span's pages (back_pages) is one system call that the stop signal cannot interrupt,
// and on a virtual machine it sometimes takes milliseconds: the thread makes it inside a blocking
// scope, so that a stop of the world goes ahead while it runs. Here a thread backs a range that
// takes tens of milliseconds; once the call has begun (its first page is resident) the world is
// stopped, and the range is found only partly resident: the stop did not wait for the call. Made
// outside the blocking scope, the call returns before the stop completes, and the range is whole.
TEST(Threads, AStopDoesNotWaitForAThreadBackingPages) {
  const auto os_page = static_cast<std::size_t>(::getpagesize());
  gc::make<int>(1);  // registers this thread: the stop leaves its caller running
  constexpr std::size_t kBytes = std::size_t{128} << 20;
  const std::size_t pages = kBytes / os_page;
  std::vector<unsigned char> in_core(pages);
  // A call that finished before the stop began (a slow scheduler) proves nothing: try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    void* range = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(range, MAP_FAILED);
    const auto lo = reinterpret_cast<std::uintptr_t>(range);
    std::atomic<bool> backed{false};
    std::thread backer([lo, &backed] {
      gc::detail::ensure_registered();
      gc::detail::back_pages({lo, lo + kBytes});
      backed = true;
    });
    // Until the call has begun, or has ended without backing anything (a kernel without
    // MADV_POPULATE_WRITE, or one that refused the memory).
    unsigned char first = 0;
    while (::mincore(range, os_page, &first) == 0 && (first & 1) == 0 && !backed.load())
      std::this_thread::yield();
    int mincore_result = 0;
    bool ended_before_the_stop = false;
    {
      std::lock_guard cycle(gc::detail::cycle_mutex());
      gc::detail::WorldStopped world = gc::detail::stop_the_world();
      ended_before_the_stop = backed.load();
      mincore_result = ::mincore(range, kBytes, in_core.data());
      gc::detail::start_the_world(std::move(world));
    }
    backer.join();
    ::munmap(range, kBytes);
    ASSERT_EQ(mincore_result, 0);
    std::size_t resident = 0;
    for (unsigned char page : in_core) resident += page & 1;
    if (resident == 0) GTEST_SKIP() << "the kernel backed nothing on request";
    if (!ended_before_the_stop && resident < pages) return;
  }
  FAIL() << "every stop waited for the backing call to return";
}

// The restart's wake may give the restarting thread's CPU to a thread it wakes, for milliseconds:
// by then the registry's lock is free (a new stop, a thread that registers or exits need not wait
// for that CPU), and at mark termination the cycle's lock too.
std::atomic<int> g_restarts_seen{0};
std::atomic<int> g_registry_held_at_wake{0};
std::atomic<int> g_termination_wakes{0};
std::atomic<int> g_cycle_held_at_termination_wake{0};
thread_local bool t_holds_the_cycle_lock = false;

void see_restart() {
  g_restarts_seen.fetch_add(1);
  {
    std::unique_lock registry(gc::detail::registry_mutex(), std::try_to_lock);
    if (!registry.owns_lock()) g_registry_held_at_wake.fetch_add(1);
  }
  // The test's own stop and mark start hold the cycle's lock through the restart on purpose, and
  // so does a termination attempt that finds the mark not done (the mark goes on).
  if (t_holds_the_cycle_lock || gc::detail::marking()) return;
  g_termination_wakes.fetch_add(1);
  std::unique_lock cycle(gc::detail::cycle_mutex(), std::try_to_lock);
  if (!cycle.owns_lock()) g_cycle_held_at_termination_wake.fetch_add(1);
}

TEST(Threads, TheWorldRestartsBeforeItsWakeWithTheLocksGivenBack) {
  gc::detail::ensure_registered();
  // The destructor thread, which the first registration starts, registers in its turn: not while
  // the hook looks.
  ASSERT_TRUE(test::wait_for_library_threads_to_register());
  t_holds_the_cycle_lock = true;
  gc::detail::set_restart_hook_for_test(see_restart);
  {
    std::lock_guard cycle(gc::detail::cycle_mutex());
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    gc::detail::start_the_world(std::move(world));
  }
  EXPECT_EQ(g_restarts_seen.load(), 1);
  gc::collect();
  gc::detail::set_restart_hook_for_test(nullptr);
  EXPECT_GE(g_restarts_seen.load(), 3);  // the first, mark start, termination
  EXPECT_EQ(g_termination_wakes.load(), 1);
  EXPECT_EQ(g_registry_held_at_wake.load(), 0);
  EXPECT_EQ(g_cycle_held_at_termination_wake.load(), 0);
}

}  // namespace
