// The page backer (src/heap/page_backer.hpp): a new span's pages, handed over by the allocation
// that took the span, are backed by the backer thread; a range that no span in use holds is left
// alone.
#include "heap/page_backer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "../support/os_pages.hpp"
#include "../support/support.hpp"
#include "heap/address_space.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using gc::detail::page_backer_counts;
using test::kernel_populates;
using test::resident_os_pages;

// Waits until the backer has finished every range handed to it so far; false after 10 s.
bool wait_for_backer() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const gc::detail::PageBackerCounts counts = page_backer_counts();
    if (counts.finished >= counts.handed) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

struct Kib {
  char bytes[1024];
};

TEST(PageBacker, BacksTheRestOfANewSpanAfterItsFirstObject) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  const std::uint64_t handed_before = page_backer_counts().handed;
  // The process's first object of this class takes a new span whose pages have no memory yet;
  // building the object touches only its own page.
  gc::ptr<Kib> first = gc::make<Kib>();
  ASSERT_GT(page_backer_counts().handed, handed_before) << "the allocation backed nothing";
  ASSERT_TRUE(wait_for_backer());
  const gc::detail::Span* s = gc::detail::span_of(reinterpret_cast<std::uintptr_t>(first.get()));
  const std::size_t bytes = s->npages * gc::detail::kPageSize;
  EXPECT_EQ(resident_os_pages(s->base, bytes), bytes / static_cast<std::size_t>(::getpagesize()));
}

// Pages at the top of the committed heap, above every span so far: no span holds them, and they
// have never been touched. A range handed over for them (as a queued range whose span was freed
// while it waited) must stay unbacked.
TEST(PageBacker, LeavesARangeNoSpanInUseHolds) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  gc::make<int>(1);  // the heap grows by a run far larger than this object's span
  constexpr std::size_t kBytes = 64 * 1024;
  const std::uintptr_t hi = gc::detail::heap_frontier();
  const std::uintptr_t lo = hi - kBytes;
  ASSERT_EQ(gc::detail::span_of(lo), nullptr);
  ASSERT_EQ(gc::detail::span_of(hi - 1), nullptr);
  ASSERT_EQ(resident_os_pages(lo, kBytes), 0u);
  gc::detail::back_pages_soon({lo, lo + kBytes});
  ASSERT_TRUE(wait_for_backer());
  EXPECT_EQ(resident_os_pages(lo, kBytes), 0u);
}

}  // namespace
