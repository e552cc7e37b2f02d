// ctest-env: GOGC=off
// Empty spans kept for their size class (free_or_keep_empty_span, src/heap/central.hpp), driven as
// the central-list tests drive them: the test is the thread cache (cache_span, uncache_span), the
// sweeper (take_unswept, sweep_span, insert_swept) and the collector (g_sweepgen moves by two at
// the end of a "cycle"; no mark bit is set, so every object dies). GOGC=off, and nothing here uses
// gc::make, so no real cycle runs. Each test fails if its rule is taken out: a kept span not
// reused, an idle one never returned, a span of many slots given back at once, one under a memory
// limit kept, or collect()'s release leaving one out.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "base/settings.hpp"
#include "gc/startup.hpp"
#include "heap/central.hpp"
#include "heap/collector.hpp"
#include "heap/page_heap.hpp"
#include "small_span.hpp"
#include "tricolor/control.hpp"
#include "tricolor/detail/size_classes.hpp"

namespace {

using namespace gc::detail;

// 256-byte slots: 128 to a span.
constexpr std::uint8_t kFewClass = make_span_class(size_to_class(256), false);
static_assert(kClassToObjects[size_to_class(256)] == 128);
// test::kClass has 682 slots: kept like any other small class, however many slots its spans have.
static_assert(kClassToObjects[test::kSizeClass] > 512);

class KeptEmptySpan : public testing::Test {
 protected:
  void SetUp() override {
    ensure_runtime();
    ASSERT_LT(settings().gc_percent, 0) << "run with GOGC=off: a cycle would move g_sweepgen";
  }
  void TearDown() override { keep_no_empty_spans_under_a_limit(false); }

  void end_cycle() { g_sweepgen.fetch_add(2); }

  // A span of `span_class` whose every slot was handed out (by a type whose destructor the span
  // recorded, none of them registered), given back full, and found dead by the next cycle's sweep:
  // returns what sweep_span returned (true: back in the page heap).
  bool fill_and_sweep_dead(std::uint8_t span_class, Span*& s) {
    Central& c = central(span_class);
    s = c.cache_span(span_class);
    EXPECT_NE(s, nullptr);
    s->destructor.store(0x1234);
    s->free_index.store(s->nelems);
    s->alloc_count.store(s->nelems);
    c.uncache_span(s);
    end_cycle();
    return sweep_next(span_class, s);
  }

  // `n` spans of `span_class` filled, given back full, found dead by the next cycle's sweep and
  // kept empty for their class, in the order they were taken.
  std::vector<Span*> keep_empty_spans(std::uint8_t span_class, int n) {
    Central& c = central(span_class);
    std::vector<Span*> spans;
    for (int i = 0; i < n; ++i) spans.push_back(c.cache_span(span_class));  // each one cached
    for (Span* s : spans) {
      s->free_index.store(s->nelems);
      s->alloc_count.store(s->nelems);
      c.uncache_span(s);
    }
    end_cycle();
    for (int i = 0; i < n; ++i) {
      SweepClaim claim = c.take_unswept();
      EXPECT_TRUE(claim);
      if (!claim) break;
      Span* s = claim.span();
      EXPECT_FALSE(sweep_span(std::move(claim)));
      c.insert_swept(s);
    }
    return spans;
  }

  // Sweeps the next unswept span of the class, which must be `s`; files it again if it stays.
  bool sweep_next(std::uint8_t span_class, Span* s) {
    Central& c = central(span_class);
    SweepClaim claim = c.take_unswept();
    EXPECT_TRUE(claim);
    EXPECT_EQ(claim.span(), s);
    const bool freed = sweep_span(std::move(claim));
    if (!freed) c.insert_swept(s);
    return freed;
  }
};

TEST_F(KeptEmptySpan, AnEmptySpanIsKeptAndTheClassTakesItAgainWithoutThePageHeap) {
  Span* s = nullptr;
  EXPECT_FALSE(fill_and_sweep_dead(kFewClass, s));
  EXPECT_TRUE(s->kept_empty);
  EXPECT_EQ(s->state.load(), SpanState::kInUse);
  EXPECT_EQ(s->alloc_count.load(), 0u);
  EXPECT_EQ(s->destructor.load(), 0u);  // the next type made in it is its own
  const std::size_t inuse = page_heap().inuse_bytes();
  Span* again = central(kFewClass).cache_span(kFewClass);
  EXPECT_EQ(again, s);
  EXPECT_FALSE(again->kept_empty);  // taken: it may be kept again at its next sweep
  EXPECT_EQ(page_heap().inuse_bytes(), inuse);
  central(kFewClass).uncache_span(again);
}

TEST_F(KeptEmptySpan, AKeptSpanNobodyTookGoesBackAtItsNextSweep) {
  Span* s = nullptr;
  ASSERT_FALSE(fill_and_sweep_dead(kFewClass, s));
  const std::size_t inuse = page_heap().inuse_bytes();
  end_cycle();
  EXPECT_TRUE(sweep_next(kFewClass, s));
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - s->npages * kPageSize);
}

TEST_F(KeptEmptySpan, ASweepForAnAllocationKeepsItWhateverItWas) {
  Span* s = nullptr;
  ASSERT_FALSE(fill_and_sweep_dead(kFewClass, s));
  end_cycle();  // unswept again, and kept empty last time
  Span* taken = central(kFewClass).cache_span(kFewClass);  // sweeps it, to use it
  EXPECT_EQ(taken, s);
  EXPECT_EQ(taken->state.load(), SpanState::kInUse);
  central(kFewClass).uncache_span(taken);
}

TEST_F(KeptEmptySpan, ASpanOfManySlotsIsKeptToo) {
  Span* s = nullptr;
  EXPECT_FALSE(fill_and_sweep_dead(test::kClass, s));
  EXPECT_TRUE(s->kept_empty);
  Span* again = central(test::kClass).cache_span(test::kClass);
  EXPECT_EQ(again, s);
  central(test::kClass).uncache_span(again);
}

TEST_F(KeptEmptySpan, UnderAMemoryLimitNoSpanIsKept) {
  keep_no_empty_spans_under_a_limit(true);  // as gc::set_memory_limit and GOMEMLIMIT say
  Span* s = nullptr;
  EXPECT_TRUE(fill_and_sweep_dead(kFewClass, s));
}

TEST_F(KeptEmptySpan, SettingAMemoryLimitGivesTheKeptSpansBack) {
  Span* s = nullptr;
  ASSERT_FALSE(fill_and_sweep_dead(kFewClass, s));
  const std::size_t inuse = page_heap().inuse_bytes();
  gc::set_memory_limit(std::int64_t{1} << 40);
  EXPECT_EQ(s->state.load(), SpanState::kFree);
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - s->npages * kPageSize);
  gc::set_memory_limit(INT64_MAX);
}

// More kept spans than one critical section frees: every one goes back all the same.
TEST_F(KeptEmptySpan, ReleaseGivesBackMoreSpansThanOneSectionFrees) {
  const std::vector<Span*> spans = keep_empty_spans(kFewClass, 40);
  const std::size_t inuse = page_heap().inuse_bytes();
  const std::size_t span_bytes = spans.front()->npages * kPageSize;
  EXPECT_TRUE(release_kept_empty_spans());
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - spans.size() * span_bytes);
}

TEST_F(KeptEmptySpan, ReleaseGivesEveryKeptSpanBack) {
  const std::vector<Span*> spans = keep_empty_spans(kFewClass, 2);
  ASSERT_NE(spans[0], spans[1]);
  const std::size_t inuse = page_heap().inuse_bytes();
  const std::size_t bytes = (spans[0]->npages + spans[1]->npages) * kPageSize;
  EXPECT_TRUE(release_kept_empty_spans());
  EXPECT_EQ(page_heap().inuse_bytes(), inuse - bytes);
}

TEST_F(KeptEmptySpan, AfterTheOSRefusedMemoryNoSpanIsKept) {
  // Last in the file: the refusal is for good, in this process (ctest runs each test in a process
  // of its own; run as one binary, the tests before this one have run already).
  keep_no_empty_spans_after_a_refusal();
  Span* s = nullptr;
  EXPECT_TRUE(fill_and_sweep_dead(kFewClass, s));
}

}  // namespace
