// gc::this_thread_gc_time(): the calling thread's time in the collector's slow paths, by kind.
// Each test drives one slow path and checks that its kind, and only on the thread that paid, grew.
// No test asserts how long anything took.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tricolor/gc.hpp"

namespace {

struct Block {
  unsigned char bytes[1024];
};

TEST(ThreadGcTime, CollectIsChargedToTheThreadThatCalledIt) {
  const gc::thread_gc_time before = gc::this_thread_gc_time();
  gc::collect();
  const gc::thread_gc_time after = gc::this_thread_gc_time();
  EXPECT_GT(after.collect_ns + after.cycle_start_ns, before.collect_ns + before.cycle_start_ns);
  EXPECT_GT(after.collect_ns, before.collect_ns);
}

TEST(ThreadGcTime, NewSpansAreChargedAsSpanTime) {
  const gc::thread_gc_time before = gc::this_thread_gc_time();
  std::vector<gc::ptr<Block>> kept;
  for (int i = 0; i < 4096; ++i) kept.push_back(gc::make<Block>());  // 512 spans of 8 blocks
  const gc::thread_gc_time after = gc::this_thread_gc_time();
  EXPECT_GT(after.span_ns, before.span_ns);
  EXPECT_GE(after.total_ns(), before.total_ns() + (after.span_ns - before.span_ns));
}

TEST(ThreadGcTime, AThreadStoppedForAnotherThreadsCollectionIsChargedStoppedTime) {
  std::atomic<bool> done{false};
  std::atomic<bool> ready{false};
  gc::thread_gc_time spent;
  std::thread worker([&] {
    gc::ptr<Block> mine = gc::make<Block>();  // registers the thread
    const gc::thread_gc_time before = gc::this_thread_gc_time();
    ready.store(true);
    while (!done.load()) gc::safepoint();
    const gc::thread_gc_time after = gc::this_thread_gc_time();
    spent.stopped_ns = after.stopped_ns - before.stopped_ns;
    spent.collect_ns = after.collect_ns - before.collect_ns;
  });
  while (!ready.load()) std::this_thread::yield();
  for (int i = 0; i < 3; ++i) gc::collect();
  done.store(true);
  worker.join();
  EXPECT_GT(spent.stopped_ns, 0);
  EXPECT_EQ(spent.collect_ns, 0);  // the collections were charged to their caller
}

}  // namespace
