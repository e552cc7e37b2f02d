// ctest-env: GODEBUG=gccheckmark=1
// The mark runs while the program runs, and a program that allocates during it pays in scan work:
// with the background workers held at mark start, an allocating thread drains the grey objects
// itself, and once the heap reaches its goal it waits for the mark instead of growing the heap.
// A blocking collect() puts every CPU to work marking.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <utility>

#include "../support/held_mark.hpp"
#include "../support/support.hpp"
#include "base/clock.hpp"
#include "base/cpus.hpp"
#include "gc/cycle.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/mark_workers.hpp"
#include "gc/marker.hpp"
#include "gc/pacer.hpp"
#include "gc/stack_scan.hpp"
#include "gc/test_hooks.hpp"
#include "heap/collector.hpp"
#include "heap/heap_counters.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using gc::detail::MarkHold;
using test::Tracked;

struct Blob {
  char bytes[1024];
};

TEST(ConcurrentMark, ThreadsRunWhileTheCollectorMarks) {
  gc::detail::set_mark_hold(MarkHold::kAfterRoots);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterRoots);
  EXPECT_TRUE(gc::detail::marking());
  // The mark cannot end while the controller is held; a thread allocates and links 20,000 objects
  // all the same, so the world is running.
  Tracked* head = nullptr;
  test::in_thread([&] { head = test::make_chain(20000).get(); });
  EXPECT_TRUE(gc::detail::marking());
  gc::ptr<Tracked> keep(head);
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(keep.get(), 20000));
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

// A thread that makes 1 KiB objects until finish().
class GoalAllocator {
 public:
  GoalAllocator()
      : thread_([this] {
          while (!stop_.load(std::memory_order_relaxed)) {
            gc::make<Blob>();
            allocated_.fetch_add(1, std::memory_order_relaxed);
          }
        }) {}
  GoalAllocator(const GoalAllocator&) = delete;
  GoalAllocator& operator=(const GoalAllocator&) = delete;
  ~GoalAllocator() { finish(); }

  // Returns once the thread has made nothing for 100 ms: with the workers held, it has paid what it
  // could and waits at the goal for the mark to end.
  void wait_until_stuck() const {
    long seen = -1;
    for (int quiet = 0; quiet < 5;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const long now = allocated_.load();
      quiet = now == seen ? quiet + 1 : 0;
      seen = now;
    }
  }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<long> allocated_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: it starts once the counters above exist
};

TEST(ConcurrentMark, AnAllocatingThreadAssistsAndThenWaitsAtTheGoal) {
  // A chain of 3 MiB, reachable only from this stack: the grey work of the next mark comes from
  // this thread's stack scan.
  constexpr int kNodes = 1 << 17;
  gc::ptr<Tracked> live = test::make_chain(kNodes);
  gc::collect();
  const std::int64_t goal = gc::detail::pacer().goal();

  gc::detail::set_mark_hold(MarkHold::kAfterStart);  // no background marking at all
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  gc::safepoint();  // scans this stack: the chain is grey work now

  GoalAllocator allocator;
  allocator.wait_until_stuck();
  const std::int64_t heap = gc::detail::g_counters.heap_live.load();
  // The allocator scanned the chain itself (all of it but what its last assist left).
  EXPECT_GE(gc::detail::g_mark.assist_work.load(),
            static_cast<std::int64_t>(kNodes * sizeof(Tracked)) / 10 * 9);
  // Span-granular: a thread checks after each new span, so it stops within a span of the goal.
  EXPECT_LE(heap, goal + (std::int64_t{64} << 10)) << "goal " << goal;
  EXPECT_TRUE(gc::detail::marking());
  gc::detail::set_mark_hold(MarkHold::kNone);
  allocator.finish();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(live.get(), kNodes));
}

// The head of a chain that nothing reaches, complemented so that no scan reads it as a pointer.
std::uintptr_t g_hidden_chain = 0;

// An assist that waits at the goal counts as a hungry marker, so that a worker holding the mark's
// grey objects in its own stack splits it onto the queue; and the waiting assist marks what is
// put there, rather than waiting on for the workers' credit. Here the workers are held, the
// allocating thread has marked all the grey work there was and waits at the goal, and the test
// puts a chain's head on the queue as a worker's split would.
TEST(ConcurrentMark, AnAssistWaitingAtTheGoalIsHungryAndMarksWhatIsShared) {
  constexpr int kNodes = 1 << 17;
  constexpr int kHidden = 1 << 13;
  gc::ptr<Tracked> live = test::make_chain(kNodes);
  gc::collect();
  // Read first: a cycle that ran while the chain was made would have freed it (the thread that
  // made it is gone, its stack unscanned), and the check below would see two cycles, not one.
  const std::uint32_t cycles = gc::detail::g_mark.cycle.load();
  test::in_thread(
      [] { g_hidden_chain = ~reinterpret_cast<std::uintptr_t>(test::make_raw_chain(kHidden)); });

  gc::detail::set_mark_hold(MarkHold::kAfterStart);  // no background marking at all
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  ASSERT_EQ(gc::detail::g_mark.cycle.load(), cycles + 1) << "a cycle freed the hidden chain";
  gc::safepoint();  // scans this stack: the live chain is grey work now

  GoalAllocator allocator;
  allocator.wait_until_stuck();
  // Eventually: the waiting assist leaves the count for a moment each time its wait times out.
  EXPECT_TRUE(test::eventually([] { return gc::detail::grey_queue_hungry(); }));

  const std::int64_t before = gc::detail::g_mark.assist_work.load();
  {
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(~g_hidden_chain);
  }  // the marker queues what it greyed as it goes
  const auto hidden_bytes = static_cast<std::int64_t>(kHidden * sizeof(Tracked));
  EXPECT_TRUE(test::eventually([&] {
    return gc::detail::g_mark.assist_work.load() - before >= hidden_bytes / 10 * 9;
  })) << "the assist marked "
      << gc::detail::g_mark.assist_work.load() - before << " of " << hidden_bytes << " bytes";
  EXPECT_TRUE(gc::detail::marking());

  gc::detail::set_mark_hold(MarkHold::kNone);
  allocator.finish();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(live.get(), kNodes));
}

// The bytes of the slot a Tracked lives in: what scanning one counts.
std::int64_t tracked_size(const Tracked* t) {
  gc::detail::ObjectRef object;
  EXPECT_TRUE(gc::detail::find_object(reinterpret_cast<std::uintptr_t>(t), object));
  return static_cast<std::int64_t>(gc::detail::object_size(object.span));
}

// Drains one marker, started at the head of a chain of 4096 in a held mark (no background
// marking), with `drain(marker)`; expects it to end with grey work left after 32 objects, then lets
// the cycle finish and checks the chain.
template <class Drain>
void drain_a_held_chain_for_32_objects(Drain drain) {
  constexpr int kNodes = 1 << 12;
  gc::ptr<Tracked> live = test::make_chain(kNodes);
  gc::detail::set_mark_hold(MarkHold::kAfterStart);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  {
    gc::detail::CriticalSection critical;
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(reinterpret_cast<std::uintptr_t>(live.get()));
    EXPECT_FALSE(drain(marker));
    EXPECT_EQ(marker.scanned_bytes(), 32 * tracked_size(live.get()));
  }
  EXPECT_FALSE(gc::detail::grey_queue_empty()) << "the rest of the chain was not handed on";
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(live.get(), kNodes));
}

// A marker given a deadline (a registered thread's turn, marker.hpp) ends once it has passed, at
// the next 32-object check, and hands what it has not scanned to the grey queue.
TEST(ConcurrentMark, AMarkerWithADeadlineStopsAtTheNextCheck) {
  drain_a_held_chain_for_32_objects(
      [](gc::detail::Marker& marker) { return marker.drain(INT64_MAX, /*deadline=*/0); });
}

// A turn ends, deadline or not, once a stop's signal has landed in its critical section and been
// deferred: the stop waits for the section's end.
TEST(ConcurrentMark, AMarkerTurnEndsWhenAStopWaitsForItsSection) {
  drain_a_held_chain_for_32_objects([](gc::detail::Marker& marker) {
    auto& deferred = gc::detail::t_mutator.stop_deferred;
    // As the signal's handler leaves it; the section's end then finds nothing to stop for.
    deferred.store(1, std::memory_order_relaxed);
    return marker.drain(INT64_MAX, gc::detail::now_ns() + std::int64_t{60} * 1'000'000'000);
  });
}

// An assist marks in turns: a stop of the world that comes while a thread pays a large debt waits
// for one turn, not for the whole debt. With the workers held, the assisting thread marks the
// whole chain; the test stops the world as soon as its first turn is counted, and the assist must
// still have work left when the world starts again. (Paid in one critical section, the debt held
// the stop until the chain was marked.)
TEST(ConcurrentMark, AStopWaitsForOneTurnOfAnAssistNotForItsWholeDebt) {
  constexpr int kNodes = 1 << 20;  // tens of milliseconds of marking, in any build
  gc::ptr<Tracked> live = test::make_chain(kNodes);
  gc::collect();
  gc::detail::set_mark_hold(MarkHold::kAfterStart);  // no background marking at all
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  gc::safepoint();  // scans this stack: the chain is grey work now
  ASSERT_EQ(gc::detail::g_mark.assist_work.load(), 0);

  std::atomic<bool> returned{false};
  std::thread assisting([&] {
    gc::detail::ensure_registered();
    gc::detail::assist_allocation(std::int64_t{1} << 40);  // a debt far beyond the chain
    returned = true;
  });
  // Until its first turn is counted (an assist that returns without one fails the checks below).
  while (gc::detail::g_mark.assist_work.load() == 0 && !returned.load()) std::this_thread::yield();
  gc::detail::WorldStopped world = gc::detail::stop_the_world();
  const std::int64_t at_stop = gc::detail::g_mark.assist_work.load();
  gc::detail::start_the_world(std::move(world));
  assisting.join();
  const std::int64_t total = gc::detail::g_mark.assist_work.load();
  EXPECT_GE(total, static_cast<std::int64_t>(kNodes * sizeof(Tracked)) / 10 * 9);
  EXPECT_LT(at_stop, total) << "the stop waited for the assist's whole debt";

  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  gc::collect();
  EXPECT_TRUE(test::chain_intact(live.get(), kNodes));
}

// An assist scans whole objects, a large one an oblet of 32 KiB at a time, so it scans more than a
// small debt. The surplus pays the thread's next debts in the same mark, and none in the next mark.
// Each held mark below grays a 128 KiB array of gc::ptr (four oblets) through this stack's scan;
// the thread then owes two small debts (a few bytes of scan work each) and the test reads how much
// each made it scan.
struct TwoDebts {
  std::int64_t first = 0, second = 0;
};
TwoDebts scan_work_of_two_small_debts(const gc::ptr<gc::ptr<Tracked>[]>& array) {
  gc::detail::set_mark_hold(MarkHold::kAfterStart);  // no background marking, no credit from it
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  gc::safepoint();  // scans this stack: the array is grey work now
  const std::int64_t start = gc::detail::g_mark.assist_work.load();
  gc::detail::assist_allocation(256);
  const std::int64_t after_first = gc::detail::g_mark.assist_work.load();
  gc::detail::assist_allocation(256);
  const std::int64_t after_second = gc::detail::g_mark.assist_work.load();
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  EXPECT_TRUE(array[0] != nullptr);
  return {after_first - start, after_second - after_first};
}

TEST(ConcurrentMark, AnAssistsSurplusPaysTheThreadsNextDebtsOfThatMarkOnly) {
  constexpr std::size_t kSlots = 128 * 1024 / sizeof(gc::ptr<Tracked>);
  gc::ptr<gc::ptr<Tracked>[]> array = gc::make<gc::ptr<Tracked>[]>(kSlots);
  for (std::size_t i = 0; i < kSlots; ++i) array[i] = gc::make<Tracked>(static_cast<int>(i));
  gc::collect();
  const TwoDebts in_one = scan_work_of_two_small_debts(array);
  EXPECT_GE(in_one.first, 32 * 1024) << "the first debt scanned less than one oblet";
  EXPECT_EQ(in_one.second, 0) << "the second debt was not paid from the first one's surplus";
  // The next mark: the credit left from the last one pays nothing.
  const TwoDebts in_next = scan_work_of_two_small_debts(array);
  EXPECT_GE(in_next.first, 32 * 1024) << "an earlier mark's credit paid this mark's debt";
  gc::collect();
  for (std::size_t i = 0; i < kSlots; ++i) ASSERT_EQ(array[i]->id, static_cast<int>(i));
}

// A 400 KiB array is scanned in oblets, queued separately; every element's target must survive.
TEST(ConcurrentMark, ALargeArrayIsMarkedInPieces) {
  constexpr int kElements = 50000;
  auto array = gc::make<gc::ptr<Tracked>[]>(kElements);
  test::in_thread([&] {
    for (int i = 0; i < kElements; ++i) array[i] = gc::make<Tracked>(i);
  });
  for (int i = 0; i < 3; ++i) gc::collect();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  for (int i = 0; i < kElements; ++i) ASSERT_TRUE(array[i]->intact() && array[i]->id == i) << i;
}

// An object of kWords words with a gc::ptr in its first and its last, and plain words between.
template <std::size_t kWords>
struct Holder {
  gc::ptr<Tracked> first;
  std::uintptr_t middle[kWords - 2] = {};
  gc::ptr<Tracked> last;
};

// 130 Holders, so that their starts fall all over their bitmap words, each Holder's two Tracked
// referenced from nowhere else; two collections; every Tracked is still the one it was, and none
// was destroyed. Returns the Holders, for the caller to keep: garbage of one size would be
// destroyed while the next is checked.
template <std::size_t kWords>
gc::ptr<gc::ptr<Holder<kWords>>[]> expect_holders_keep_both_ends() {
  static_assert(sizeof(Holder<kWords>) == kWords * 8);
  constexpr int kHolders = 130;
  auto holders = gc::make<gc::ptr<Holder<kWords>>[]>(kHolders);
  test::in_thread([&] {
    for (int i = 0; i < kHolders; ++i) {
      auto holder = gc::make<Holder<kWords>>();
      holder->first = gc::make<Tracked>(2 * i);
      holder->last = gc::make<Tracked>(2 * i + 1);
      holders[i] = std::move(holder);
    }
  });
  const long destroyed = Tracked::destroyed.load();
  gc::collect();  // returns once the destructors of what it freed have run
  gc::collect();
  EXPECT_EQ(Tracked::destroyed.load(), destroyed) << kWords << " words";
  for (int i = 0; i < kHolders; ++i) {
    const Holder<kWords>& holder = *holders[i];
    EXPECT_TRUE(holder.first->intact() && holder.first->id == 2 * i) << kWords << " words, " << i;
    EXPECT_TRUE(holder.last->intact() && holder.last->id == 2 * i + 1) << kWords << " words, " << i;
  }
  return holders;
}

// The marker reads a small object's pointer bits (up to 64 words) one or two bitmap words at a
// time, and a larger one's word by word: every size of each kind, and the sizes that straddle a
// bitmap word, keep what their first and last words point to.
TEST(ConcurrentMark, EverySlotOfEverySizeOfObjectIsScanned) {
  const auto words2 = expect_holders_keep_both_ends<2>();
  const auto words3 = expect_holders_keep_both_ends<3>();
  const auto words5 = expect_holders_keep_both_ends<5>();
  const auto words7 = expect_holders_keep_both_ends<7>();
  const auto words9 = expect_holders_keep_both_ends<9>();
  const auto words13 = expect_holders_keep_both_ends<13>();
  const auto words17 = expect_holders_keep_both_ends<17>();
  const auto words31 = expect_holders_keep_both_ends<31>();
  const auto words33 = expect_holders_keep_both_ends<33>();
  const auto words47 = expect_holders_keep_both_ends<47>();
  const auto words63 = expect_holders_keep_both_ends<63>();
  const auto words64 = expect_holders_keep_both_ends<64>();
  const auto words65 = expect_holders_keep_both_ends<65>();
  const auto words100 = expect_holders_keep_both_ends<100>();
}

struct TreeNode {
  gc::ptr<TreeNode> left, right;
};

gc::ptr<TreeNode> tree(int depth) {
  auto n = gc::make<TreeNode>();
  if (depth > 0) {
    n->left = tree(depth - 1);
    n->right = tree(depth - 1);
  }
  return n;
}

// The spare-CPU workers told that a CPU is idle (1), or that none is (0), for one test; the run
// queues decide again after it.
class SpareCpus {
 public:
  explicit SpareCpus(int answer) { gc::detail::g_spare_cpu_for_test.store(answer); }
  ~SpareCpus() { gc::detail::g_spare_cpu_for_test.store(-1); }
  SpareCpus(const SpareCpus&) = delete;
  SpareCpus& operator=(const SpareCpus&) = delete;
};

// A blocking collect() leaves no core idle: its caller, which only waits, marks too (Go's idle
// mark workers), next to the background workers. The spare-CPU workers, which count as idle work
// too, are kept out; and the controller may drain the tree before the caller starts, so the
// caller has up to ten collections to show it.
TEST(ConcurrentMark, ABlockingCollectMarksOnTheCallersThreadToo) {
  const SpareCpus none(0);
  const gc::ptr<TreeNode> root = tree(17);  // 262,143 nodes
  std::int64_t idle = 0, all = 0;
  for (int attempt = 0; attempt < 10 && idle == 0; ++attempt) {
    gc::collect();
    idle = gc::detail::g_mark.idle_work.load();
    all = gc::detail::g_mark.scan_work.load();
  }
  std::printf("the caller scanned %lld of %lld KiB\n", static_cast<long long>(idle >> 10),
              static_cast<long long>(all >> 10));
  EXPECT_GT(idle, 0);
  EXPECT_TRUE(root->left && root->right);
}

// A thread that waits in a blocking region does not hold the stack scans open: the controller
// scans its stack before its first drain, which may last the whole mark. (Until the last stack is
// scanned, every allocation of every thread takes the slow path to its safepoint.) Here the first
// drain has ended, held at its end, and the stacks are all scanned; the test thread, whose stack
// only the collector can scan here, would be due for the whole hold if the controller scanned
// blocked stacks only after that drain. Another thread starts the mark, and the flag keeps this
// one from scanning its stack as it leaves mark start's park, and the library's idle threads due.
TEST(ConcurrentMark, TheCollectorScansABlockedThreadsStackBeforeItDrains) {
  const int percent = gc::set_percent(-1);
  gc::detail::ensure_registered();
  gc::detail::g_barrier_test_flags.store(gc::detail::kTestNoEarlyScan);
  gc::detail::set_mark_hold(MarkHold::kAfterStart);
  std::thread([] { gc::detail::start_cycle_for_test(); }).join();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  ASSERT_TRUE(gc::detail::t_mutator.stack_unscanned.load());
  {
    gc::blocking_region waiting;
    gc::detail::set_mark_hold(MarkHold::kAfterRoots);
    gc::detail::wait_for_mark_hold(MarkHold::kAfterRoots);
    EXPECT_TRUE(test::eventually([] {
      return gc::detail::stacks_pending() == 0 &&
             (gc::detail::g_safepoint_pending.load() & gc::detail::kSafepointScanStacks) == 0;
    }));
    gc::detail::set_mark_hold(MarkHold::kNone);
  }
  gc::detail::wait_for_cycle_end();
  gc::detail::g_barrier_test_flags.store(0);
  gc::set_percent(percent);
}

// The "scan stacks" bit stays up until every stack is scanned; a thread whose own stack is scanned
// has nothing to do at its safepoint meanwhile, while a thread whose stack is due (mark start left
// it so) still scans it at its next allocation.
TEST(ConcurrentMark, AThreadWhoseStackIsScannedIsNotHeldByAnotherThreadsScan) {
  using gc::detail::g_safepoint_pending;
  using gc::detail::safepoint_due;
  const int percent = gc::set_percent(-1);
  gc::detail::ensure_registered();
  std::atomic<int> step{0};
  std::atomic<bool> due_before{false}, due_after{true};
  std::thread other([&] {
    gc::detail::ensure_registered();
    step.store(1);
    // No safepoint here: its stack stays due while the controller is held (yield: under TSan a
    // stop's signal lands only at an intercepted call).
    while (step.load() != 2) std::this_thread::yield();
    due_before = safepoint_due(g_safepoint_pending.load());
    gc::make<int>(1);  // its safepoint: it scans its own stack
    due_after = gc::detail::t_mutator.stack_unscanned.load();
    step.store(3);
  });
  while (step.load() != 1) std::this_thread::yield();
  // Mark start parks the other thread; neither it, leaving the park, nor the collector, finding it
  // still parked, may scan it there, or it would have nothing left to scan.
  gc::detail::g_barrier_test_flags.store(gc::detail::kTestNoEarlyScan);
  test::start_held_cycle(MarkHold::kAfterStart);
  // This thread's safepoint: it scans its own stack (or did, leaving the blocking scope of its
  // wake of the mark workers).
  gc::make<int>(0);
  EXPECT_FALSE(gc::detail::t_mutator.stack_unscanned.load());
  EXPECT_NE(g_safepoint_pending.load() & gc::detail::kSafepointScanStacks, 0u)
      << "the other thread's stack is still due";
  EXPECT_FALSE(safepoint_due(g_safepoint_pending.load()))
      << "every allocation of this thread would go through the safepoint until the other scans";
  step.store(2);
  while (step.load() != 3) std::this_thread::yield();
  EXPECT_TRUE(due_before.load());
  EXPECT_FALSE(due_after.load());
  test::finish_held_cycle();
  other.join();
  gc::detail::g_barrier_test_flags.store(0);
  gc::set_percent(percent);
}

// The most threads that marked in one of up to fifty blocking collections of a 512K-node tree,
// stopping at `expected`. A thread woken late may find the mark over: with a busy loop beside the
// test on two CPUs, the best of five collections missed one of six threads in 7 runs of 20.
unsigned most_marking_threads(unsigned expected) {
  const gc::ptr<TreeNode> root = tree(18);
  unsigned most = 0;
  for (int attempt = 0; attempt < 50 && most < expected; ++attempt) {
    gc::collect();
    most = std::max(most, gc::read_stats().last_cycle.marking_threads);
  }
  return most;
}

// A blocking collect() leaves no CPU idle: the controller, the workers, the idle workers and the
// collecting thread mark, one thread per CPU (up to 64). The spare-CPU workers are kept out, so
// that the count is the idle workers'.
TEST(ConcurrentMark, ABlockingCollectMarksOnEveryCpu) {
  const SpareCpus none(0);
  const auto cpus = static_cast<unsigned>(std::min(gc::detail::cpu_count(), 64));
  EXPECT_EQ(most_marking_threads(cpus), cpus);
}

// With more idle workers than this machine's CPUs give, each of them marks too: four idle
// workers, the controller and workers, and the collecting thread.
TEST(ConcurrentMark, IdleWorkersMarkDuringABlockingCollect) {
  const SpareCpus none(0);
  gc::detail::g_idle_mark_workers_for_test.store(4);
  const auto expected = static_cast<unsigned>(gc::detail::mark_worker_count()) + 4 + 1;
  const unsigned most = most_marking_threads(expected);
  gc::detail::g_idle_mark_workers_for_test.store(-1);
  EXPECT_EQ(most, expected);
}

// The most threads that marked in one of up to `attempts` marks that no thread waits for (this one
// sleeps meanwhile), of a 1 Mi-node tree, stopping once `enough` marked.
unsigned most_marking_threads_unwaited(int attempts, unsigned enough) {
  const gc::ptr<TreeNode> root = tree(20);
  unsigned most = 0;
  for (int attempt = 0; attempt < attempts && most < enough; ++attempt) {
    gc::detail::start_cycle_for_test();
    gc::detail::wait_for_cycle_end();
    most = std::max(most, gc::read_stats().last_cycle.marking_threads);
  }
  return most;
}

// A mark that no thread waits for, in a program that sleeps meanwhile, marks on the CPUs the
// program leaves idle: the spare-CPU workers join the controller and the workers.
TEST(ConcurrentMark, AMarkNobodyWaitsForUsesTheCpusAnIdleProgramLeaves) {
  if (gc::detail::cpu_count() < 2) GTEST_SKIP() << "one CPU: the controller has it";
  const SpareCpus idle(1);
  const auto background = static_cast<unsigned>(gc::detail::mark_worker_count());
  EXPECT_GT(most_marking_threads_unwaited(50, background + 1), background);
}

// With no CPU idle, the same marks keep to the controller and the workers: background marking
// stays a quarter of the CPUs. (No marker offers a CPU, so no spare-CPU worker is even started.)
TEST(ConcurrentMark, SpareCpuWorkersLeaveABusyMachineAlone) {
  const SpareCpus none(0);
  const auto background = static_cast<unsigned>(gc::detail::mark_worker_count());
  EXPECT_LE(most_marking_threads_unwaited(5, background + 1), background);
}

// A spare-CPU worker woken when a CPU looked idle, that finds threads waiting for every CPU when
// it comes to mark, leaves its round without marking: the offer is told a CPU is idle, the
// workers that none is, once the workers are started.
TEST(ConcurrentMark, ASpareCpuWorkerThatFindsNoCpuToSpareLeavesWithoutMarking) {
  if (gc::detail::cpu_count() < 2) GTEST_SKIP() << "one CPU: no spare-CPU worker";
  const auto background = static_cast<unsigned>(gc::detail::mark_worker_count());
  {
    const SpareCpus idle(1);
    ASSERT_GT(most_marking_threads_unwaited(50, background + 1), background);
  }
  const SpareCpus offer_only(2);
  EXPECT_LE(most_marking_threads_unwaited(5, background + 1), background);
}

// A word that names a free slot is not an object, whether the marker shades it at once (a stack
// word) or through its prefetch ring (a slot's value, a barrier entry). The marker reads a slot's
// mark bit before its allocation bits (Marker::grey); the allocation bits must still be asked.
// The victim's neighbours keep its span in use, so that its slot stays a slot.
struct Plain {
  long words[3];
};
gc::ptr<Plain> g_before, g_after;
constexpr std::uintptr_t kHide = 0x5A5A'5A5A'5A5A'5A5Aull;

__attribute__((noinline)) std::uintptr_t hidden_freed_slot() {
  g_before = gc::make<Plain>();
  const auto address = reinterpret_cast<std::uintptr_t>(gc::make<Plain>().get());
  g_after = gc::make<Plain>();
  return address ^ kHide;  // no stack word names the object while it dies
}

TEST(ConcurrentMark, AWordAtAFreeSlotIsNotMarked) {
  const std::uintptr_t hidden = hidden_freed_slot();
  test::collect_clean();
  const std::uintptr_t freed = hidden ^ kHide;
  gc::detail::ObjectRef ref;
  ASSERT_FALSE(gc::detail::find_object(freed, ref)) << "the object did not die";
  gc::detail::Span* s = gc::detail::span_of(freed);
  const auto before = reinterpret_cast<std::uintptr_t>(g_before.get());
  const std::uintptr_t neighbour =
      gc::detail::span_of(before) == s ? before : reinterpret_cast<std::uintptr_t>(g_after.get());
  ASSERT_EQ(gc::detail::span_of(neighbour), s);
  test::start_held_cycle(MarkHold::kAfterStart);  // the roots wait: only this marker marks
  {
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(freed);
    marker.shade_soon(freed);
    marker.drain();
    EXPECT_FALSE(s->is_marked(s->slot_index(freed))) << "a word at a free slot was marked";
    marker.shade_soon(neighbour);
    marker.drain();
    EXPECT_TRUE(s->is_marked(s->slot_index(neighbour)));
  }
  test::finish_held_cycle();
  g_before = nullptr;
  g_after = nullptr;
}

}  // namespace
