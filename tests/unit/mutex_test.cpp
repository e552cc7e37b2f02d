// The library's mutex (src/base/mutex.hpp): lock_spinning tries the lock for a while before it
// sleeps on it, and still excludes: threads that increment a counter under it lose no increment,
// whether they win it spinning or sleeping (a holder that keeps it for a while makes waiters
// sleep).
#include "base/mutex.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace {

TEST(Mutex, LockSpinningExcludes) {
  gc::detail::Mutex mutex{gc::detail::LockRank::kLeaf};
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200'000; ++i) {
        gc::detail::MutexLock lock(mutex);
        const long seen = counter;
        if (t == 0 && i % 20'000 == 0)  // long enough that the others stop spinning and sleep
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        counter = seen + 1;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 800'000);
}

}  // namespace
