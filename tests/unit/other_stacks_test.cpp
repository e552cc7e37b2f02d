// Stacks a thread is on without having said so, and slots one thread makes on another's stack:
//   - a signal handler on a sigaltstack that never calls the library (a profiler's tick, a crash
//     handler) is interrupted by the stop signal: both the alternate stack and the interrupted
//     stack are scanned, with no help from the program;
//   - a gc::ptr that a helper thread constructs in a frame on another thread's stack is never left
//     in the root set after that frame is gone, whether the owner was registered first or not.
// ctest-env: GODEBUG=gccheckmark=1
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "../support/sanitizers.hpp"
#include "../support/signal_stack.hpp"
#include "../support/support.hpp"
#include "gc/root_set.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using test::churn;
using test::collect_and_reuse;
using test::Tracked;

std::atomic<Tracked*> g_handoff{nullptr};
std::atomic<int> g_handler_state{0};  // 1: the handler holds its list; 2: it may return
std::atomic<bool> g_handler_ok{false};

// Runs on the alternate stack and never calls the library: the only copy of its list's address is
// in this frame, on the alternate stack.
void profiler_tick(int) {
  Tracked* volatile held = g_handoff.exchange(nullptr);
  g_handler_state.store(1);
  while (g_handler_state.load() != 2) {
  }
  g_handler_ok.store(test::chain_intact(held, 1000));
}

TEST(OtherStacks, AHandlerOnASignalStackIsScannedWithTheStackItInterrupted) {
  // ThreadSanitizer runs the program's handler from its own, later, and holds back other signals
  // while it runs: the stop signal would never reach the handler, and the stop would wait forever.
  if (test::kThreadSanitizer) GTEST_SKIP() << "signals inside handlers are held back under TSan";
  bool thread_ok = false;
  std::thread ticking([&] {
    constexpr std::size_t kSignalStack = 256 * 1024;
    void* signal_stack = std::malloc(kSignalStack);
    ASSERT_TRUE(
        test::install_handler_on_signal_stack(SIGPROF, profiler_tick, signal_stack, kSignalStack));

    Tracked* mine = test::make_raw_chain(1000);  // only in this frame, on the thread's own stack
    g_handoff.store(test::make_raw_chain(1000));
    ::pthread_kill(::pthread_self(), SIGPROF);  // returns once the handler has
    thread_ok = test::chain_intact(mine, 1000);

    test::remove_signal_stack();
    std::free(signal_stack);
  });
  while (g_handler_state.load() != 1) std::this_thread::yield();
  collect_and_reuse(5);  // each stop and stack scan interrupts the handler
  g_handler_state.store(2);
  ticking.join();
  EXPECT_TRUE(g_handler_ok.load());
  EXPECT_TRUE(thread_ok);
}

std::atomic<std::uintptr_t> g_scan_from{0};  // where a stop inside the handler scans from
std::atomic<std::uintptr_t> g_held_at{0};    // the address of the slot below the signal stack

// The tick, and what a stop landing in it computes (the stop signal's handler calls locate_stacks
// the same way): a scan that starts above the slot would miss it, even where a stale copy of its
// value elsewhere kept the list alive.
void profiler_tick_noting_the_scan(int signal) {
  g_scan_from.store(gc::detail::locate_stacks(gc::detail::t_mutator.record,
                                              gc::detail::current_stack_pointer(),
                                              /*in_signal_handler=*/true)
                        .sp);
  profiler_tick(signal);
}

// A frame below the one that holds the alternate stack's buffer: its list is only here.
__attribute__((noinline)) bool raise_tick_below_the_signal_stack() {
  Tracked* volatile mine = test::make_raw_chain(1000);
  g_held_at.store(reinterpret_cast<std::uintptr_t>(&mine));
  ::pthread_kill(::pthread_self(), SIGPROF);  // returns once the handler has
  return test::chain_intact(mine, 1000);
}

// An alternate stack that is a buffer in a frame of the thread's own stack, as some programs set
// one up: the handler's stack pointer lies inside the thread's stack, but the interrupted frames
// lie below the buffer and must be scanned too.
TEST(OtherStacks, ASignalStackInsideTheThreadsOwnStackIsScannedWithTheFramesBelowIt) {
  if (test::kThreadSanitizer) GTEST_SKIP() << "signals inside handlers are held back under TSan";
  bool thread_ok = false;
  std::thread ticking([&] {
    alignas(64) unsigned char buffer[128 * 1024];  // the alternate stack, in this frame
    ASSERT_TRUE(test::install_handler_on_signal_stack(SIGPROF, profiler_tick_noting_the_scan,
                                                      buffer, sizeof buffer));
    gc::collect();  // registers this thread
    g_handoff.store(test::make_raw_chain(1000));
    thread_ok = raise_tick_below_the_signal_stack();
    test::remove_signal_stack();
    asm volatile("" : : "r"(buffer) : "memory");
  });
  while (g_handler_state.load() != 1) std::this_thread::yield();
  collect_and_reuse(5);  // each stop and stack scan interrupts the handler
  g_handler_state.store(2);
  ticking.join();
  EXPECT_LE(g_scan_from.load(), g_held_at.load()) << "the frames below the signal stack are missed";
  EXPECT_TRUE(g_handler_ok.load());
  EXPECT_TRUE(thread_ok);
}

// The owner registered before the helper makes the slot: the slot is on a known stack.
TEST(OtherStacks, ASlotMadeOnARegisteredThreadsStackIsNotARoot) {
  gc::collect();
  const std::size_t roots_before = gc::detail::root_count();
  std::thread owner([&] {
    gc::collect();  // registers this thread
    // Storage in this frame that a helper constructs a gc::ptr in, as std::optional::emplace would.
    alignas(gc::ptr<Tracked>) unsigned char storage[sizeof(gc::ptr<Tracked>)];
    gc::ptr<Tracked>* slot = nullptr;
    std::thread([&] { slot = new (storage) gc::ptr<Tracked>(gc::make<Tracked>(7)); }).join();
    EXPECT_EQ(gc::detail::root_count(), roots_before);
    collect_and_reuse(2);  // kept alive by the owner's stack scan
    EXPECT_TRUE((*slot)->intact());
    slot->~ptr();
  });
  owner.join();
  collect_and_reuse(2);  // a root left behind would now read a dead stack
  EXPECT_EQ(gc::detail::root_count(), roots_before);
}

// The owner has never called the library when the helper makes the slot: the slot is a root until
// the owner registers, which hands it to the owner's stack scan.
TEST(OtherStacks, ASlotMadeBeforeItsStacksThreadRegistersIsHandedToItsScan) {
  gc::collect();
  const std::size_t roots_before = gc::detail::root_count();
  std::thread owner([&] {
    // Storage in this frame that a helper constructs a gc::ptr in, as std::optional::emplace would.
    alignas(gc::ptr<Tracked>) unsigned char storage[sizeof(gc::ptr<Tracked>)];
    gc::ptr<Tracked>* slot = nullptr;
    std::thread([&] { slot = new (storage) gc::ptr<Tracked>(gc::make<Tracked>(7)); }).join();
    EXPECT_EQ(gc::detail::root_count(), roots_before + 1);
    collect_and_reuse(2);  // registers this thread; from then on its stack scan keeps the object
    EXPECT_EQ(gc::detail::root_count(), roots_before);
    EXPECT_TRUE((*slot)->intact());
    slot->~ptr();
  });
  owner.join();
  collect_and_reuse(2);
  EXPECT_EQ(gc::detail::root_count(), roots_before);
}

}  // namespace
