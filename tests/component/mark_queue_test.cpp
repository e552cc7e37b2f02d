// ctest-env: GOGC=off
// The grey queue's bookkeeping alone (src/gc/mark_queue.hpp): when the mark counts as out of work,
// and how mark termination closes it. The test plays the collector: it opens and closes marks
// itself, queues chunks of made-up addresses and takes them back unscanned, and plays a mark
// worker that wakes late with a thread that makes markers in a loop. GOGC=off, and nothing here
// allocates through gc::make outside the death test, so no cycle of the library's own runs.
#include "gc/mark_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "gc/mark_stack.hpp"
#include "gc/marker.hpp"
#include "tricolor/gc.hpp"

namespace {

using gc::detail::close_mark;
using gc::detail::grey_queue_empty;
using gc::detail::grey_queue_take;
using gc::detail::mark_closed;
using gc::detail::mark_quiescent;
using gc::detail::MarkChunk;
using gc::detail::Marker;
using gc::detail::MarkStack;
using gc::detail::open_mark;

// Queues one chunk holding a made-up address: grey work that only take_back_work() may touch.
void queue_work() {
  MarkStack stack;
  stack.push(0x1000);
  stack.give_all([](MarkChunk* c) { gc::detail::grey_queue_put(c); });
}

void take_back_work() {
  while (MarkChunk* c = grey_queue_take()) gc::detail::free_mark_chunk(c);
}

TEST(MarkQueue, TheMarkClosesOnlyWithNoMarkerAliveAndNoWorkQueued) {
  EXPECT_TRUE(mark_closed()) << "no mark is open before the first";
  open_mark();
  {
    Marker marker(Marker::Mode::kMark);
    EXPECT_FALSE(mark_quiescent());
    EXPECT_FALSE(close_mark()) << "a marker alive may hold work";
  }
  queue_work();
  EXPECT_FALSE(mark_quiescent());
  EXPECT_FALSE(close_mark()) << "work is queued";
  take_back_work();
  EXPECT_TRUE(mark_quiescent());
  EXPECT_FALSE(mark_closed());
  EXPECT_TRUE(close_mark());
  EXPECT_TRUE(mark_closed());
  open_mark();
  EXPECT_FALSE(mark_closed());
  EXPECT_TRUE(close_mark());
}

TEST(MarkQueue, AMarkerMadeAfterTheMarkClosedTakesNothingFromTheNextMark) {
  open_mark();
  ASSERT_TRUE(close_mark());
  Marker late(Marker::Mode::kMark);  // a mark worker that woke after termination
  ASSERT_TRUE(mark_closed()) << "the late marker is not counted";
  open_mark();
  queue_work();
  EXPECT_TRUE(late.drain());
  EXPECT_FALSE(grey_queue_empty()) << "the late marker took the next mark's work uncounted";
  EXPECT_FALSE(mark_quiescent());
  take_back_work();
  EXPECT_TRUE(mark_quiescent());
  EXPECT_TRUE(close_mark());
}

// A worker that wakes late makes a marker now and then, finds nothing and ends it. Without the
// close, the marker would show as busy in a mark that termination has found out of work.
TEST(MarkQueue, AMarkerStartedLateNeverShowsInAClosedMark) {
  std::atomic<bool> stop{false};
  std::atomic<long> late_markers{0};
  std::thread late_worker([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      Marker marker(Marker::Mode::kMark);
      marker.drain();
      late_markers.fetch_add(1, std::memory_order_relaxed);
    }
  });
  // Until the late worker has made many markers, however the two threads are scheduled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int failed_round = -1;
  for (int round = 0; failed_round < 0 && (round < 2000 || late_markers.load() < 100'000) &&
                      std::chrono::steady_clock::now() < deadline;
       ++round) {
    open_mark();
    while (!close_mark()) std::this_thread::yield();
    for (int i = 0; i < 200; ++i) {
      if (!mark_closed()) failed_round = round;
    }
  }
  stop.store(true, std::memory_order_relaxed);
  late_worker.join();
  EXPECT_EQ(failed_round, -1) << "a marker showed in a closed mark";
  EXPECT_GE(late_markers.load(), 100'000);
}

struct Node {
  gc::ptr<Node> next;
};

__attribute__((noinline)) void shade_with_a_late_marker() {
  const gc::ptr<Node> node = gc::make<Node>();
  Marker late(Marker::Mode::kMark);
  late.shade(reinterpret_cast<std::uintptr_t>(node.get()));
}

TEST(MarkQueueDeathTest, ALateMarkerGivenWorkStopsTheProgram) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(shade_with_a_late_marker(), "a marker made after mark termination was given grey");
}

}  // namespace
