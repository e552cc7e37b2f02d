// Who scans a stack right after mark start (gc/stack_scan.hpp): the thread that started the mark
// scans the stopped threads' stacks before it wakes the controller; a thread stopped by mark start
// scans its own on its way out of the park; a thread inside an IdleScope is counted as scanned
// without being read. Each test holds the mark controller at its first hold point, where it has
// scanned nothing, so that only the mechanism under test can scan the stack it watches. In the
// first two the watched thread keeps an object only on its stack through the cycle, which must
// survive.
#include "gc/stack_scan.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "../support/held_mark.hpp"
#include "../support/support.hpp"
#include "gc/mark_state.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using gc::detail::MarkHold;
using test::Tracked;

// A flag the threads wait on without calling into the library, so they reach no safepoint (yield:
// under ThreadSanitizer a signal is delivered only at an intercepted call).
void wait_for(const std::atomic<int>& step, int value) {
  while (step.load(std::memory_order_acquire) != value) std::this_thread::yield();
}

bool scanned_in_this_mark(const gc::detail::ThreadRecord* r) {
  return r->scanned_cycle.load() == gc::detail::g_mark.cycle.load() &&
         !r->mutator->stack_unscanned.load();
}

// Runs `hold` on a thread of its own, which keeps an object only on its stack, while a cycle runs
// with its controller held: `watch` sees the thread's record during the hold, `flags`
// (gc::detail::BarrierTestFlags) apply from before mark start. The object must survive the cycle.
template <class Hold, class Watch>
void while_a_thread_holds_an_object(unsigned flags, Hold hold, Watch watch) {
  // The library's threads started and idle first: one that registers just after the stop holds
  // the registry's lock, and the starting thread would leave the stacks to the controller.
  test::collect_clean();
  ASSERT_TRUE(test::wait_for_library_threads_to_register());
  std::atomic<int> step{0};
  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::thread holder([&] {
    gc::ptr<Tracked> x = gc::make<Tracked>(1);  // only on this stack
    // The latest slot of a thread stopped by signal at mark start is shaded: take another after x.
    gc::make<int>(2);
    record.store(gc::detail::t_mutator.record);
    hold(step);
    EXPECT_TRUE(x->intact());
  });
  wait_for(step, 1);
  gc::detail::g_barrier_test_flags.store(flags);
  test::start_held_cycle(MarkHold::kAfterStart);
  watch(record.load());
  step.store(2, std::memory_order_release);
  wait_for(step, 3);  // the holder still holds x: it leaves only after the cycle
  test::finish_held_cycle();
  step.store(4, std::memory_order_release);
  holder.join();
  gc::detail::g_barrier_test_flags.store(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

// A thread spinning without a safepoint is stopped by signal at mark start; it scans its stack as
// it leaves the park, with the controller held and the starter's scans switched off.
TEST(StackScan, AThreadStoppedByMarkStartScansItsStackAsItLeavesThePark) {
  while_a_thread_holds_an_object(
      gc::detail::kTestNoStarterScan,
      [](std::atomic<int>& step) {
        step.store(1, std::memory_order_release);
        wait_for(step, 2);
        step.store(3, std::memory_order_release);
        wait_for(step, 4);
      },
      [](const gc::detail::ThreadRecord* r) {
        EXPECT_TRUE(test::eventually([&] { return scanned_in_this_mark(r); }));
      });
}

// A thread inside a blocking region at mark start is scanned by the thread that started the mark,
// before the controller (held here) could, if its stack is within the starter's budget: under
// ThreadSanitizer it is not, since the top of each thread's stack holds its static TLS, where
// ThreadSanitizer keeps most of a MiB of state per thread.
TEST(StackScan, TheThreadThatStartsAMarkScansTheStacksOfBlockedThreads) {
  while_a_thread_holds_an_object(
      0,
      [](std::atomic<int>& step) {
        gc::blocking_region waiting;
        step.store(1, std::memory_order_release);
        wait_for(step, 2);
        step.store(3, std::memory_order_release);
        wait_for(step, 4);
      },
      [](const gc::detail::ThreadRecord* r) {
        const std::uintptr_t bytes = r->stack_hi - r->scan_sp.load();
        if (bytes <= gc::detail::kAfterMarkStartScanBytes) {
          EXPECT_TRUE(scanned_in_this_mark(r));
        } else {
          std::printf("the blocked thread's stack, %zu bytes, is over the starter's budget\n",
                      static_cast<std::size_t>(bytes));
        }
      });
}

// A thread inside an IdleScope at mark start is counted as scanned without being read.
TEST(StackScan, AThreadInAnIdleScopeAtMarkStartCountsAsScanned) {
  std::atomic<int> step{0};
  std::atomic<gc::detail::ThreadRecord*> record{nullptr};
  std::thread idle([&] {
    gc::detail::ensure_registered();
    record.store(gc::detail::t_mutator.record);
    {
      gc::detail::IdleScope scope;
      step.store(1, std::memory_order_release);
      wait_for(step, 2);
    }
  });
  wait_for(step, 1);
  gc::detail::g_barrier_test_flags.store(gc::detail::kTestNoStarterScan);
  test::start_held_cycle(MarkHold::kAfterStart);
  EXPECT_TRUE(scanned_in_this_mark(record.load()));
  step.store(2, std::memory_order_release);
  idle.join();
  test::finish_held_cycle();
  gc::detail::g_barrier_test_flags.store(0);
}

}  // namespace
