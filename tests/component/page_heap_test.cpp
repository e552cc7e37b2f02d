// ctest-env: GOGC=off
// The page heap alone (src/heap/page_heap.hpp): a PageHeap of the test's own, growing on the
// process's heap reservation as the library's does. Nothing here allocates through gc::make, so
// the library's page_heap() never grows and this heap's runs are laid out exactly as the test
// makes them. After each step the test checks the page counts: in use, idle (free), released (idle
// and given back to the OS) and retained (in use + idle - released).
//
// The heap grows by at least 128 pages (page_heap.cpp's kMinGrowPages): the first one-page span
// sits at the bottom of a 128-page run, and the 127 pages above it stay free. The tests name pages
// by their number in that run ("page 0" is the first span's).
#include "heap/page_heap.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../support/os_pages.hpp"
#include "gc/startup.hpp"
#include "heap/address_space.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using gc::detail::heap_frontier;
using gc::detail::kPageSize;
using gc::detail::PageHeap;
using gc::detail::PagesToBack;
using gc::detail::Span;
using gc::detail::span_of;
using gc::detail::SpanState;
using test::kernel_populates;
using test::resident_os_pages;

constexpr std::size_t kP = kPageSize;
constexpr std::size_t kGrowPages = 128;

class PageHeapComponent : public testing::Test {
 protected:
  void SetUp() override { gc::detail::ensure_runtime(); }

  // A span of `npages` pages, published as its user would publish it (free() takes spans in use),
  // with the pages allocate() reports for backing in `to_back`, not backed yet.
  Span* take_unbacked(std::size_t npages, std::uint32_t slots, PagesToBack& to_back) {
    to_back = {};
    Span* s = heap_.allocate(npages, slots, &to_back);
    if (s != nullptr) s->state.store(SpanState::kInUse, std::memory_order_release);
    return s;
  }
  // The same, backed as its user would back it.
  Span* take(std::size_t npages, std::uint32_t slots = 1) {
    PagesToBack to_back;
    Span* s = take_unbacked(npages, slots, to_back);
    gc::detail::back_pages(to_back);
    return s;
  }
  // The address of page `n` of the first run.
  std::uintptr_t page(std::size_t n) const { return origin_ + n * kP; }
  // Takes the first span, one page at the bottom of a new 128-page run.
  Span* first(std::size_t npages = 1) {
    Span* s = take(npages);
    origin_ = s->base;
    return s;
  }

  // The page counts, with retained = in use + idle - released.
  testing::AssertionResult pages(std::size_t inuse, std::size_t idle, std::size_t released) const {
    const std::size_t i = heap_.inuse_bytes(), d = heap_.idle_bytes(), r = heap_.released_bytes(),
                      t = heap_.retained_bytes();
    if (i == inuse * kP && d == idle * kP && r == released * kP &&
        t == (inuse + idle - released) * kP)
      return testing::AssertionSuccess();
    return testing::AssertionFailure()
           << "in use " << i / kP << ", idle " << d / kP << ", released " << r / kP << ", retained "
           << t / kP << " pages; want " << inuse << ", " << idle << ", " << released << ", "
           << inuse + idle - released;
  }

  PageHeap heap_;
  std::uintptr_t origin_ = 0;
};

TEST_F(PageHeapComponent, AllocateGrowsTheHeapAtTheFrontierAndFillsTheSpanTable) {
  const std::uintptr_t frontier = heap_frontier();
  EXPECT_TRUE(pages(0, 0, 0));
  Span* a = heap_.allocate(1, 1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->base, frontier);
  EXPECT_EQ(a->npages, 1u);
  // Not published yet: the caller sets the span up and stores kInUse.
  EXPECT_EQ(a->state.load(), SpanState::kFree);
  EXPECT_EQ(span_of(a->base), a);
  EXPECT_EQ(heap_frontier(), frontier + kGrowPages * kP);
  EXPECT_TRUE(pages(1, 127, 0));

  Span* b = heap_.allocate(3, 1);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->base, a->base + kP);
  EXPECT_EQ(b->npages, 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(span_of(b->base + i * kP), b) << i;
  EXPECT_EQ(span_of(b->base + 3 * kP), nullptr);
  EXPECT_TRUE(pages(4, 124, 0));
}

TEST_F(PageHeapComponent, AllocateTakesTheSmallestRunThatFitsLowestAddressFirst) {
  Span* a = first();  // page 0
  Span* b = take(3);  // pages 1-3
  Span* c = take(1);  // page 4
  Span* d = take(2);  // pages 5-6
  Span* e = take(1);  // page 7
  Span* f = take(2);  // pages 8-9
  Span* g = take(1);  // page 10; the rest, 11-127, is free
  ASSERT_TRUE(a && b && c && d && e && f && g);
  EXPECT_EQ(g->base, page(10));
  heap_.free(b);
  heap_.free(d);
  heap_.free(f);
  EXPECT_TRUE(pages(4, 124, 0));
  EXPECT_EQ(take(2)->base, page(5));  // two runs of 2 pages: the lower one
  EXPECT_EQ(take(2)->base, page(8));
  EXPECT_EQ(take(2)->base, page(1));  // then the run of 3, which leaves page 3
  EXPECT_EQ(take(1)->base, page(3));
  EXPECT_EQ(take(1)->base, page(11));
  EXPECT_TRUE(pages(12, 116, 0));
}

TEST_F(PageHeapComponent, FreeMergesWithTheFreeRunAbove) {
  Span* a = first();  // page 0
  Span* b = take(1);  // page 1
  Span* c = take(1);  // page 2 keeps page 1 apart from the free pages 3-127
  ASSERT_TRUE(a && b && c);
  heap_.free(b);
  heap_.free(a);  // ends where the free page 1 starts
  EXPECT_TRUE(pages(1, 127, 0));
  // One run of two pages at page 0; unmerged, two pages would come from page 3 up.
  EXPECT_EQ(take(2)->base, page(0));
  EXPECT_TRUE(pages(3, 125, 0));
}

TEST_F(PageHeapComponent, FreeMergesWithTheFreeRunBelow) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  ASSERT_TRUE(a && b && c);
  heap_.free(a);
  heap_.free(b);  // starts where the free page 0 ends
  EXPECT_TRUE(pages(1, 127, 0));
  EXPECT_EQ(take(2)->base, page(0));
  EXPECT_TRUE(pages(3, 125, 0));
}

TEST_F(PageHeapComponent, FreeMergesWithBothNeighbours) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  Span* d = take(1);  // pages 4-127 are free
  ASSERT_TRUE(a && b && c && d);
  heap_.free(a);
  heap_.free(c);
  heap_.free(b);  // joins pages 0 and 2
  EXPECT_TRUE(pages(1, 127, 0));
  Span* three = take(3);
  EXPECT_EQ(three->base, page(0));
  heap_.free(three);
  heap_.free(d);  // joins pages 0-2 and 4-127: the whole run again
  EXPECT_TRUE(pages(0, 128, 0));
  const std::uintptr_t frontier = heap_frontier();
  EXPECT_EQ(take(kGrowPages)->base, page(0));
  EXPECT_EQ(heap_frontier(), frontier);  // without growing
  EXPECT_TRUE(pages(128, 0, 0));
}

TEST_F(PageHeapComponent, GrowingMergesWithTheFreeRunThatEndsAtTheFrontier) {
  first();  // pages 1-127 free, up to the frontier
  const std::uintptr_t frontier = heap_frontier();
  Span* big = take(200);  // fits nowhere: the heap grows by 200 pages
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->base, page(1));
  EXPECT_EQ(heap_frontier(), frontier + 200 * kP);
  EXPECT_TRUE(pages(201, 127, 0));
}

TEST_F(PageHeapComponent, AFreedSpanLeavesTheSpanTableAndItsDescriptorIsReused) {
  first();
  Span* a = take(2);
  ASSERT_NE(a, nullptr);
  const std::uintptr_t base = a->base;
  a->alloc_count.store(5);
  heap_.free(a);
  EXPECT_EQ(a->state.load(), SpanState::kFree);
  EXPECT_EQ(span_of(base), nullptr);
  EXPECT_EQ(span_of(base + kP), nullptr);
  EXPECT_TRUE(pages(1, 127, 0));
  Span* b = heap_.allocate(1, 1);
  EXPECT_EQ(b, a);  // the recycled descriptor, as new
  EXPECT_EQ(b->base, base);
  EXPECT_EQ(b->npages, 1u);
  EXPECT_EQ(b->alloc_count.load(), 0u);
  EXPECT_EQ(span_of(base), b);
}

// Every size class's span gets bitmaps of exactly the words its slots need (span.hpp): none is
// rounded up, and a count no class has takes the next length descriptors come in.
TEST(DescriptorLengths, EachSizeClassGetsTheWordsItsSlotsNeed) {
  static_assert(gc::detail::kMaxSpanObjects == 4096 && gc::detail::kBitmapWords == 64);
  for (std::size_t c = 1; c < gc::detail::kNumSizeClasses; ++c) {
    const std::uint32_t slots = gc::detail::kClassToObjects[c];
    EXPECT_EQ(gc::detail::descriptor_bitmap_words(slots), (slots + 63) / 64) << "class " << c;
  }
  EXPECT_EQ(gc::detail::descriptor_bitmap_words(1), 1u);     // a large object's span
  EXPECT_EQ(gc::detail::descriptor_bitmap_words(600), 11u);  // 10 words: no class has them
  EXPECT_EQ(gc::detail::descriptor_bitmap_words(4097), 0u);  // more than any span
  for (std::size_t i = 1; i < gc::detail::kDescriptorSizes; ++i)
    EXPECT_LT(gc::detail::kDescriptorWords[i - 1], gc::detail::kDescriptorWords[i]);
}

// A descriptor's eight bitmaps follow its header, sized for its span's slots, so that recycling by
// length hands each one back.
TEST_F(PageHeapComponent, ADescriptorsBitmapsAreSizedByItsSlotsAndFollowItsHeader) {
  first();
  const struct {
    std::uint32_t slots, words;
  } sizes[] = {{1, 1},   {8, 1},    {64, 1},    {65, 2},    {128, 2},   {170, 3},
               {512, 8}, {682, 11}, {1024, 16}, {1365, 22}, {2048, 32}, {4096, 64}};
  for (const auto& size : sizes) {
    Span* s = heap_.allocate(1, size.slots);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->bitmap_words, size.words) << size.slots << " slots";
    auto* const block = reinterpret_cast<std::atomic<std::uint64_t>*>(s + 1);
    EXPECT_EQ(s->mark_bits, block);
    EXPECT_EQ(s->alloc_bits, block + size.words);
    EXPECT_EQ(s->pinned_bits, block + 6 * size.words);
    EXPECT_EQ(s->scanned_bits, block + 7 * size.words);
    for (std::size_t w = 0; w < Span::kBitmaps * size.words; ++w) EXPECT_EQ(block[w].load(), 0u);
    s->state.store(SpanState::kInUse, std::memory_order_release);
    heap_.free(s);
  }
}

// A recycled descriptor keeps its bitmaps' block but not their bits, and goes only to a span whose
// slots its bitmaps fit: a span of 1,024 slots never gets the one a span of 8 slots left.
TEST_F(PageHeapComponent, ARecycledDescriptorComesBackZeroedAndOnlyForItsOwnSize) {
  first();
  Span* small = take(1);  // 1 slot: bitmaps of one word
  ASSERT_NE(small, nullptr);
  std::atomic<std::uint64_t>* const small_bits = small->mark_bits;
  for (std::size_t w = 0; w < Span::kBitmaps; ++w) small_bits[w].store(~std::uint64_t{0});
  heap_.free(small);

  Span* dense = heap_.allocate(1, 1024);
  ASSERT_NE(dense, nullptr);
  EXPECT_NE(dense, small);
  EXPECT_EQ(dense->bitmap_words, 16u);
  dense->state.store(SpanState::kInUse, std::memory_order_release);

  Span* again = heap_.allocate(1, 40);
  EXPECT_EQ(again, small);
  EXPECT_EQ(again->mark_bits, small_bits);
  for (std::size_t w = 0; w < Span::kBitmaps; ++w) EXPECT_EQ(small_bits[w].load(), 0u) << w;
}

TEST_F(PageHeapComponent, ReleaseFreePagesReleasesEveryIdlePageOnce) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  ASSERT_TRUE(a && b && c);
  heap_.free(b);
  EXPECT_TRUE(pages(2, 126, 0));
  EXPECT_EQ(heap_.release_free_pages(), 126 * kP);
  EXPECT_TRUE(pages(2, 126, 126));
  EXPECT_EQ(heap_.take_eager_released(), 126 * kP);
  EXPECT_EQ(heap_.take_eager_released(), 0u);
  EXPECT_EQ(heap_.release_free_pages(), 0u);
  EXPECT_EQ(heap_.take_eager_released(), 0u);
  // Page 0 joins the released page 1: only page 0 is new to release.
  heap_.free(a);
  EXPECT_TRUE(pages(1, 127, 126));
  EXPECT_EQ(heap_.release_free_pages(), kP);
  EXPECT_TRUE(pages(1, 127, 127));
}

TEST_F(PageHeapComponent, ReleasedPagesReadAsZeroWhenTheyAreUsedAgain) {
  Span* a = first();
  Span* b = take(1);
  ASSERT_TRUE(a && b);
  std::memset(reinterpret_cast<void*>(b->base), 0xAB, kP);
  heap_.free(b);
  EXPECT_EQ(heap_.release_free_pages(), 127 * kP);
  Span* c = take(1);  // the one-page run at page 1
  ASSERT_EQ(c->base, page(1));
  EXPECT_TRUE(pages(2, 126, 126));
  const auto* bytes = reinterpret_cast<const unsigned char*>(c->base);
  std::size_t nonzero = 0;
  for (std::size_t i = 0; i < kP; ++i) nonzero += bytes[i] != 0;
  EXPECT_EQ(nonzero, 0u);
}

// Whether transparent huge pages back every anonymous mapping: then populating a span may bring in
// the whole 2 MiB page around it, its neighbours too.
bool huge_pages_always() {
  std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f == nullptr) return false;
  char line[128] = {};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  return got && std::strstr(line, "[always]") != nullptr;
}

// A span of several objects gets its pages backed when it is taken (os::populate), not by a fault
// at each first touch; a span of one object is left to fault.
TEST_F(PageHeapComponent, ASpanOfSeveralObjectsHasItsPagesBackedWhenTaken) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  const std::size_t os_pages_per_page = kP / static_cast<std::size_t>(::getpagesize());
  Span* small = take(2, 16);
  Span* large = take(4, 1);
  ASSERT_TRUE(small && large);
  EXPECT_EQ(resident_os_pages(small->base, 2 * kP), 2 * os_pages_per_page);
  if (!huge_pages_always()) {
    EXPECT_EQ(resident_os_pages(large->base, 4 * kP), 0u);
  }
}

// What allocate() reports for backing: a span of several objects' pages that have no memory yet
// (above every such span before it, or released), and nothing for a span of one object.
TEST_F(PageHeapComponent, AllocateReportsThePagesOfASpanOfSeveralObjectsThatNeedBacking) {
  PagesToBack to_back;
  Span* a = take_unbacked(2, 16, to_back);
  ASSERT_NE(a, nullptr);
  origin_ = a->base;
  EXPECT_EQ(to_back.lo, page(0));
  EXPECT_EQ(to_back.hi, page(2));

  Span* large = take_unbacked(3, 1, to_back);
  ASSERT_NE(large, nullptr);
  EXPECT_TRUE(to_back.empty()) << "a span of one object is left to fault";

  // Pages 2-4 were handed out (to the large object) but never reported: above the highest span
  // of several objects, so a span that takes them again after a free reports them.
  heap_.free(large);
  Span* b = take_unbacked(1, 16, to_back);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->base, page(2));
  EXPECT_EQ(to_back.lo, page(2));
  EXPECT_EQ(to_back.hi, page(3));

  // Below the highest such span, pages that were never released are not reported again.
  heap_.free(a);
  Span* c = take_unbacked(2, 16, to_back);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->base, page(0));
  EXPECT_TRUE(to_back.empty());

  // Released ones are.
  heap_.free(c);
  EXPECT_GT(heap_.release_free_pages(), 0u);
  Span* d = take_unbacked(2, 16, to_back);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->base, page(0));
  EXPECT_EQ(to_back.lo, page(0));
  EXPECT_EQ(to_back.hi, page(2));
}

TEST_F(PageHeapComponent, ReleasedPagesAreBackedAgainWhenASpanOfSeveralObjectsTakesThem) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  const std::size_t os_pages_per_page = kP / static_cast<std::size_t>(::getpagesize());
  Span* a = take(1, 16);
  origin_ = a->base;
  Span* b = take(1, 16);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(b->base, page(1));
  heap_.free(b);
  EXPECT_EQ(heap_.release_free_pages(), 127 * kP);
  EXPECT_EQ(resident_os_pages(page(1), kP), 0u);
  Span* c = take(1, 16);
  ASSERT_EQ(c->base, page(1));
  EXPECT_EQ(resident_os_pages(page(1), kP), os_pages_per_page);
  EXPECT_TRUE(pages(2, 126, 126));
}

TEST_F(PageHeapComponent, AllocatingFromAPartlyReleasedRunCountsOnlyItsReleasedPages) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  ASSERT_TRUE(a && b && c);
  heap_.free(b);
  EXPECT_EQ(heap_.release_free_pages(), 126 * kP);  // page 1 and pages 3-127
  heap_.free(a);                                    // pages 0-1, page 1 released
  EXPECT_TRUE(pages(1, 127, 126));
  EXPECT_EQ(take(1)->base, page(0));  // not released
  EXPECT_TRUE(pages(2, 126, 126));
  EXPECT_EQ(take(1)->base, page(1));  // released
  EXPECT_TRUE(pages(3, 125, 125));
}

TEST_F(PageHeapComponent, ScavengeReleasesTheHighestFreePagesFirst) {
  first();
  EXPECT_EQ(heap_.scavenge(3 * kP), 3 * kP);
  EXPECT_TRUE(pages(1, 127, 3));
  // Pages 1-124 are the unreleased ones, 125-127 the released ones.
  EXPECT_EQ(take(124)->base, page(1));
  EXPECT_TRUE(pages(125, 3, 3));
  EXPECT_EQ(take(1)->base, page(125));
  EXPECT_TRUE(pages(126, 2, 2));
}

TEST_F(PageHeapComponent, ScavengeIsBoundedByMaxBytesRoundedUpToPages) {
  first();
  EXPECT_EQ(heap_.scavenge(1), kP);
  EXPECT_EQ(heap_.scavenge(kP), kP);
  EXPECT_EQ(heap_.scavenge(kP + 1), 2 * kP);
  EXPECT_EQ(heap_.scavenge(5 * kP), 5 * kP);
  EXPECT_TRUE(pages(1, 127, 9));
  // From the top down, each call right below the last: pages 119-127.
  EXPECT_EQ(take(118)->base, page(1));
  EXPECT_TRUE(pages(119, 9, 9));
}

// "At most max_bytes (rounded up to pages)": for 0, none (scavenge released one page before this
// test found it; no caller passes 0).
TEST_F(PageHeapComponent, ScavengeOfZeroBytesReleasesNothing) {
  first();
  EXPECT_EQ(heap_.scavenge(0), 0u);
  EXPECT_TRUE(pages(1, 127, 0));
}

TEST_F(PageHeapComponent, ScavengeTakesTheHighestRunFirstOnePieceAtATime) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  ASSERT_TRUE(a && b && c);
  heap_.free(b);  // free: page 1, and pages 3-127
  EXPECT_EQ(heap_.scavenge(1000 * kP), 125 * kP);
  EXPECT_TRUE(pages(2, 126, 125));
  EXPECT_EQ(heap_.scavenge(1000 * kP), kP);
  EXPECT_TRUE(pages(2, 126, 126));
  EXPECT_EQ(heap_.scavenge(1000 * kP), 0u);
  EXPECT_TRUE(pages(2, 126, 126));
}

TEST_F(PageHeapComponent, ScavengeReleasesOneContiguousPiecePerCall) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  Span* d = take(1);
  ASSERT_TRUE(a && b && c && d);
  heap_.free(c);
  EXPECT_EQ(heap_.release_free_pages(), 125 * kP);  // page 2 and pages 4-127
  heap_.free(b);
  heap_.free(d);  // one run, pages 1-127, with pages 1 and 3 not released
  EXPECT_TRUE(pages(1, 127, 125));
  EXPECT_EQ(heap_.scavenge(1000 * kP), kP);  // page 3: the released page 2 ends the piece
  EXPECT_TRUE(pages(1, 127, 126));
  EXPECT_EQ(heap_.scavenge(1000 * kP), kP);  // page 1
  EXPECT_TRUE(pages(1, 127, 127));
  EXPECT_EQ(heap_.scavenge(1000 * kP), 0u);
}

TEST_F(PageHeapComponent, OverTheMemoryLimitAllocationReleasesIdlePages) {
  first();
  heap_.set_memory_limit(64 * kP);
  EXPECT_EQ(heap_.memory_limit(), 64 * kP);
  // 2 in use + 126 idle = 128 > 64: the 64 highest idle pages go, not the page just taken.
  Span* b = take(1);
  EXPECT_EQ(b->base, page(1));
  EXPECT_TRUE(pages(2, 126, 64));
  EXPECT_EQ(heap_.take_eager_released(), 64 * kP);
  // Page 2 was idle and retained already: 3 + 125 - 64 = 64, at the limit, nothing more.
  EXPECT_EQ(take(1)->base, page(2));
  EXPECT_TRUE(pages(3, 125, 64));
  EXPECT_EQ(heap_.take_eager_released(), 0u);
}

TEST_F(PageHeapComponent, AtTheMemoryLimitNothingIsReleased) {
  first();
  heap_.set_memory_limit(128 * kP);  // 2 in use + 126 idle after the next span
  take(1);
  EXPECT_TRUE(pages(2, 126, 0));
  EXPECT_EQ(heap_.take_eager_released(), 0u);
}

TEST_F(PageHeapComponent, TheMemoryLimitReleasesFromEveryRunButNothingInUse) {
  Span* a = first();
  Span* b = take(1);
  Span* c = take(1);
  ASSERT_TRUE(a && b && c);
  heap_.free(b);
  heap_.set_memory_limit(2 * kP);  // below the pages in use
  // Page 1 is taken; 3 + 125 = 128 is 126 over, and the 125 idle pages 3-127 are all there is.
  Span* d = take(1);
  EXPECT_EQ(d->base, page(1));
  EXPECT_EQ(heap_.take_eager_released(), 125 * kP);
  EXPECT_TRUE(pages(3, 125, 125));
}

TEST_F(PageHeapComponent, WithNothingIdleToGiveTheMemoryLimitReleasesNothing) {
  first();
  EXPECT_EQ(heap_.release_free_pages(), 127 * kP);
  EXPECT_EQ(heap_.take_eager_released(), 127 * kP);
  heap_.set_memory_limit(kP);
  EXPECT_EQ(take(1)->base, page(1));
  EXPECT_EQ(heap_.take_eager_released(), 0u);
  EXPECT_TRUE(pages(2, 126, 126));
}

// The library's memory outside this heap (bookkeeping, arena chunks): here, whatever the test says.
std::size_t g_outside = 0;
std::size_t outside() { return g_outside; }

TEST(PageHeapOutside, TheMemoryLimitCountsWhatTheLibraryHoldsOutsideTheHeap) {
  gc::detail::ensure_runtime();
  PageHeap heap(&outside);
  g_outside = 32 * kP;
  Span* a = heap.allocate(1, 1);  // one page in use, 127 idle: 128 retained
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(heap.take_eager_released(), 0u);
  EXPECT_EQ(heap.ready_bytes_now(), 160 * kP);
  // 96 pages of limit leave the heap 64 once the outside is counted.
  heap.set_memory_limit(96 * kP);
  ASSERT_NE(heap.allocate(1, 1), nullptr);
  EXPECT_EQ(heap.take_eager_released(), 64 * kP);
  EXPECT_EQ(heap.retained_bytes(), 64 * kP);
  EXPECT_EQ(heap.ready_bytes_now(), 96 * kP);
  // The outside grows by 8 pages: the next allocation gives 8 idle pages more.
  g_outside = 40 * kP;
  ASSERT_NE(heap.allocate(1, 1), nullptr);
  EXPECT_EQ(heap.take_eager_released(), 8 * kP);
  EXPECT_EQ(heap.retained_bytes(), 56 * kP);
  g_outside = 0;
}

TEST_F(PageHeapComponent, TheCountsReadWithoutTheLockFollowEveryChange) {
  auto now = [&](std::size_t retained, std::size_t idle) {
    return heap_.retained_now() == retained * kP && heap_.idle_retained_now() == idle * kP &&
           heap_.ready_bytes_now() == retained * kP;  // no outside function: nothing outside
  };
  EXPECT_TRUE(now(0, 0));
  Span* a = first();
  EXPECT_TRUE(now(128, 127));  // allocate: the grown run
  Span* b = take(1);
  EXPECT_TRUE(now(128, 126));
  heap_.free(b);
  EXPECT_TRUE(now(128, 127));  // free
  EXPECT_EQ(heap_.scavenge(3 * kP), 3 * kP);
  EXPECT_TRUE(now(125, 124));  // scavenge
  EXPECT_EQ(heap_.release_free_pages(), 124 * kP);
  EXPECT_TRUE(now(1, 0));  // release_free_pages
  EXPECT_EQ(take(2)->base, page(1));
  EXPECT_TRUE(now(3, 0));  // released pages in use again
  heap_.free(a);
  EXPECT_TRUE(now(3, 1));
}

}  // namespace
