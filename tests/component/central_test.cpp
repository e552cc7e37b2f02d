// ctest-env: GOGC=off
// The central lists alone (src/heap/central.hpp): a Central of the test's own for one span class,
// fed with spans from the library's page heap, driven as thread caches, the sweeper and the
// destructor thread drive it. The test plays the collector's part too: it sets the mark bits a mark
// would have set, records mark_free_index for cached spans as mark start does, and moves g_sweepgen
// by two as mark termination does. GOGC=off, and nothing here allocates through gc::make, so no
// cycle runs and nothing else moves g_sweepgen.
//
// Where a span is filed shows in its list_id: 2 * (sweepgen / 2 % 2) + (full ? 1 : 0)
// (central.cpp), so after a cycle the list a span sits on is the other generation's.
#include "heap/central.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "base/settings.hpp"
#include "gc/startup.hpp"
#include "heap/collector.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_heap.hpp"
#include "heap/thread_cache.hpp"
#include "small_span.hpp"
#include "tricolor/detail/alloc.hpp"
#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace {

using namespace gc::detail;

using test::kClass;
using test::kSize;
using test::kSizeClass;
using test::kSlots;

int partial_list(std::uint32_t sweepgen) { return 2 * static_cast<int>(sweepgen / 2 % 2); }
int full_list(std::uint32_t sweepgen) { return partial_list(sweepgen) + 1; }

void set_bit(std::atomic<std::uint64_t>* bits, std::uint32_t i) {
  bits[i / 64].fetch_or(std::uint64_t{1} << (i % 64));
}
bool has_bit(const std::atomic<std::uint64_t>* bits, std::uint32_t i) {
  return (bits[i / 64].load() >> (i % 64) & 1) != 0;
}

// The span's owner hands out its first `n` slots (the fast path moves free_index and alloc_count).
void allocate_slots(Span* s, std::uint32_t n) {
  s->free_index.store(n);
  s->alloc_count.store(n);
}

// The mark found slots [0, n) alive.
void mark_first(Span* s, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) set_bit(s->mark_bits, i);
}

class CentralComponent : public testing::Test {
 protected:
  void SetUp() override {
    ensure_runtime();
    ASSERT_LT(settings().gc_percent, 0) << "run with GOGC=off: a cycle would move g_sweepgen";
    gen_ = g_sweepgen.load();
  }
  void TearDown() override {
    // No cycle ran: the sweep generation moved only when the test moved it.
    EXPECT_EQ(g_sweepgen.load(), gen_ + moved_);
    EXPECT_FALSE(marking());
  }

  // A cycle, as far as the heap sees it: at mark start each span a thread has cached records its
  // free_index (what is handed out after it is allocated black); at mark termination the sweep
  // generation moves by two. The mark bits are the test's to set.
  void end_cycle(std::initializer_list<Span*> cached = {}) {
    for (Span* s : cached) s->mark_free_index.store(s->free_index.load());
    g_sweepgen.fetch_add(2);
    moved_ += 2;
  }

  // A span filed on the lists as a sweep in this cycle leaves it: the slots `allocated` are set in
  // its allocation bits (free_index 0), and those in `zombies` are zombies, the span held once by
  // the destructor queue.
  Span* swept_span(const std::vector<std::uint32_t>& allocated,
                   std::initializer_list<std::uint32_t> zombies) {
    return file_swept(central_.cache_span(kClass), allocated, zombies);
  }
  // The same, for a span the test cached.
  Span* file_swept(Span* s, const std::vector<std::uint32_t>& allocated,
                   std::initializer_list<std::uint32_t> zombies) {
    for (std::uint32_t i : allocated) set_bit(s->alloc_bits, i);
    s->alloc_count.store(static_cast<std::uint32_t>(allocated.size()));
    for (std::uint32_t i : zombies) set_bit(s->zombie_bits, i);
    s->destructor_holds.store(1);
    central_.uncache_span(s);
    return s;
  }

  // The destructor thread ran the destructors of `slots`.
  static void destroyed(Span* s, std::initializer_list<std::uint32_t> slots) {
    for (std::uint32_t i : slots) set_bit(s->destroyed_bits, i);
  }

  Central central_;
  std::uint32_t gen_ = 0;
  std::uint32_t moved_ = 0;
};

TEST_F(CentralComponent, CacheSpanTakesAFreshSpanFromThePageHeapWhenItHasNone) {
  const std::size_t inuse = page_heap().inuse_bytes();
  const std::int64_t live = g_counters.heap_live.load();
  const std::int64_t mallocs = g_counters.mallocs.load();
  Span* s = central_.cache_span(kClass);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state.load(), SpanState::kInUse);
  EXPECT_TRUE(s->cached);
  EXPECT_EQ(s->list_id, -1);
  EXPECT_EQ(s->span_class, kClass);
  EXPECT_EQ(s->nelems, kSlots);
  EXPECT_EQ(s->elem_size, kSize);
  EXPECT_EQ(s->sweepgen.load(), gen_);  // swept in this cycle
  EXPECT_EQ(s->free_index.load(), 0u);
  EXPECT_EQ(s->alloc_count.load(), 0u);
  EXPECT_EQ(s->alloc_cache, 0u);
  EXPECT_EQ(span_of(s->base), s);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse + test::kSpanBytes);
  // Its free slots count as allocated while a cache holds it.
  EXPECT_EQ(g_counters.heap_live.load() - live, kSlots * kSize);
  EXPECT_EQ(g_counters.mallocs.load() - mallocs, kSlots);
}

TEST_F(CentralComponent, AnUncachedSpanWithRoomIsFiledPartialAndHandedOutAgain) {
  Span* s = central_.cache_span(kClass);
  allocate_slots(s, 10);
  const std::int64_t live = g_counters.heap_live.load();
  central_.uncache_span(s);
  EXPECT_FALSE(s->cached);
  EXPECT_EQ(s->list_id, partial_list(gen_));
  EXPECT_EQ(s->mark_free_index.load(), 10u);  // the next mark sees the 10 slots
  EXPECT_EQ(s->sweepgen.load(), gen_);
  EXPECT_EQ(live - g_counters.heap_live.load(), (kSlots - 10) * kSize);  // the unused slots

  const std::size_t inuse = page_heap().inuse_bytes();
  Span* t = central_.cache_span(kClass);
  EXPECT_EQ(t, s);
  EXPECT_TRUE(s->cached);
  EXPECT_EQ(s->list_id, -1);
  EXPECT_EQ(s->free_index.load(), 10u);  // not swept again
  EXPECT_EQ(g_counters.heap_live.load(), live);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);
}

TEST_F(CentralComponent, AnUncachedFullSpanIsFiledFullAndNotHandedOut) {
  Span* s = central_.cache_span(kClass);
  allocate_slots(s, kSlots);
  central_.uncache_span(s);
  EXPECT_EQ(s->list_id, full_list(gen_));
  const std::size_t inuse = page_heap().inuse_bytes();
  Span* t = central_.cache_span(kClass);
  EXPECT_NE(t, s);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse + test::kSpanBytes);
  EXPECT_EQ(s->list_id, full_list(gen_));
}

TEST_F(CentralComponent, ASpanFiledInOneCycleIsUnsweptAfterTheNext) {
  Span* p = central_.cache_span(kClass);
  Span* f = central_.cache_span(kClass);
  allocate_slots(p, 10);
  set_bit(p->mark_bits, 1);
  set_bit(p->mark_bits, 2);
  allocate_slots(f, kSlots);
  mark_first(f, 100);
  central_.uncache_span(p);
  central_.uncache_span(f);
  EXPECT_FALSE(central_.take_unswept());  // both swept in this cycle

  end_cycle();
  EXPECT_NE(partial_list(gen_), partial_list(gen_ + 2));
  EXPECT_EQ(p->list_id, partial_list(gen_));  // unmoved: the lists changed meaning
  EXPECT_EQ(f->list_id, full_list(gen_));

  SweepClaim claim = central_.take_unswept();  // partial spans first
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim.span(), p);
  EXPECT_EQ(claim.sweepgen(), gen_ + 2);
  EXPECT_EQ(p->sweepgen.load(), gen_ + 1);  // being swept
  EXPECT_EQ(p->list_id, -1);
  EXPECT_FALSE(sweep_span(std::move(claim)));
  EXPECT_EQ(p->sweepgen.load(), gen_ + 2);
  EXPECT_EQ(p->alloc_count.load(), 2u);
  central_.insert_swept(p);
  EXPECT_EQ(p->list_id, partial_list(gen_ + 2));

  claim = central_.take_unswept();
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim.span(), f);
  EXPECT_FALSE(sweep_span(std::move(claim)));
  EXPECT_EQ(f->alloc_count.load(), 100u);
  central_.insert_swept(f);
  EXPECT_EQ(f->list_id, partial_list(gen_ + 2));  // room again

  EXPECT_FALSE(central_.take_unswept());
}

// A stop of the world waiting for the thread cuts cache_span's sweeps short: it gives up after
// one, before it claims the next, and the caller asks again after the stop.
TEST_F(CentralComponent, CacheSpanStopsSweepingWhenAStopOfTheWorldIsWaiting) {
  Span* spans[3];
  for (Span*& s : spans) {
    s = central_.cache_span(kClass);
    allocate_slots(s, kSlots);
    mark_first(s, kSlots);  // still full when swept: no room, so the sweeps go on
  }
  for (Span* s : spans) central_.uncache_span(s);
  end_cycle();
  auto swept = [&] {
    int n = 0;
    for (Span* s : spans) n += s->sweepgen.load() == gen_ + 2 ? 1 : 0;
    return n;
  };

  bool stop_waiting = false;
  g_safepoint_pending.fetch_or(kSafepointStop);
  Span* none = central_.cache_span(kClass, &stop_waiting);
  g_safepoint_pending.fetch_and(~kSafepointStop);
  EXPECT_EQ(none, nullptr);
  EXPECT_TRUE(stop_waiting);
  EXPECT_EQ(swept(), 1);  // one sweep, and no claim left behind

  stop_waiting = false;
  Span* fresh = central_.cache_span(kClass, &stop_waiting);
  ASSERT_NE(fresh, nullptr);
  EXPECT_FALSE(stop_waiting);
  EXPECT_EQ(swept(), 3);
  for (Span* s : spans) EXPECT_EQ(s->list_id, full_list(gen_ + 2));
  central_.uncache_span(fresh);
}

// The allocation slow path over a stop that cuts cache_span's sweeps short (thread_cache.cpp,
// refill_and_take): the thread parks, and asks again, a sweep at a time, until it has a slot. Here
// the stop is only raised, the world never stopped, so nothing parks the thread; a stop taken for
// the OS refusing memory would run a collection (collect_for_memory), which moves g_sweepgen.
TEST_F(CentralComponent, AnAllocationWhoseSweepsAStopCutsShortAsksAgainUntilItHasASlot) {
  Central& global = central(kClass);
  Span* spans[3];
  for (Span*& s : spans) {
    s = global.cache_span(kClass);
    allocate_slots(s, kSlots);
    mark_first(s, kSlots);
  }
  for (Span* s : spans) global.uncache_span(s);
  end_cycle();

  g_safepoint_pending.fetch_or(kSafepointStop);
  void* object = alloc_slow(kClass, nullptr);
  g_safepoint_pending.fetch_and(~kSafepointStop);
  ASSERT_NE(object, nullptr);
  Span* fresh = span_of(reinterpret_cast<std::uintptr_t>(object));
  for (Span* s : spans) {
    EXPECT_NE(fresh, s);  // all full
    EXPECT_EQ(s->sweepgen.load(), gen_ + 2);
    EXPECT_EQ(s->list_id, full_list(gen_ + 2));
  }
  flush_thread_cache(t_mutator, /*keep_unswept=*/false);
}

// The background sweeper's batch (sweeper.cpp): spans popped and claimed under one lock until
// their slots reach the bound (at least one, and never more than asked for), filed again under one.
TEST_F(CentralComponent, TakeUnsweptClaimsABatchUntilItsSlotsReachTheBound) {
  Span* spans[3];
  for (Span*& s : spans) {
    s = central_.cache_span(kClass);
    allocate_slots(s, 3);
    set_bit(s->mark_bits, 0);
  }
  for (Span* s : spans) central_.uncache_span(s);
  end_cycle();

  SweepClaim claims[16];
  ASSERT_EQ(central_.take_unswept(claims, 16, kSlots + 1), 2);  // the second span passes the bound
  SweepClaim one[1];
  ASSERT_EQ(central_.take_unswept(one, 1, 100 * kSlots), 1);  // no more than asked for
  SweepClaim none[4];
  EXPECT_EQ(central_.take_unswept(none, 4, 0), 0);  // none left

  Span* swept[3];
  int n = 0;
  for (SweepClaim* claim : {&claims[0], &claims[1], &one[0]}) {
    Span* s = claim->span();
    EXPECT_EQ(s->sweepgen.load(), gen_ + 1);  // claimed: being swept
    EXPECT_EQ(s->list_id, -1);
    EXPECT_FALSE(sweep_span(std::move(*claim)));
    EXPECT_EQ(s->alloc_count.load(), 1u);
    swept[n++] = s;
  }
  central_.insert_swept(swept, n);
  for (Span* s : spans) EXPECT_EQ(s->list_id, partial_list(gen_ + 2));
}

TEST_F(CentralComponent, CacheSpanSweepsUnsweptSpansOfItsClassBeforeGrowingTheHeap) {
  Span* empty = central_.cache_span(kClass);
  Span* partly_live = central_.cache_span(kClass);
  allocate_slots(empty, 10);  // none marked: the sweep empties it
  allocate_slots(partly_live, kSlots);
  mark_first(partly_live, 100);
  central_.uncache_span(empty);
  central_.uncache_span(partly_live);
  end_cycle();

  const std::size_t inuse = page_heap().inuse_bytes();
  Span* t = central_.cache_span(kClass);
  EXPECT_EQ(t, empty);  // swept empty, and kept for the allocation that swept it
  EXPECT_TRUE(empty->cached);
  EXPECT_EQ(empty->state.load(), SpanState::kInUse);
  EXPECT_EQ(empty->sweepgen.load(), gen_ + 2);
  EXPECT_EQ(empty->alloc_count.load(), 0u);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);  // no page taken
  Span* u = central_.cache_span(kClass);        // t is cached: the next unswept span
  EXPECT_EQ(u, partly_live);
  EXPECT_EQ(partly_live->sweepgen.load(), gen_ + 2);
  EXPECT_EQ(partly_live->alloc_count.load(), 100u);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);
  central_.uncache_span(t);
  central_.uncache_span(u);
}

TEST_F(CentralComponent, CacheSpanSweepsAtMostOneHundredSpansThenGrowsTheHeap) {
  std::vector<Span*> spans;
  for (int i = 0; i < 101; ++i) {
    Span* s = central_.cache_span(kClass);
    allocate_slots(s, kSlots);
    mark_first(s, kSlots);  // every slot survives: each stays full
    spans.push_back(s);
  }
  for (Span* s : spans) central_.uncache_span(s);
  end_cycle();

  const std::size_t inuse = page_heap().inuse_bytes();
  Span* t = central_.cache_span(kClass);
  EXPECT_EQ(std::count(spans.begin(), spans.end(), t), 0);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse + test::kSpanBytes);
  const auto swept = std::count_if(spans.begin(), spans.end(),
                                   [&](Span* s) { return s->sweepgen.load() == gen_ + 2; });
  const auto unswept = std::count_if(spans.begin(), spans.end(),
                                     [&](Span* s) { return s->sweepgen.load() == gen_; });
  EXPECT_EQ(swept, 100);
  EXPECT_EQ(unswept, 1);
  for (Span* s : spans) {
    if (s->sweepgen.load() == gen_ + 2) {
      EXPECT_EQ(s->list_id, full_list(gen_ + 2));
    }
  }
}

TEST_F(CentralComponent, UncacheSweepsASpanThatACycleEndedOnWhileItWasCached) {
  Span* s = central_.cache_span(kClass);
  allocate_slots(s, 20);
  mark_first(s, 5);
  end_cycle({s});
  const std::int64_t frees = g_counters.frees.load();
  central_.uncache_span(s);
  EXPECT_FALSE(s->cached);
  EXPECT_EQ(s->sweepgen.load(), gen_ + 2);
  EXPECT_EQ(s->alloc_count.load(), 5u);
  EXPECT_EQ(s->free_index.load(), 0u);
  EXPECT_EQ(s->alloc_bits[0].load(), 0x1Fu);
  EXPECT_EQ(s->list_id, partial_list(gen_ + 2));
  EXPECT_EQ(g_counters.frees.load() - frees, 15);
}

TEST_F(CentralComponent, UncacheSweepsASpanThatACycleFoundEmpty) {
  Span* s = central_.cache_span(kClass);
  allocate_slots(s, 20);
  end_cycle({s});
  central_.uncache_span(s);
  EXPECT_EQ(s->sweepgen.load(), gen_ + 2);
  EXPECT_EQ(s->alloc_count.load(), 0u);
  EXPECT_TRUE(s->kept_empty);  // kept for its class once (heap/central.hpp)
  EXPECT_EQ(s->state.load(), SpanState::kInUse);
  EXPECT_EQ(s->list_id, partial_list(gen_ + 2));  // filed with the class's swept partial spans
}

TEST_F(CentralComponent, ReleaseDestroyedFreesTheDestroyedSlotsOfAListedSpan) {
  std::vector<std::uint32_t> all(kSlots);
  for (std::uint32_t i = 0; i < kSlots; ++i) all[i] = i;
  Span* s = swept_span(all, {5, 6, 70});
  EXPECT_EQ(s->list_id, full_list(gen_));
  // gc::ptrs lived in slots 5, 6 and 70, and in 5's neighbours 4 and 7: the freed slots' bits go
  // alone, though 4 to 7 share a bitmap word, from whichever half holds them (heap_range.hpp):
  // slot 5's in the owned half, as its owner set it; 70's in the shared half. Slot 4 holds a
  // gc::ptr that died: its bit is in both halves, which cancel, and stays so.
  std::uint64_t bit[71] = {};
  std::uintptr_t word[71] = {};
  for (std::uint32_t i : {4, 5, 6, 7, 70}) word[i] = pointer_word_index(s->slot_base(i), bit[i]);
  ASSERT_EQ(word[4], word[7]);
  set_pointer_bits_owned(word[4], bit[4] | bit[5]);
  set_pointer_bits_shared(word[4], bit[4], /*set=*/false);
  set_pointer_bits_shared(word[6], bit[6] | bit[7], /*set=*/true);
  set_pointer_bits_shared(word[70], bit[70], /*set=*/true);
  ASSERT_EQ(pointer_word_pair(word[70])[1].load() & bit[70], bit[70]);
  const std::int64_t frees = g_counters.frees.load();
  const std::int64_t heap_alloc = g_counters.heap_alloc.load();

  destroyed(s, {5, 70});  // their destructors ran; 6's has not yet
  EXPECT_EQ(central_.release_destroyed(s), 0u);
  EXPECT_FALSE(has_bit(s->alloc_bits, 5));
  EXPECT_FALSE(has_bit(s->alloc_bits, 70));
  EXPECT_TRUE(has_bit(s->alloc_bits, 6));
  EXPECT_FALSE(has_bit(s->zombie_bits, 5));
  EXPECT_FALSE(has_bit(s->zombie_bits, 70));
  EXPECT_TRUE(has_bit(s->zombie_bits, 6));
  EXPECT_FALSE(has_bit(s->destroyed_bits, 5));
  EXPECT_FALSE(has_bit(s->destroyed_bits, 70));
  for (std::uint32_t i : {5, 70}) {
    EXPECT_EQ(pointer_word_pair(word[i])[0].load() & bit[i], 0u) << "slot " << i;
    EXPECT_EQ(pointer_word_pair(word[i])[1].load() & bit[i], 0u) << "slot " << i;
  }
  EXPECT_EQ(pointer_word_pair(word[4])[0].load() & bit[4], bit[4]);
  EXPECT_EQ(pointer_word_pair(word[4])[1].load() & bit[4], bit[4]);
  EXPECT_NE(pointer_bits_of(word[6]) & bit[6], 0u);
  EXPECT_NE(pointer_bits_of(word[7]) & bit[7], 0u);
  EXPECT_EQ(s->alloc_count.load(), kSlots - 2);
  EXPECT_EQ(s->list_id, partial_list(gen_));  // room now
  EXPECT_EQ(s->destructor_holds.load(), 0u);
  EXPECT_EQ(g_counters.frees.load() - frees, 2);
  EXPECT_EQ(heap_alloc - g_counters.heap_alloc.load(), 2 * kSize);
}

TEST_F(CentralComponent, ReleaseDestroyedLeavesACachedOrUnsweptSpanToItsOwner) {
  Span* s = swept_span({5, 6, 7}, {5, 6});
  destroyed(s, {5});

  // Cached by a thread: the cache frees the slot (see below).
  ASSERT_EQ(central_.cache_span(kClass), s);
  EXPECT_EQ(central_.release_destroyed(s), 1u);
  EXPECT_EQ(s->destructor_holds.load(), 0u);
  EXPECT_TRUE(has_bit(s->alloc_bits, 5));
  EXPECT_EQ(s->alloc_count.load(), 3u);

  // Filed, but a cycle ended since it was swept: its sweep frees the slot.
  central_.uncache_span(s);  // frees 5: see UncacheFreesTheDestroyedSlots...
  destroyed(s, {6});
  end_cycle();
  s->destructor_holds.store(1);
  EXPECT_EQ(central_.release_destroyed(s), 1u);
  EXPECT_EQ(s->destructor_holds.load(), 0u);
  EXPECT_TRUE(has_bit(s->alloc_bits, 6));
  set_bit(s->mark_bits, 7);
  SweepClaim claim = central_.take_unswept();
  ASSERT_EQ(claim.span(), s);
  EXPECT_FALSE(sweep_span(std::move(claim)));
  central_.insert_swept(s);
  EXPECT_EQ(s->alloc_bits[0].load(), 0x80u);  // 6 freed, 7 kept
  EXPECT_EQ(s->zombie_bits[0].load(), 0u);
  EXPECT_EQ(s->destroyed_bits[0].load(), 0u);
}

TEST_F(CentralComponent, UncacheFreesTheDestroyedSlotsOfItsSpan) {
  Span* s = swept_span({5, 6, 7}, {5, 6});
  s->destructor_holds.store(0);
  destroyed(s, {5});
  ASSERT_EQ(central_.cache_span(kClass), s);
  const std::int64_t frees = g_counters.frees.load();
  central_.uncache_span(s);
  EXPECT_FALSE(has_bit(s->alloc_bits, 5));
  EXPECT_FALSE(has_bit(s->zombie_bits, 5));
  EXPECT_FALSE(has_bit(s->destroyed_bits, 5));
  EXPECT_TRUE(has_bit(s->zombie_bits, 6));
  EXPECT_EQ(s->alloc_count.load(), 2u);
  EXPECT_EQ(g_counters.frees.load() - frees, 1);
}

TEST_F(CentralComponent, BelowTheCursorDestroyedSlotsAreFreedOutsideAMarkOnly) {
  Span* s = swept_span({5, 6, 7}, {5, 6});
  s->destructor_holds.store(0);
  ASSERT_EQ(central_.cache_span(kClass), s);
  allocate_slots(s, 6);  // the owner handed out slots 0-4 and stepped over 5
  s->alloc_count.store(8);
  central_.uncache_span(s);
  EXPECT_EQ(s->list_id, partial_list(gen_));

  // During a mark: slot 5 is below free_index, allocated whatever its bit says, and the bits below
  // the cursor cannot be written (what was handed out since mark start would turn white).
  g_gc_phase.store(GcPhase::kMark);
  destroyed(s, {5, 6});
  s->destructor_holds.store(1);
  EXPECT_EQ(central_.release_destroyed(s), 1u);
  g_gc_phase.store(GcPhase::kOff);
  EXPECT_EQ(s->free_index.load(), 6u);
  EXPECT_TRUE(has_bit(s->alloc_bits, 5));
  EXPECT_FALSE(has_bit(s->alloc_bits, 6));
  EXPECT_EQ(s->alloc_count.load(), 7u);
  EXPECT_EQ(s->destructor_holds.load(), 0u);

  // Outside one: the cursor's slots are written into the bitmap, and 5 goes too.
  s->destructor_holds.store(1);
  EXPECT_EQ(central_.release_destroyed(s), 0u);
  EXPECT_EQ(s->free_index.load(), 0u);
  EXPECT_EQ(s->alloc_bits[0].load(), 0x9Fu);  // 0-4 and 7
  EXPECT_EQ(s->alloc_count.load(), 6u);
  EXPECT_EQ(s->destroyed_bits[0].load(), 0u);
  EXPECT_EQ(s->zombie_bits[0].load(), 0u);
}

TEST_F(CentralComponent, ReleaseDestroyedGivesBackASpanItEmptiesOutsideAMark) {
  Span* s = central_.cache_span(kClass);
  Span* t = central_.cache_span(kClass);
  file_swept(s, {5, 6}, {5, 6});
  file_swept(t, {5, 6}, {5, 6});
  const std::size_t inuse = page_heap().inuse_bytes();
  destroyed(s, {5, 6});
  // Kept, empty, during a mark (a marker may be resolving an address in it): work left for the
  // next sweep.
  g_gc_phase.store(GcPhase::kMark);
  s->destructor_holds.store(2);
  EXPECT_EQ(central_.release_destroyed(s), 1u);
  g_gc_phase.store(GcPhase::kOff);
  EXPECT_EQ(s->state.load(), SpanState::kInUse);
  EXPECT_EQ(s->alloc_count.load(), 0u);
  EXPECT_EQ(s->list_id, partial_list(gen_));
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);

  destroyed(t, {5, 6});
  EXPECT_EQ(central_.release_destroyed(t), 0u);
  EXPECT_EQ(t->state.load(), SpanState::kFree);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - test::kSpanBytes);
  EXPECT_EQ(s->destructor_holds.load(), 1u);
  s->destructor_holds.store(0);
}

TEST_F(CentralComponent, AnotherHoldKeepsAnEmptiedSpanListed) {
  Span* s = swept_span({5, 6}, {5, 6});
  s->destructor_holds.store(2);
  const std::size_t inuse = page_heap().inuse_bytes();
  destroyed(s, {5, 6});
  EXPECT_EQ(central_.release_destroyed(s), 0u);
  EXPECT_EQ(s->state.load(), SpanState::kInUse);
  EXPECT_EQ(s->alloc_count.load(), 0u);
  EXPECT_EQ(s->list_id, partial_list(gen_));
  EXPECT_EQ(s->destructor_holds.load(), 1u);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);
}

}  // namespace
