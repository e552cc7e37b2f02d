// ctest-env: GOGC=off
// sweep_span alone (src/gc/sweeper.cpp): spans taken from the library's page heap and set up as
// init_small_span sets them up, given a known allocation state (free_index, alloc_bits,
// mark_free_index), mark, pinned, zombie and special bits and destructor entries, then claimed
// after g_sweepgen moved by two and swept. No list or cache holds them. GOGC=off, and nothing here
// allocates through gc::make, so no cycle runs.
//
// The class has 48-byte slots, 682 to a span: the last bitmap word is only partly the span's.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <thread>
#include <vector>

#include "base/settings.hpp"
#include "gc/destructors.hpp"
#include "gc/hooks.hpp"
#include "gc/startup.hpp"
#include "gc/sweeper.hpp"
#include "heap/central.hpp"
#include "heap/destructor_table.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_heap.hpp"
#include "heap/pointer_bitmap.hpp"
#include "small_span.hpp"
#include "tricolor/detail/heap_range.hpp"
#include "tricolor/make.hpp"

namespace {

using namespace gc::detail;

using test::kClass;
using test::kSize;
using test::kSizeClass;
using test::kSlots;

using Slots = std::vector<std::uint32_t>;

void set_bits(std::atomic<std::uint64_t>* bits, std::initializer_list<std::uint32_t> slots) {
  for (std::uint32_t i : slots) bits[i / 64].fetch_or(std::uint64_t{1} << (i % 64));
}

// The slots whose bit is set, in order.
Slots bits_of(const std::atomic<std::uint64_t>* bits) {
  Slots out;
  for (std::uint32_t i = 0; i < kSlots; ++i)
    if (bits[i / 64].load() >> (i % 64) & 1) out.push_back(i);
  return out;
}

bool has_bit(const std::atomic<std::uint64_t>* bits, std::uint32_t i) {
  return (bits[i / 64].load() >> (i % 64) & 1) != 0;
}

// Every word a bitmap of `s` has, not only those its slots use.
bool no_bits(const Span* s, const std::atomic<std::uint64_t>* bits) {
  for (std::size_t w = 0; w < s->bitmap_words; ++w)
    if (bits[w].load() != 0) return false;
  return true;
}

// Objects passed to the dead-object hook and to the test destructor, as slot indexes of `g_span`.
Span* g_span = nullptr;
std::atomic<int> g_dead_count{0};
std::uintptr_t g_dead[kSlots];
std::atomic<int> g_destroyed_count{0};
std::uintptr_t g_destroyed[kSlots];

void record(std::uintptr_t* objects, std::atomic<int>& count, std::uintptr_t object) {
  const int i = count.fetch_add(1);
  if (i < static_cast<int>(kSlots)) objects[i] = object;
}
void on_dead_object(std::uintptr_t object) { record(g_dead, g_dead_count, object); }
void destroy(void* object) {
  record(g_destroyed, g_destroyed_count, reinterpret_cast<std::uintptr_t>(object));
}
constexpr Destructor kDestroy{&destroy, nullptr};

// Only objects of this test's span count: run in one process (not as ctest runs them), an earlier
// test's zombies may be destroyed during a later test.
Slots slots_of(const std::uintptr_t* objects, int n) {
  Slots out;
  for (int i = 0; i < n && i < static_cast<int>(kSlots); ++i)
    if (objects[i] - g_span->base < test::kSpanBytes) out.push_back(g_span->slot_index(objects[i]));
  std::sort(out.begin(), out.end());
  return out;
}
Slots dead_objects() { return slots_of(g_dead, g_dead_count.load()); }
Slots destroyed_objects() { return slots_of(g_destroyed, g_destroyed_count.load()); }

class SweepSpanComponent : public testing::Test {
 protected:
  void SetUp() override {
    ensure_runtime();
    ASSERT_LT(settings().gc_percent, 0) << "run with GOGC=off: a cycle would move g_sweepgen";
    g_hooks.dead_object.add(&on_dead_object);
    g_dead_count.store(0);
    g_destroyed_count.store(0);
    s_ = page_heap().allocate(kClassToPages[kSizeClass], kClassToObjects[kSizeClass]);
    ASSERT_NE(s_, nullptr);
    init_small_span(s_, kClass);
    g_span = s_;
    base_ = s_->base;
  }

  // The owner handed out slots [0, n) by moving free_index, as the allocation fast path does; the
  // test sets alloc_bits and alloc_count for the rest.
  void allocated_below(std::uint32_t n) { s_->free_index.store(n); }

  // Each of `slots` registers `fn` as gc::make does (the first one registered is the span's own).
  void destructors(std::initializer_list<std::uint32_t> slots, const Destructor* fn = &kDestroy) {
    for (std::uint32_t i : slots) register_destructor_slow(s_, i, fn);
  }

  // Ends a cycle and sweeps the span; true if it went back to the page heap.
  bool sweep() {
    const std::uint32_t sweepgen = g_sweepgen.fetch_add(2) + 2;
    SweepClaim claim = try_claim_sweep(s_, sweepgen);
    EXPECT_TRUE(claim);
    EXPECT_EQ(s_->sweepgen.load(), sweepgen - 1);
    return sweep_span(std::move(claim));
  }

  Span* s_ = nullptr;
  std::uintptr_t base_ = 0;
};

TEST_F(SweepSpanComponent, KeepsMarkedAndPinnedObjectsAndFreesTheRest) {
  allocated_below(10);                               // slots 0-9
  set_bits(s_->alloc_bits, {20, 21, 22, 100, 169});  // and these, above free_index
  s_->alloc_count.store(15);
  s_->mark_free_index.store(10);
  set_bits(s_->mark_bits, {0, 2, 20, 169});
  set_bits(s_->pinned_bits, {5, 21});
  std::uint64_t bit_of_dead = 0, bit_of_live = 0;
  const std::uintptr_t word_of_dead = pointer_word_index(s_->slot_base(1), bit_of_dead);
  const std::uintptr_t word_of_live = pointer_word_index(s_->slot_base(2), bit_of_live);
  set_pointer_bits_owned(word_of_dead, bit_of_dead);
  set_pointer_bits_shared(word_of_live, bit_of_live, /*set=*/true);
  const std::int64_t frees = g_counters.frees.load();
  const std::int64_t heap_alloc = g_counters.heap_alloc.load();

  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{0, 2, 5, 20, 21, 169}));
  EXPECT_EQ(s_->alloc_count.load(), 6u);
  EXPECT_EQ(s_->free_index.load(), 0u);
  EXPECT_EQ(s_->mark_free_index.load(), 0u);
  EXPECT_EQ(s_->alloc_cache, 0u);
  EXPECT_TRUE(no_bits(s_, s_->mark_bits));
  EXPECT_EQ(bits_of(s_->pinned_bits), (Slots{5, 21}));  // the containers' to clear
  EXPECT_EQ(s_->sweepgen.load(), g_sweepgen.load());
  EXPECT_EQ(s_->state.load(), SpanState::kInUse);
  EXPECT_EQ(g_counters.frees.load() - frees, 9);  // 1, 3, 4, 6-9, 22, 100
  EXPECT_EQ(heap_alloc - g_counters.heap_alloc.load(), 9 * kSize);
  EXPECT_EQ(pointer_bits_of(word_of_dead) & bit_of_dead, 0u);  // a freed slot keeps no pointer bits
  EXPECT_NE(pointer_bits_of(word_of_live) & bit_of_live, 0u);
  EXPECT_EQ(dead_objects(), Slots{});
}

// What a thread did with a pinned object before unpinning it comes before the slot's next owner,
// with nothing between the unpin and the sweep that frees the slot: TSan reports the two writes
// to the object as a race if either the unpin or the sweep's load of the bits is relaxed.
TEST_F(SweepSpanComponent, WhatTheLastUserDidBeforeUnpinningComesBeforeTheSlotsNextOwner) {
  allocated_below(2);
  s_->alloc_count.store(2);
  s_->mark_free_index.store(2);
  set_bits(s_->mark_bits, {1});  // so that the span stays in use
  s_->pin(0);
  auto* object = reinterpret_cast<std::uint64_t*>(s_->slot_base(0));
  std::thread last_user([&] {
    *object = 1;
    s_->unpin(0);
  });
  // Relaxed, so that only the sweep can order the two threads.
  while (s_->pinned_bits[0].load(std::memory_order_relaxed) & 1) std::this_thread::yield();
  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), Slots{1});
  *object = 2;  // the slot's next owner
  last_user.join();
}

TEST_F(SweepSpanComponent, EverySlotBelowFreeIndexIsAllocated) {
  allocated_below(kSlots);  // every slot; the bitmap's last word is only partly the span's
  s_->alloc_count.store(kSlots);
  s_->mark_free_index.store(kSlots);
  set_bits(s_->mark_bits, {169});
  const std::int64_t frees = g_counters.frees.load();
  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), Slots{169});
  EXPECT_EQ(s_->alloc_bits[2].load(), std::uint64_t{1} << (169 - 128));
  EXPECT_EQ(s_->alloc_count.load(), 1u);
  EXPECT_EQ(g_counters.frees.load() - frees, kSlots - 1);
}

TEST_F(SweepSpanComponent, KeepsObjectsAllocatedBlackSinceMarkStart) {
  // At mark start the owner's cursor was at 6 and slot 7 was allocated already; since then it
  // handed out 6, 8 and 9, which the mark never saw: black.
  set_bits(s_->alloc_bits, {7});
  s_->mark_free_index.store(6);
  allocated_below(10);
  s_->alloc_count.store(10);
  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{6, 8, 9}));
  EXPECT_EQ(s_->alloc_count.load(), 3u);
}

TEST_F(SweepSpanComponent, GivesASpanLeftEmptyAgainBackToThePageHeap) {
  allocated_below(30);
  s_->alloc_count.store(30);
  s_->mark_free_index.store(30);
  s_->destructors.store(new_destructor_table(kSlots));  // a table goes with the span
  s_->kept_empty = true;  // its last sweep kept it empty too (heap/central.hpp)
  const std::size_t inuse = page_heap().inuse_bytes();
  const std::int64_t frees = g_counters.frees.load();
  EXPECT_TRUE(sweep());
  EXPECT_EQ(s_->state.load(), SpanState::kFree);
  EXPECT_EQ(span_of(base_), nullptr);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - test::kSpanBytes);
  EXPECT_EQ(g_counters.frees.load() - frees, 30);
}

TEST_F(SweepSpanComponent, KeepsAnEmptySpanWhileTheDestructorQueueHoldsIt) {
  allocated_below(30);
  s_->alloc_count.store(30);
  s_->mark_free_index.store(30);
  s_->destructor_holds.store(1);  // the destructor thread still reads the span
  s_->kept_empty = true;          // and its last sweep kept it empty: only the hold keeps it now
  const std::size_t inuse = page_heap().inuse_bytes();
  EXPECT_FALSE(sweep());
  EXPECT_EQ(s_->state.load(), SpanState::kInUse);
  EXPECT_EQ(s_->alloc_count.load(), 0u);
  EXPECT_EQ(s_->sweepgen.load(), g_sweepgen.load());
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);
}

TEST_F(SweepSpanComponent, QueuesDeadObjectsWithDestructorsAsZombiesThatTheNextSweepFrees) {
  allocated_below(70);
  s_->alloc_count.store(70);
  s_->mark_free_index.store(70);
  set_bits(s_->mark_bits, {2});
  destructors({2, 3, 64});
  const std::int64_t frees = g_counters.frees.load();
  // Before the sweep: the destructor thread runs from the library's start and may take the span
  // at once.
  const std::uint64_t deferred = deferred_zombie_slots();

  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{2, 3, 64}));  // the zombies stay allocated
  EXPECT_EQ(s_->alloc_count.load(), 3u);
  EXPECT_EQ(bits_of(s_->zombie_bits), (Slots{3, 64}));
  EXPECT_EQ(g_counters.frees.load() - frees, 67);

  // The destructor thread runs exactly the two zombies' destructors. The span is on no central
  // list, so their slots wait, destroyed, for the next sweep.
  wait_for_destructors();
  EXPECT_EQ(destroyed_objects(), (Slots{3, 64}));
  EXPECT_EQ(bits_of(s_->destroyed_bits), (Slots{3, 64}));
  EXPECT_EQ(bits_of(s_->destructor_bits), (Slots{2, 3, 64}));
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{2, 3, 64}));
  EXPECT_EQ(s_->destructor_holds.load(), 0u);
  EXPECT_EQ(deferred_zombie_slots() - deferred, 2u);

  // Destroyed, a zombie is freed even if a stale stack word marked it.
  set_bits(s_->mark_bits, {2, 3});
  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), Slots{2});
  EXPECT_EQ(s_->alloc_count.load(), 1u);
  EXPECT_TRUE(no_bits(s_, s_->zombie_bits));
  EXPECT_TRUE(no_bits(s_, s_->destroyed_bits));
  EXPECT_EQ(bits_of(s_->destructor_bits), Slots{2});  // the next objects in 3 and 64 have none
  EXPECT_EQ(s_->destructor_holds.load(), 0u);
  EXPECT_EQ(g_counters.frees.load() - frees, 69);
  EXPECT_EQ(destroyed_objects(), (Slots{3, 64}));  // once each
}

TEST_F(SweepSpanComponent, RunsEachZombiesDestructorOnce) {
  allocated_below(10);
  s_->alloc_count.store(10);
  s_->mark_free_index.store(10);
  destructors({3, 4, 5});
  set_bits(s_->zombie_bits, {3, 4});  // found dead by earlier sweeps: 3 is destroyed, 4's
  set_bits(s_->destroyed_bits, {3});  // destructor has not run yet
  EXPECT_FALSE(sweep());
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{4, 5}));  // 3 freed
  EXPECT_EQ(bits_of(s_->zombie_bits), (Slots{4, 5}));
  EXPECT_FALSE(has_bit(s_->destroyed_bits, 3));
  // The sweep queued the span for 5; its run takes 4 too, and each runs once.
  wait_for_destructors();
  EXPECT_EQ(destroyed_objects(), (Slots{4, 5}));
  EXPECT_EQ(bits_of(s_->destroyed_bits), (Slots{4, 5}));
  EXPECT_FALSE(sweep());  // both freed: the span is empty, and kept for its class once
  EXPECT_EQ(s_->alloc_count.load(), 0u);
  EXPECT_EQ(destroyed_objects(), (Slots{4, 5}));
}

// A span of two types: the first destructor registered is the span's own, the other one's slots
// have it in the table, and each object is destroyed by its own.
std::atomic<int> g_other_count{0};
std::uintptr_t g_other[kSlots];
void destroy_other(void* object) {
  record(g_other, g_other_count, reinterpret_cast<std::uintptr_t>(object));
}
constexpr Destructor kDestroyOther{&destroy_other, nullptr};

TEST_F(SweepSpanComponent, RunsEachObjectsOwnDestructorInASpanOfTwoTypes) {
  allocated_below(10);
  s_->alloc_count.store(10);
  s_->mark_free_index.store(10);
  g_other_count.store(0);
  destructors({1, 2});
  destructors({3, 4}, &kDestroyOther);
  EXPECT_EQ(s_->destructor.load(), reinterpret_cast<std::uintptr_t>(&kDestroy));
  ASSERT_NE(s_->destructors.load(), nullptr);
  EXPECT_EQ(s_->destructors.load()[1].load(), 0u);
  EXPECT_EQ(s_->destructors.load()[3].load(), reinterpret_cast<std::uintptr_t>(&kDestroyOther));
  set_bits(s_->mark_bits, {4});
  EXPECT_FALSE(sweep());
  wait_for_destructors();
  EXPECT_EQ(destroyed_objects(), (Slots{1, 2}));
  EXPECT_EQ(slots_of(g_other, g_other_count.load()), Slots{3});
  EXPECT_EQ(s_->destructors.load()[3].load(), 0u);  // slot 3's next object may be of either type
  EXPECT_EQ(s_->destructors.load()[4].load(), reinterpret_cast<std::uintptr_t>(&kDestroyOther));
}

TEST_F(SweepSpanComponent, ClearsThePointerBitsOfTheSlotsItFreesOnly) {
  // 48-byte slots, six words each: slots 0-20 cover three bitmap words, whose bits a sweep clears
  // one word at a time.
  allocated_below(21);
  s_->alloc_count.store(21);
  s_->mark_free_index.store(21);
  set_bits(s_->mark_bits, {1, 10, 11, 20});
  // Every word a gc::ptr slot, its bit in the owned half, the shared half or both (heap_range.hpp):
  // in both, the two halves cancel, as when a slot its owner published died in a later change, and
  // the sweep still clears both.
  for (std::uint32_t i = 0; i < 21; ++i)
    for_each_pointer_word(s_->slot_base(i), kSize, [i](std::uintptr_t word, std::uint64_t mask) {
      if (i % 3 != 1) set_pointer_bits_owned(word, mask);
      if (i % 3 != 0) pointer_word_pair(word)[1].fetch_or(mask);
    });
  EXPECT_FALSE(sweep());
  for (std::uint32_t i = 0; i < 21; ++i) {
    const bool live = i == 1 || i == 10 || i == 11 || i == 20;
    for_each_pointer_word(s_->slot_base(i), kSize, [&](std::uintptr_t word, std::uint64_t mask) {
      const std::atomic<std::uint64_t>* pair = pointer_word_pair(word);
      EXPECT_EQ(pair[0].load() & mask, live && i % 3 != 1 ? mask : 0) << "slot " << i;
      EXPECT_EQ(pair[1].load() & mask, live && i % 3 != 0 ? mask : 0) << "slot " << i;
    });
  }
  // The live slots' bits are the dead slots' to clear when they die.
  for (std::uint32_t i : {1, 10, 11, 20}) clear_pointer_bits(s_->slot_base(i), kSize);
}

TEST_F(SweepSpanComponent, CallsTheDeadObjectHookForExactlyTheDeadObjectsWithSpecials) {
  allocated_below(10);
  s_->alloc_count.store(10);
  s_->mark_free_index.store(10);
  set_bits(s_->mark_bits, {0, 1});
  set_bits(s_->pinned_bits, {8});
  destructors({6});
  for (std::uint32_t i : {1, 4, 6, 8}) s_->set_special(i);
  EXPECT_FALSE(sweep());
  // 4 is freed, 6 queued for its destructor; 1 is marked and 8 pinned; 2, 3, 5, 7, 9 have none.
  EXPECT_EQ(dead_objects(), (Slots{4, 6}));
  EXPECT_EQ(bits_of(s_->special_bits), (Slots{1, 8}));
  EXPECT_EQ(bits_of(s_->alloc_bits), (Slots{0, 1, 6, 8}));
}

TEST_F(SweepSpanComponent, ProcessSpecialsCallsTheHookOnlyForASlotWithItsBit) {
  s_->set_special(7);
  process_specials(s_, 6);
  EXPECT_EQ(dead_objects(), Slots{});
  process_specials(s_, 7);
  EXPECT_EQ(dead_objects(), Slots{7});
  EXPECT_TRUE(no_bits(s_, s_->special_bits));
  process_specials(s_, 7);
  EXPECT_EQ(dead_objects(), Slots{7});
}

}  // namespace
