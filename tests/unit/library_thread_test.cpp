// LibraryThread (src/runtime/library_thread.hpp): the one way the library owns a thread of its own.
// A round of work runs per wake (wakes during a round cause one more, not one each), stop() waits
// for the thread to leave and start() makes a new one, which owes a round for the wakes its
// predecessor left unserved and none for those it served, only kMutator threads join the registry
// that stops of the world wait for, and what a round leaves on the thread's dead stack keeps
// nothing alive while the thread waits for the next.
#include "runtime/library_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "../support/support.hpp"
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

TEST(LibraryThread, OnlyMutatorThreadsJoinTheRegistry) {
  gc::detail::ensure_registered();
  g_collector_thread.wake();
  g_mutator_thread.wake();
  ASSERT_TRUE(test::eventually([] { return g_rounds.load() == 2; }));
  EXPECT_TRUE(test::eventually([] { return test::threads_named("test mutator thread") == 1; }));
  EXPECT_EQ(test::threads_named("test collector thread"), 0u);
  g_collector_thread.stop();
  g_mutator_thread.stop();
}

}  // namespace
