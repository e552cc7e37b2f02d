// LibraryThread (src/runtime/library_thread.hpp): the one way the library owns a thread of its own.
// A round of work runs per wake (wakes during a round cause one more, not one each), stop() waits
// for the thread to leave and start() makes a new one, which owes a round for the wakes its
// predecessor left unserved and none for those it served, only kMutator threads join the registry
// that stops of the world wait for, a thread waking one counts as stopped during the wake, and what
// a round leaves on the thread's dead stack keeps nothing alive while the thread waits for the
// next.
#include "runtime/library_thread.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "../support/support.hpp"
#include "gc/cycle.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/gc.hpp"

namespace {

using gc::detail::LibraryThread;

std::atomic<int> g_rounds{0};
std::atomic<bool> g_release{true};
std::atomic<bool> g_in_round{false};

void count_round() {
  g_in_round = true;
  while (!g_release.load()) std::this_thread::yield();
  g_in_round = false;
  g_rounds.fetch_add(1);
}

constinit LibraryThread g_mutator_thread("test mutator thread", count_round);
constinit LibraryThread g_collector_thread("test collector thread", count_round,
                                           LibraryThread::Kind::kCollector);

// A round that makes an object and leaves its address all over its frame, as a round that used the
// object in its locals and spills does. The thread then waits in a blocking scope, whose entry
// copies its own frame, laid over this one's, for the collector to scan: the slots of that frame
// it never writes would still hold the address.
std::atomic<int> g_dirty_rounds{0};

__attribute__((noinline)) void leave_an_address_behind() {
  volatile std::uintptr_t frame[96];
  const auto address = reinterpret_cast<std::uintptr_t>(gc::make<test::Tracked>(7).get());
  for (auto& word : frame) word = address;
  g_dirty_rounds.fetch_add(1);
}

constinit LibraryThread g_dirty_thread("test dirty thread", leave_an_address_behind);

TEST(LibraryThread, ARoundsDeadFramesKeepNothingAliveWhileTheThreadWaits) {
  gc::detail::ensure_registered();
  g_dirty_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_dirty_rounds.load() == 1; }));
  EXPECT_EQ(test::Tracked::alive.load(), 1);
  ASSERT_TRUE(test::eventually([] {
    return test::threads_named("test dirty thread", [](const gc::detail::ThreadRecord& r) {
             return r.in_blocking_region.load();
           }) == 1;
  }));
  test::collect_clean();
  test::collect_clean();
  EXPECT_EQ(test::Tracked::alive.load(), 0) << "the round's object outlived it";
  g_dirty_thread.stop();
}

TEST(LibraryThread, OneRoundPerWakeAndWakesDuringARoundCauseOneMore) {
  gc::detail::ensure_registered();
  g_mutator_thread.start();
  EXPECT_TRUE(g_mutator_thread.started());
  EXPECT_EQ(g_rounds.load(), 0);  // started, not woken: no round
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));

  g_release = false;
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_in_round.load(); }));
  for (int i = 0; i < 5; ++i) g_mutator_thread.wake();  // during the round: one more, not five
  g_release = true;
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_rounds.load(), 3);
  g_mutator_thread.stop();
}

TEST(LibraryThread, StopWaitsForTheThreadToLeaveAndStartMakesANewOne) {
  gc::detail::ensure_registered();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));
  ASSERT_TRUE(test::eventually([] { return test::threads_named("test mutator thread") == 1; }));
  g_mutator_thread.stop();
  EXPECT_FALSE(g_mutator_thread.started());
  // The thread has left its loop; it leaves the registry as it exits.
  ASSERT_TRUE(test::eventually([] { return test::threads_named("test mutator thread") == 0; }));
  g_mutator_thread.wake();  // a new thread
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  EXPECT_TRUE(test::eventually([] { return test::threads_named("test mutator thread") == 1; }));
  g_mutator_thread.stop();
}

// The wakes a thread served are the signal's, not the thread's: a new thread made after a stop
// owes nothing for the wakes its predecessor served. (Counted per thread, a new one started from
// zero and ran one round for all of them, before or after the wake that made it, which then ran
// another.)
TEST(LibraryThread, ANewThreadAfterAStopDoesNoRoundForWakesTheOldOneServed) {
  gc::detail::ensure_registered();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));
  g_mutator_thread.stop();
  g_mutator_thread.start();  // not woken: no round
  ASSERT_TRUE(test::eventually([] { return test::threads_named("test mutator thread") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_rounds.load(), 1);
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_rounds.load(), 2);
  g_mutator_thread.stop();
}

// A wake that comes while no thread runs is served by the next one (notify()'s promise), stop or
// no stop in between.
TEST(LibraryThread, AWakeWhileNoThreadRunsIsServedByTheNextOne) {
  gc::detail::ensure_registered();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));
  g_mutator_thread.stop();
  g_mutator_thread.notify();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_rounds.load(), 1);  // no thread to run it yet
  g_mutator_thread.start();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_rounds.load(), 2);
  g_mutator_thread.stop();
}

// Waking a library thread is a system call, and on a virtual machine the interrupt behind it took
// up to 35 us: the waker counts as stopped while it makes the call, so a stop of the world goes
// ahead meanwhile. The wake's hook, which runs where the system call is made, has another thread
// stop the world and waits for that stop to complete, with signals blocked, as a thread inside a
// system call cannot take the stop signal. Were the waker not counted as stopped, the stop would
// wait for it, and the hook would give up after 10 seconds.
std::atomic<std::thread::id> g_waker;
std::atomic<bool> g_stop_asked{false};
std::atomic<bool> g_world_was_stopped{false};
std::atomic<bool> g_stopped_during_wake{false};

void have_the_world_stopped_and_wait() {
  if (std::this_thread::get_id() != g_waker.load()) return;  // a wake of the library's own
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  g_stop_asked = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!g_world_was_stopped.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  g_stopped_during_wake = g_world_was_stopped.load();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

TEST(LibraryThread, AStopDoesNotWaitForAThreadWakingOne) {
  gc::detail::ensure_registered();
  g_mutator_thread.start();
  std::thread stopper([] {
    while (!g_stop_asked.load()) std::this_thread::yield();
    std::lock_guard cycle(gc::detail::cycle_mutex());
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    g_world_was_stopped = true;
    gc::detail::start_the_world(std::move(world));
  });
  g_waker = std::this_thread::get_id();
  LibraryThread::set_wake_hook_for_test(have_the_world_stopped_and_wait);
  g_mutator_thread.notify();
  LibraryThread::set_wake_hook_for_test(nullptr);
  stopper.join();
  EXPECT_TRUE(g_stopped_during_wake.load()) << "the stop waited for the thread making the wake";
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));
  g_mutator_thread.stop();
}

// The thread that stopped the world wakes one as any thread inside a critical section does: were
// it counted as stopped for the wake, it would park in its own stop on the way out, for good. A
// watchdog that never calls the library (so no stop waits for it or stops it) says so.
TEST(LibraryThread, TheThreadThatStoppedTheWorldCanWakeOne) {
  gc::detail::ensure_registered();
  g_mutator_thread.start();
  std::atomic<bool> woke{false};
  std::thread watchdog([&] {
    if (test::eventually([&] { return woke.load(); })) return;
    std::fprintf(stderr, "the thread that stopped the world parked in its own stop\n");
    std::abort();
  });
  {
    std::lock_guard cycle(gc::detail::cycle_mutex());
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    g_mutator_thread.notify();
    gc::detail::start_the_world(std::move(world));
  }
  woke = true;
  watchdog.join();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 1; }));
  g_mutator_thread.stop();
}

TEST(LibraryThread, OnlyMutatorThreadsJoinTheRegistry) {
  gc::detail::ensure_registered();
  g_collector_thread.wake();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  ASSERT_TRUE(test::wait_for_library_threads_to_register());
  EXPECT_EQ(test::threads_named("test mutator thread"), 1u);
  EXPECT_EQ(test::threads_named("test collector thread"), 0u);
  g_collector_thread.stop();
  g_mutator_thread.stop();
}

// The OS knows each library thread as "gc " and its name, cut to 15 bytes: what top -H, perf and
// gdb show for it.
std::size_t os_threads_named(const std::string& name) {
  std::size_t n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++n;
  }
  return n;
}

TEST(LibraryThread, TheOsKnowsEachThreadByItsName) {
  // A new thread has its creator's name until it sets its own: the first thread to register starts
  // the destructor thread, which would be "gc test mutator" for a moment had that one registered
  // first.
  gc::detail::ensure_registered();
  ASSERT_TRUE(test::eventually([] { return os_threads_named("gc destructors") == 1; }));
  g_collector_thread.wake();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  EXPECT_EQ(os_threads_named("gc test collect"), 1u);
  EXPECT_EQ(os_threads_named("gc test mutator"), 1u);
  g_collector_thread.stop();
  g_mutator_thread.stop();
  gc::collect();  // starts the mark controller, which starts the sweeper: named its own soon after
  EXPECT_TRUE(test::eventually([] {
    return os_threads_named("gc sweeper") == 1 && os_threads_named("gc mark control") == 1;
  }));
}

}  // namespace
