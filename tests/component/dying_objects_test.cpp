// The destructor thread's batch loop alone (detail/dying_objects.hpp): destroy_some over objects in
// ordinary memory, with a destructor that records what it saw. Nothing is allocated in the heap.
#include "tricolor/detail/dying_objects.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using gc::detail::destroy_some;
using gc::detail::DyingObjects;
using gc::detail::t_mutator;

struct alignas(16) Slot {
  std::byte bytes[48];
};
static_assert(sizeof(Slot) == 48);

// What each destructor found when it ran: the object, and the thread's dying range.
struct Seen {
  std::uintptr_t object, dying_lo, dying_size;
};
std::vector<Seen> g_seen;
std::uintptr_t g_throw_at = 0;  // the object whose destructor throws

void destroy(void* object) noexcept {
  g_seen.push_back(
      {reinterpret_cast<std::uintptr_t>(object), t_mutator.dying_lo, t_mutator.dying_size});
}

void destroy_or_throw(void* object) {
  destroy(object);
  if (reinterpret_cast<std::uintptr_t>(object) == g_throw_at) throw std::runtime_error("boom");
}

class DyingObjectsComponent : public ::testing::Test {
 protected:
  void SetUp() override {
    g_seen.clear();
    g_throw_at = 0;
    batch_.hidden_first = ~reinterpret_cast<std::uintptr_t>(slots_.data());
    batch_.size = sizeof(Slot);
    batch_.running = &running_;
    batch_.started = &started_;
  }
  std::uintptr_t slot(unsigned i) const { return ~batch_.hidden_first + i * sizeof(Slot); }
  static std::uint64_t bits(std::initializer_list<unsigned> indices) {
    std::uint64_t b = 0;
    for (unsigned i : indices) b |= std::uint64_t{1} << i;
    return b;
  }

  std::array<Slot, 64> slots_{};
  std::atomic<const void*> running_{nullptr};
  std::atomic<std::uint64_t> started_{0};
  DyingObjects batch_;
};

TEST_F(DyingObjectsComponent, DestroysInSlotOrderUpToTheBudgetAndLeavesTheRestPending) {
  batch_.pending = bits({1, 3, 4, 9, 63});
  batch_.budget = 3;
  destroy_some<&destroy>(batch_);
  ASSERT_EQ(g_seen.size(), 3u);
  const unsigned expected[] = {1, 3, 4};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(g_seen[i].object, slot(expected[i]));
    // Each destructor runs with its own object named as dying, and only it.
    EXPECT_EQ(g_seen[i].dying_lo, slot(expected[i]));
    EXPECT_EQ(g_seen[i].dying_size, sizeof(Slot));
  }
  EXPECT_EQ(batch_.pending, bits({9, 63}));
  EXPECT_EQ(started_.load(), 3u);
  EXPECT_EQ(running_.load(), reinterpret_cast<const void*>(slot(4)));
  // Thread-local storage is a root: no address of a destroyed object stays there.
  EXPECT_EQ(t_mutator.dying_lo, 0u);
  EXPECT_EQ(t_mutator.dying_size, 0u);

  batch_.budget = 16;  // the next call goes on where this one stopped
  destroy_some<&destroy>(batch_);
  ASSERT_EQ(g_seen.size(), 5u);
  EXPECT_EQ(g_seen[3].object, slot(9));
  EXPECT_EQ(g_seen[4].object, slot(63));
  EXPECT_EQ(batch_.pending, 0u);
  EXPECT_EQ(started_.load(), 5u);
}

TEST_F(DyingObjectsComponent, ADestructorThatThrowsIsReportedAndTheOthersStillRun) {
  batch_.pending = bits({0, 1, 2});
  batch_.budget = 16;
  g_throw_at = slot(1);
  ::testing::internal::CaptureStderr();
  destroy_some<&destroy_or_throw>(batch_);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(g_seen.size(), 3u);
  EXPECT_EQ(g_seen[2].object, slot(2));
  EXPECT_EQ(batch_.pending, 0u);
  EXPECT_NE(err.find("tricolor: a destructor threw (object "), std::string::npos) << err;
  EXPECT_NE(err.find("boom"), std::string::npos) << err;
  EXPECT_EQ(t_mutator.dying_lo, 0u);
}

}  // namespace
