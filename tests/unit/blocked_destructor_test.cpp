// gc::collect() waits for the destructors of what it found dead. A destructor that waits for a lock
// the caller of collect() holds never finishes; collect() then says so on stderr, naming the object
// and the destructor, instead of hanging silently (gc/callback_queue.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "../support/support.hpp"

namespace {

std::timed_mutex g_lock;
std::atomic<bool> g_gave_up{false};

struct NeedsTheLock {
  ~NeedsTheLock() {
    // Gives up after a while, so that the test ends; a real program's destructor would wait on.
    if (g_lock.try_lock_for(std::chrono::seconds(8)))
      g_lock.unlock();
    else
      g_gave_up = true;
  }
  int payload = 0;
};

__attribute__((noinline)) void make_garbage() { gc::make<NeedsTheLock>(); }

TEST(BlockedDestructor, CollectNamesTheDestructorItWaitsFor) {
  test::in_thread(make_garbage);
  ::testing::internal::CaptureStderr();
  {
    std::lock_guard hold(g_lock);  // the destructor needs it
    gc::collect();
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(g_gave_up.load());
  EXPECT_NE(out.find("tricolor: gc::collect() has waited"), std::string::npos) << out;
  EXPECT_NE(out.find("for the destructor of object 0x"), std::string::npos) << out;
}

}  // namespace
