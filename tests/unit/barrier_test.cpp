// The concurrent mark's guarantees, one scenario each, staged at a known point of the mark (the
// controller is held there by a test hook):
//   - a pointer moved from a stack the mark has not scanned into an object it has blackened is
//     shaded by the insertion half of the barrier;
//   - a pointer overwritten in the heap, whose only other copy sits on a stack the mark has
//     already scanned, is shaded by the deletion half;
//   - an object allocated during the mark, held only by a scanned stack, is black;
//   - a root registered during the mark, after the roots were scanned, has its value shaded;
//   - a gc::ptr that a thread with a scanned stack copied from a stack the mark has not scanned is
//     shaded when the slot it was copied from lets go of it;
//   - a thread that registered during the mark shades what it stores;
//   - a fiber deleted before its scan is scanned by the deletion.
// Once every running stack is scanned, a store shades only what it overwrites (the insertion half
// stops): one more test checks that, by the thread's barrier buffer.
// Each scenario runs twice: as the collector runs it (the object survives), and with its half of
// the barrier (or black allocation) switched off, to show that the scenario does reach the case
// (the object is freed while reachable: its destructor runs).
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "../support/held_mark.hpp"
#include "../support/support.hpp"
#include "../support/test_fiber.hpp"
#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/mark_state.hpp"
#include "gc/mark_workers.hpp"
#include "gc/stack_scan.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/thread_registry.hpp"

namespace {

using gc::detail::MarkHold;
using test::Tracked;

gc::ptr<Tracked> g_root;

// A flag the scenario's threads wait on without calling into the library: no safepoint, so a
// thread that waits here never scans its own stack.
void spin_until(const std::atomic<int>& step, int value) {
  while (step.load(std::memory_order_acquire) != value) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

void switch_off(unsigned flags) {
  gc::detail::g_barrier_test_flags.store(flags, std::memory_order_relaxed);
}

using test::finish_held_cycle;
using test::start_held_cycle;

// Mark start parks every thread, and a thread is scanned where it parked, by itself as it leaves
// the park or by the collector while it waits for a CPU. These scenarios need a thread that runs
// on unscanned, as one does when it misses both (it parked before its registers reached its
// stack, say): the flag stops both scans, and the scenario keeps it in what it switches off.
constexpr unsigned kUnscanned = gc::detail::kTestNoEarlyScan;

void start_held_cycle_leaving_parked_threads_unscanned(MarkHold stage) {
  switch_off(kUnscanned);
  start_held_cycle(stage);
}

// Built on a thread of its own, so that no stale word on this thread's stack can keep it alive.
void set_root_on_another_thread(int id, bool with_child) {
  test::in_thread([&] {
    g_root = gc::make<Tracked>(id);
    if (with_child) g_root->next = gc::make<Tracked>(id + 1);
  });
}

// Insertion: the new value of a store must be shaded while some stack is unscanned.
void pointer_moved_from_an_unscanned_stack_into_a_black_object(unsigned switched_off) {
  set_root_on_another_thread(0, false);
  gc::collect();
  std::atomic<int> step{0};
  std::thread mover([&] {
    gc::ptr<Tracked> x = gc::make<Tracked>(1);  // only on this stack
    // The latest slot of a thread stopped by signal at mark start is shaded: take another after x.
    gc::make<Tracked>(2);
    step.store(1, std::memory_order_release);
    spin_until(step, 2);  // mark start stops this thread by signal: it never reaches a safepoint
    g_root->next = x;     // the root object is black by now
  });                     // and the thread leaves: its stack is never scanned
  spin_until(step, 1);
  start_held_cycle_leaving_parked_threads_unscanned(MarkHold::kAfterRoots);
  // x dies on the mover's unscanned stack, which would shade it: that is the copy scenario's case
  // below, switched off here in both runs so that only the insertion half can keep x.
  switch_off(switched_off | gc::detail::kTestNoShadeOwnStack | kUnscanned);
  step.store(2, std::memory_order_release);
  mover.join();
  finish_held_cycle();
}

TEST(Barrier, APointerMovedFromAnUnscannedStackIntoABlackObjectIsShaded) {
  pointer_moved_from_an_unscanned_stack_into_a_black_object(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_TRUE(g_root->next->intact());
}

TEST(Barrier, WithoutTheInsertionHalfTheMovedPointerIsLost) {
  pointer_moved_from_an_unscanned_stack_into_a_black_object(gc::detail::kTestNoShadeNew);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the root object still points to it
}

// Deletion: the old value of a store must be shaded, since a scanned stack may hold it.
void slot_overwritten_during_marking(unsigned switched_off) {
  set_root_on_another_thread(10, true);
  gc::collect();
  // Held before anything is scanned; the acting thread is born during the mark: scanned stack.
  test::during_a_held_mark(MarkHold::kAfterStart, switched_off, [&](auto wait) {
    gc::ptr<Tracked> x = g_root->next;
    g_root->next = nullptr;  // the heap's only copy goes before the mark reaches the root object
    wait();
    EXPECT_TRUE(switched_off != 0 || x->intact());
  });
}

TEST(Barrier, AnOverwrittenValueHeldByAScannedStackIsShaded) {
  slot_overwritten_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Barrier, WithoutTheDeletionHalfTheOverwrittenValueIsLost) {
  slot_overwritten_during_marking(gc::detail::kTestNoShadeOld);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the thread still holds it
}

// Black allocation: what a thread allocates after its stack was scanned survives the cycle.
void object_allocated_during_marking(unsigned switched_off) {
  test::during_a_held_mark(MarkHold::kAfterRoots, switched_off, [](auto wait) {
    gc::ptr<Tracked> y = gc::make<Tracked>(20);
    // Waiting in a blocking region, the thread gives its cache back at mark termination, so that
    // y's span is swept with the others.
    gc::blocking_region waiting;
    wait();
  });
}

TEST(Barrier, AnObjectAllocatedDuringMarkingIsBlack) {
  object_allocated_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Barrier, WithoutBlackAllocationANewObjectIsLost) {
  object_allocated_during_marking(gc::detail::kTestNoBlackAlloc);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

// A root registered after the roots were scanned: its value must be shaded when the slot is born.
gc::ptr<Tracked>* g_late_root = nullptr;

void root_registered_during_marking(unsigned switched_off) {
  std::atomic<int> step{0};
  std::thread registrar([&] {
    gc::ptr<Tracked> x = gc::make<Tracked>(30);  // only on this stack
    gc::make<Tracked>(31);                       // see the insertion scenario
    step.store(1, std::memory_order_release);
    spin_until(step, 2);
    g_late_root = new gc::ptr<Tracked>(x);  // a root in malloc memory, born during the mark
  });                                       // the thread leaves unscanned
  spin_until(step, 1);
  start_held_cycle_leaving_parked_threads_unscanned(MarkHold::kAfterRoots);
  switch_off(switched_off | gc::detail::kTestNoShadeOwnStack |
             kUnscanned);  // see the insertion scenario
  step.store(2, std::memory_order_release);
  registrar.join();
  finish_held_cycle();
}

TEST(Barrier, ARootRegisteredDuringMarkingIsShaded) {
  root_registered_during_marking(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_TRUE((*g_late_root)->intact());
}

TEST(Barrier, WithoutTheInsertionHalfTheLateRootIsLost) {
  root_registered_during_marking(gc::detail::kTestNoShadeNew);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the root still points to it
}

// A copy taken from another thread's stack: a thread whose stack is scanned copies a gc::ptr that
// lives on the stack of a thread the mark has not scanned yet, and that thread then lets go of its
// own copy. Neither stack is scanned again with the value on it, so the value must be shaded when
// the unscanned thread's slot lets go of it: the deletion half, for a slot on the writer's own
// stack, while that stack is unscanned. (A lambda that captures a local by reference, run by a
// worker thread, is this case.)
enum class LetGo { kAssign, kDestroy };

gc::ptr<Tracked>* volatile g_holder_slot = nullptr;

[[gnu::noinline]] void hold_then_let_go(std::atomic<int>& step, LetGo how) {
  std::optional<gc::ptr<Tracked>> held;
  held.emplace(gc::make<Tracked>(40));  // only on this stack
  gc::make<Tracked>(41);                // see the insertion scenario
  g_holder_slot = &*held;
  step.store(1, std::memory_order_release);
  spin_until(step, 2);  // unscanned: it never reaches a safepoint while the mark is held
  if (how == LetGo::kAssign) {
    *held = nullptr;
  } else {
    held.reset();
  }
  step.store(3, std::memory_order_release);
}

void copy_from_an_unscanned_stack(LetGo how, unsigned switched_off) {
  std::atomic<int> step{0};
  std::thread holder([&] { hold_then_let_go(step, how); });  // it leaves with its stack unscanned
  spin_until(step, 1);
  switch_off(kUnscanned);
  test::during_a_held_mark(MarkHold::kAfterRoots, switched_off | kUnscanned, [&](auto wait) {
    gc::ptr<Tracked> mine = *g_holder_slot;  // this thread was born in the mark: scanned stack
    step.store(2, std::memory_order_release);
    spin_until(step, 3);
    holder.join();
    wait();
    EXPECT_TRUE(switched_off != 0 || mine->intact());
  });
}

TEST(Barrier, ACopyTakenFromAnUnscannedStackIsShadedWhenItsSlotIsOverwritten) {
  copy_from_an_unscanned_stack(LetGo::kAssign, 0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Barrier, ACopyTakenFromAnUnscannedStackIsShadedWhenItsSlotDies) {
  copy_from_an_unscanned_stack(LetGo::kDestroy, 0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Barrier, WithoutTheShadeOnTheUnscannedStackTheOverwrittenCopyIsLost) {
  copy_from_an_unscanned_stack(LetGo::kAssign, gc::detail::kTestNoShadeOwnStack);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the copying thread still holds it
}

TEST(Barrier, WithoutTheShadeOnTheUnscannedStackTheCopyOfADeadSlotIsLost) {
  copy_from_an_unscanned_stack(LetGo::kDestroy, gc::detail::kTestNoShadeOwnStack);
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

// A thread inside a blocking region counts as stopped, so its barrier buffer is the collector's: a
// copy it drops on its own unscanned stack there shades nothing (the frames above the region, which
// the collector scans, still hold the value).
TEST(Barrier, AThreadInABlockingRegionLeavesItsBufferToTheCollector) {
  std::atomic<int> step{0};
  std::atomic<long> appended{-1};
  std::thread blocked([&] {
    gc::ptr<Tracked> x = gc::make<Tracked>(50);
    step.store(1, std::memory_order_release);
    spin_until(step, 2);  // stopped by signal at mark start: unscanned (kUnscanned)
    {
      gc::blocking_region region;
      // Read while the collector is held: it flushes this buffer only at termination.
      const gc::detail::ThreadRecord* r = gc::detail::t_mutator.record;
      const long before = r->barrier_count;
      { gc::ptr<Tracked> y = x; }  // a copy on its own stack, dropped: allowed in a region
      appended.store(r->barrier_count - before, std::memory_order_release);
      step.store(3, std::memory_order_release);
      spin_until(step, 4);  // still in the region while the collector ends the mark
    }
    EXPECT_TRUE(x->intact());
  });
  spin_until(step, 1);
  start_held_cycle_leaving_parked_threads_unscanned(MarkHold::kAfterStart);
  step.store(2, std::memory_order_release);
  spin_until(step, 3);
  finish_held_cycle();
  step.store(4, std::memory_order_release);
  blocked.join();
  EXPECT_EQ(appended.load(), 0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

// Insertion only while a stack that runs is unscanned: once every one is, a store shades only the
// value it overwrites, so a new object stored over null (every tree a program builds top-down)
// puts nothing in the buffer, and the mark still finds it all.
long buffered_by_this_thread() { return gc::detail::t_mutator.record->barrier_count; }

// With the controller held, nothing scans a library thread that went back into its blocking region
// after the controller's pass: the test does.
bool every_running_stack_scanned() {
  return test::eventually([] {
    gc::detail::scan_stopped_stacks();
    return gc::detail::running_stacks_scanned();
  });
}

TEST(Barrier, OnceEveryRunningStackIsScannedAStoreShadesOnlyWhatItOverwrites) {
  set_root_on_another_thread(60, false);
  gc::collect();
  std::atomic<int> step{0};
  std::thread unscanned([&] {
    gc::make<int>(0);  // registered: its stack is due at mark start
    step.store(1, std::memory_order_release);
    spin_until(step, 2);  // stopped by signal at mark start, and never at a safepoint: unscanned
  });                     // a thread that leaves unscanned counts as scanned
  spin_until(step, 1);
  start_held_cycle_leaving_parked_threads_unscanned(MarkHold::kAfterRoots);
  gc::safepoint();  // this thread scans its own stack
  ASSERT_FALSE(gc::detail::t_mutator.stack_unscanned.load());
  ASSERT_GT(gc::detail::stacks_pending(), 0);

  long before = buffered_by_this_thread();
  g_root->next = gc::make<Tracked>(61);
  EXPECT_EQ(buffered_by_this_thread() - before, 1);  // the new value: a stack is unscanned

  step.store(2, std::memory_order_release);
  unscanned.join();
  ASSERT_TRUE(every_running_stack_scanned());

  before = buffered_by_this_thread();
  g_root->next = gc::make<Tracked>(62);
  EXPECT_EQ(buffered_by_this_thread() - before, 1);  // the old value only
  before = buffered_by_this_thread();
  g_root->next->next = gc::make<Tracked>(63);
  EXPECT_EQ(buffered_by_this_thread() - before, 0);  // over null: nothing

  finish_held_cycle();
  EXPECT_EQ(Tracked::destroyed.load(), 0);  // 61 is still black, its overwrite shaded it
  EXPECT_TRUE(g_root->next->intact());
  EXPECT_TRUE(g_root->next->next->intact());
}

// A thread that registers during a mark counts as scanned without being read, and its stack may
// hold a value it loaded from the heap before: its stores shade what they store until the next
// mark, whatever the other stacks.
void stored_by_a_thread_registered_during_marking(bool shade_switched_off) {
  set_root_on_another_thread(70, true);
  gc::collect();
  std::atomic<int> step{0};
  std::thread late([&] {  // no gc::make, no gc::ptr of its own until the mark: unregistered
    Tracked* x = g_root->next.get();
    g_root->next = nullptr;  // no mark yet: the heap's only copy goes unshaded
    step.store(1, std::memory_order_release);
    spin_until(step, 2);
    gc::ptr<Tracked> held(x);  // registers here, during the mark: counted as scanned
    if (shade_switched_off) gc::detail::t_mutator.always_shade_stored.store(false);
    g_root->next = held;
  });
  spin_until(step, 1);
  start_held_cycle(MarkHold::kAfterRoots);
  gc::safepoint();
  ASSERT_TRUE(every_running_stack_scanned());
  step.store(2, std::memory_order_release);
  late.join();
  finish_held_cycle();
}

TEST(Barrier, AThreadRegisteredDuringMarkingShadesWhatItStores) {
  stored_by_a_thread_registered_during_marking(false);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_TRUE(g_root->next->intact());
}

TEST(Barrier, WithoutItsShadeTheValueItStoredIsLost) {
  stored_by_a_thread_registered_during_marking(true);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the root object points to it
}

// A fiber deleted before the mark scanned it: a thread whose stack is scanned copied a gc::ptr out
// of its frames, where no other scan of the mark will look, so the deletion scans the fiber first.
void copy_from_a_fiber_deleted_unscanned(unsigned switched_off) {
  gc::ptr<Tracked>* volatile in_fiber = nullptr;
  auto* fiber = new test::Fiber([&](test::Fiber& self) {
    gc::ptr<Tracked> x = gc::make<Tracked>(80);  // only on the fiber's stack
    in_fiber = &x;
    self.yield();  // never resumed: the fiber is deleted suspended
  });
  test::in_thread([&] { fiber->resume(); });
  // Held before the controller scans the suspended stacks.
  test::during_a_held_mark(MarkHold::kAfterStart, switched_off, [&](auto wait) {
    gc::ptr<Tracked> mine = *in_fiber;  // this thread was born in the mark: a scanned stack
    delete fiber;
    wait();
    EXPECT_TRUE(switched_off != 0 || mine->intact());
  });
}

TEST(Barrier, AFiberDeletedBeforeItsScanKeepsWhatWasCopiedFromIt) {
  copy_from_a_fiber_deleted_unscanned(0);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

TEST(Barrier, WithoutTheDeletionsScanTheCopyIsLost) {
  copy_from_a_fiber_deleted_unscanned(gc::detail::kTestNoFiberDeleteScan);
  EXPECT_EQ(Tracked::destroyed.load(), 1);  // x, while the thread still holds it
}
}  // namespace
