// LibraryThread (src/runtime/library_thread.hpp): the one way the library owns a thread of its own.
// A round of work runs per wake (wakes during a round cause one more, not one each), stop() waits
// for the thread to leave and start() makes a new one, and only kMutator threads join the registry
// that stops of the world wait for.
#include "runtime/library_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support/support.hpp"
#include "runtime/thread_registry.hpp"

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
