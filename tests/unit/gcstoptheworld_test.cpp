// GODEBUG=gcstoptheworld=1 marks in the pause of mark start, and =2 also sweeps before the cycle
// returns. Each test
// sets GODEBUG itself before the library reads it (every test runs in a process of its own).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <regex>
#include <thread>
#include <vector>

#include "../support/sanitizers.hpp"
#include "../support/signal_stack.hpp"
#include "../support/support.hpp"
#include "gc/cycle.hpp"

namespace {

using test::Tracked;

struct Blob {
  char bytes[64];
};

__attribute__((noinline)) void make_garbage(int n) {
  for (int i = 0; i < n; ++i) gc::make<Blob>();
}

// Threads build and replace chains while cycles run; every chain must stay intact.
void churn_with_cycles() {
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([] {
      for (int round = 0; round < 20; ++round) {
        gc::ptr<Tracked> chain = test::make_chain(2000);
        make_garbage(2000);
        ASSERT_TRUE(test::chain_intact(chain.get(), 2000));
      }
    });
  }
  for (int i = 0; i < 5; ++i) gc::collect();
  for (auto& t : threads) t.join();
}

TEST(StopTheWorldMode, OneMarksInThePause) {
  ::setenv("GODEBUG", "gcstoptheworld=1,gccheckmark=1,gctrace=1", 1);
  ::testing::internal::CaptureStderr();
  churn_with_cycles();
  const std::string out = ::testing::internal::GetCapturedStderr();
  // Nothing happens between the pauses: the concurrent phase takes no time.
  const std::regex line(R"(gc \d+ @\d+\.\d{3}s \d+%: \d+\.\d+\+0\.000\+0\.000 ms clock)");
  EXPECT_TRUE(std::regex_search(out, line)) << out;
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

TEST(StopTheWorldMode, TwoSweepsBeforeTheCycleReturns) {
  ::setenv("GODEBUG", "gcstoptheworld=2,gccheckmark=1", 1);
  churn_with_cycles();
  // Objects without destructors, freed by the sweep. No cycle of the pacer's may run (and sweep
  // them, on the allocating thread, under =2) before `before` is read: on a loaded machine one did.
  const int percent = gc::set_percent(-1);
  test::in_thread([] { make_garbage(10000); });
  gc::set_percent(percent);
  const gc::stats before = gc::read_stats();
  gc::detail::run_cycle(gc::detail::CycleReason::kForced);  // no finish_sweeping afterwards
  const gc::stats after = gc::read_stats();
  EXPECT_GE(after.frees - before.frees, 9900u);
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

constexpr std::size_t kSignalStack = 512 * 1024;
alignas(64) unsigned char g_signal_stack[kSignalStack];  // in .bss: far from any thread's stack
std::atomic<bool> g_handler_ok{false};

// Runs on the alternate stack; its list's address is only in this frame.
void collect_in_handler(int) {
  Tracked* volatile held = test::make_raw_chain(500);
  gc::collect();
  test::churn(2000);
  g_handler_ok.store(test::chain_intact(held, 500));
}

// A collection started in a handler on the alternate stack marks in the pause with the two stacks
// the collecting thread is on: the alternate stack from the handler up, and the interrupted stack.
TEST(StopTheWorldMode, ACollectionInAHandlerOnASignalStackScansBothStacks) {
  // A collection is not async-signal-safe (it starts threads, takes locks), and ThreadSanitizer
  // reports just that.
  if (test::kThreadSanitizer) GTEST_SKIP() << "a collection inside a handler is signal-unsafe";
  ::setenv("GODEBUG", "gcstoptheworld=1,gccheckmark=1", 1);
  bool thread_ok = false;
  std::thread t([&] {
    ASSERT_TRUE(test::install_handler_on_signal_stack(SIGUSR2, collect_in_handler, g_signal_stack,
                                                      kSignalStack));
    Tracked* mine = test::make_raw_chain(500);  // only in this frame, on the thread's own stack
    ::pthread_kill(::pthread_self(), SIGUSR2);
    thread_ok = test::chain_intact(mine, 500);
    test::remove_signal_stack();
  });
  t.join();
  EXPECT_TRUE(g_handler_ok.load());
  EXPECT_TRUE(thread_ok);
}

}  // namespace
