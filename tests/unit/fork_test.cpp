// fork() from a multi-threaded program: the child goes on allocating and collecting, with the
// parent's other threads gone from its registry, and the parent is unaffected.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../support/sanitizers.hpp"
#include "../support/support.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using test::Tracked;

using test::kThreadSanitizer;

// The child's checks, as an exit code: 0 when all hold.
int child_main(const gc::ptr<Tracked>& kept) {
  if (gc::detail::registered_threads() != 1) return 2;  // only this thread survived the fork
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 20000; ++i) gc::make<Tracked>(i);
    gc::collect();
  }
  if (!test::chain_intact(kept.get(), 1000)) return 3;
  if (gc::read_stats().num_gc < 20) return 4;
  return 0;
}

TEST(Fork, AChildOfAMultiThreadedProgramAllocatesAndCollects) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  gc::ptr<Tracked> kept = test::make_chain(1000);
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t)
    busy.emplace_back([&] {
      while (!stop.load()) {
        for (int i = 0; i < 1000; ++i) gc::make<Tracked>(i);
      }
    });
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

}  // namespace
