// fork() from a multi-threaded program: the child goes on allocating and collecting, with the
// parent's other threads gone from its registry, and the parent is unaffected; a fork never waits
// for a thread that the library stopped inside malloc, nor deadlocks with threads that register and
// exit around it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "../support/sanitizers.hpp"
#include "../support/support.hpp"
#include "gc/mark_queue.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using test::Tracked;

using test::kAddressSanitizer;
using test::kThreadSanitizer;

// The child's checks, as an exit code: 0 when all hold.
int child_main(const gc::ptr<Tracked>& kept) {
  if (test::program_threads() != 1) return 2;  // only this thread survived the fork
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 20000; ++i) gc::make<Tracked>(i);
    gc::collect();
  }
  if (!test::chain_intact(kept.get(), 1000)) return 3;
  if (gc::read_stats().num_gc < 20) return 4;
  // The cleanup thread did not survive the fork: a new one runs the child's cleanups.
  std::atomic<int> cleaned{0};
  std::thread([&] { gc::add_cleanup(gc::make<Tracked>(1), [&] { cleaned.fetch_add(1); }); }).join();
  gc::collect();
  if (cleaned.load() != 1) return 5;
  return 0;
}

TEST(Fork, AChildOfAMultiThreadedProgramAllocatesAndCollects) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  // A child hung in calloc 1 run in 7 to 40: a parent thread (a library thread starting up, say)
  // held a lock of LLVM 14's ASan allocator at the fork, and the child inherits it held.
  if (kAddressSanitizer) GTEST_SKIP() << "LLVM 14's ASan allocator is not fork-safe";
  gc::ptr<Tracked> kept = test::make_chain(1000);
  // The parent has a cleanup thread, idle at the fork: its object stays alive, so the thread never
  // frees memory while the children are forked. Wait until it has registered (finished starting).
  auto with_cleanup = gc::make<Tracked>(2);
  gc::add_cleanup(with_cleanup, [] {});
  while (!test::thread_named("cleanups")) std::this_thread::yield();
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t)
    busy.emplace_back([&] {
      gc::make<Tracked>(0);
      running.fetch_add(1);
      while (!stop.load()) {
        for (int i = 0; i < 1000; ++i) gc::make<Tracked>(i);
      }
    });
  // Fork only once the threads run: one still starting may be inside the sanitizer's allocator,
  // whose lock (unlike the C library's) a child of LLVM 14's ASan inherits held.
  while (running.load() < 3) std::this_thread::yield();
  std::vector<pid_t> children;
  for (int k = 0; k < 5; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(child_main(kept));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  stop = true;
  for (auto& t : busy) t.join();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(kept.get(), 1000));
}

// A thread that spends its time in malloc, with the arena's lock held (blocks too large for the
// per-thread malloc cache), and never reaches a safepoint, so that every stop signals it. The C
// library's fork takes malloc's locks after the fork handlers have run, as allocators that register
// their own handlers do: the library's handler must not leave this thread stopped where it is.
TEST(Fork, NeverWaitsForAThreadStoppedInsideMalloc) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  if (kAddressSanitizer) GTEST_SKIP() << "LLVM 14's ASan allocator is not fork-safe";
  ::alarm(60);  // a deadlock fails the test instead of hanging it
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::thread mallocing([&] {
    gc::make<Tracked>(0);  // registered, so every stop must deal with this thread
    running = true;
    unsigned n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      void* p = std::malloc(4096 + (++n % 64) * 64);
      std::memset(p, 1, 64);
      std::free(p);
    }
  });
  while (!running.load()) std::this_thread::yield();
  for (int k = 0; k < 200; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 1000; ++i) gc::make<Tracked>(i);
      gc::collect();
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  stop = true;
  mallocing.join();
  ::alarm(0);
}

// Threads that start, register and exit while the program forks. A thread registering or exiting
// holds the registry's lock around critical sections of its own; the fork's handler raises its
// flag, which keeps sections from beginning, and then waits for that lock. A section begun under
// the lock waited for the flag: both waited forever (1 fork in about 10,000 under load).
TEST(Fork, NeverDeadlocksWithThreadsThatRegisterAndExit) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  if (kAddressSanitizer) GTEST_SKIP() << "LLVM 14's ASan allocator is not fork-safe";
  ::alarm(60);           // a deadlock fails the test instead of hanging it
  gc::make<Tracked>(0);  // the runtime starts (and installs its fork handlers) before any fork
  std::atomic<bool> stop{false};
  std::vector<std::thread> spawners;
  for (int t = 0; t < 2; ++t)
    spawners.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed))
        std::thread([] { gc::make<Tracked>(0); }).join();
    });
  for (int k = 0; k < 500; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      gc::make<Tracked>(k);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  stop = true;
  for (auto& t : spawners) t.join();
  ::alarm(0);
}

// A thread waiting for grey work counts as a hungry marker, and the mark may end, and a fork come,
// before it wakes. The child must not inherit the count: its markers would split their stacks for
// a thread that does not exist.
TEST(Fork, TheChildForgetsThreadsWaitingForGreyWork) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  if (kAddressSanitizer) GTEST_SKIP() << "LLVM 14's ASan allocator is not fork-safe";
  gc::make<Tracked>(0);  // the runtime starts (and installs its fork handlers) before any fork
  std::thread waiter(
      [] { gc::detail::wait_for_grey_work(gc::detail::mark_events(), 60'000'000'000); });
  ASSERT_TRUE(test::eventually([] { return gc::detail::grey_queue_hungry(); }));
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(gc::detail::grey_queue_hungry() ? 1 : 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child counts a waiter that did not survive the fork";
  gc::detail::notify_mark_event();
  waiter.join();
  EXPECT_FALSE(gc::detail::grey_queue_hungry());
}

}  // namespace
