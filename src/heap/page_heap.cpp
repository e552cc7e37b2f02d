#include "heap/page_heap.hpp"

#include <algorithm>
#include <new>
#include <utility>

#include "base/bit_count.hpp"
#include "base/check.hpp"
#include "base/os_memory.hpp"
#include "base/thread_gc_time.hpp"
#include "heap/address_space.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {
// Grow by at least this many pages so that small spans do not each cost an mprotect.
constexpr std::size_t kMinGrowPages = 128;  // 1 MiB

// One bit per page of the reservation: set while the page is released. Mapped on first use, under
// the page heap's lock; pages never released read as zero words and cost no memory.
std::uint64_t* g_released_bits = nullptr;

std::size_t page_number(std::uintptr_t addr) {
  return (addr - g_heap.lo.load(std::memory_order_relaxed)) >> kPageShift;
}

std::uint64_t* released_bits() {
  if (g_released_bits == nullptr) {
    const std::size_t pages = g_heap.size.load(std::memory_order_relaxed) >> kPageShift;
    g_released_bits = static_cast<std::uint64_t*>(os::map_table((pages + 63) / 64 * 8));
    if (g_released_bits == nullptr) os::fatal("cannot map the released-page bitmap");
  }
  return g_released_bits;
}

// Calls f(word index, mask) for each bitmap word that [first, first + n) touches.
template <class F>
void for_each_bit_word(std::size_t first, std::size_t n, F&& f) {
  while (n > 0) {
    const std::size_t bit = first % 64;
    const std::size_t take = n < 64 - bit ? n : 64 - bit;
    const std::uint64_t mask = (take == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << take) - 1)
                               << bit;
    f(first / 64, mask);
    first += take;
    n -= take;
  }
}

// Counts the released pages of [first, first + n) and marks them all as not released.
std::size_t take_released(std::size_t first, std::size_t n) {
  std::uint64_t* bits = released_bits();
  std::size_t count = 0;
  for_each_bit_word(first, n, [&](std::size_t w, std::uint64_t mask) {
    count += static_cast<std::size_t>(count_ones(bits[w] & mask));
    bits[w] &= ~mask;
  });
  return count;
}

void mark_released(std::size_t first, std::size_t n) {
  std::uint64_t* bits = released_bits();
  for_each_bit_word(first, n, [&](std::size_t w, std::uint64_t mask) { bits[w] |= mask; });
}

bool is_released(std::size_t page) { return (released_bits()[page / 64] >> (page % 64) & 1) != 0; }

// What the library holds ready outside the page heap: its bookkeeping and arena chunks.
std::size_t outside_the_page_heap() {
  return os::ready_bytes(os::Account::kMetadata) + os::ready_bytes(os::Account::kArena);
}

// Descriptors come from pools of their own, one for each size of bitmaps: a freed descriptor's
// memory is only ever a descriptor again (the marker may read one through a stale span-table
// entry), and one of a size only goes to a span whose slots its bitmaps fit.
struct DescriptorPoolTag {};
template <std::uint32_t Words>
using DescriptorPool =
    FixedPool<sizeof(Span) + Span::kBitmaps * Words * sizeof(std::uint64_t), DescriptorPoolTag>;

// Which pool a descriptor with bitmaps of `words` words comes from: its length's place in
// kDescriptorWords.
std::size_t descriptor_size(std::uint32_t words) {
  const auto* const found = std::find(kDescriptorWords.begin(), kDescriptorWords.end(), words);
  TRICOLOR_CHECK(found != kDescriptorWords.end(), "a span descriptor with bitmaps of %u words",
                 words);
  return static_cast<std::size_t>(found - kDescriptorWords.begin());
}

template <std::size_t Size = 0, class Visit>
decltype(auto) with_descriptor_pool(std::size_t size, Visit&& visit) {
  if constexpr (Size + 1 < kDescriptorSizes) {
    if (size != Size) return with_descriptor_pool<Size + 1>(size, std::forward<Visit>(visit));
  }
  return visit(DescriptorPool<kDescriptorWords[Size]>::instance());
}

// A descriptor, as new, with zeroed bitmaps for `slots` slots. Outside the page heap's lock: the
// first touch of a new descriptor's memory is a page fault now and then, which no other thread
// should wait for.
Span* make_descriptor(std::uint32_t slots) {
  const std::uint32_t words = descriptor_bitmap_words(slots);
  void* memory =
      with_descriptor_pool(descriptor_size(words), [](auto& pool) { return pool.allocate(); });
  Span* s = ::new (memory) Span;
  // The bitmaps' lifetimes start here, zeroed (a recycled descriptor's held its last span's bits).
  auto* const bitmaps = reinterpret_cast<std::atomic<std::uint64_t>*>(s + 1);
  for (std::size_t i = 0; i < Span::kBitmaps * words; ++i)
    ::new (static_cast<void*>(bitmaps + i)) std::atomic<std::uint64_t>(0);
  s->point_bitmaps(bitmaps, words);
  return s;
}

void recycle_descriptor(Span* s) {
  with_descriptor_pool(descriptor_size(s->bitmap_words), [s](auto& pool) { pool.deallocate(s); });
}

}  // namespace

PageHeap& page_heap() {
  // Never destroyed: spans may be freed by background threads while the process exits.
  static PageHeap* heap = new PageHeap(&outside_the_page_heap);
  return *heap;
}

void PageHeap::set_span_table(std::uintptr_t base, std::size_t npages, Span* span) {
  const std::uintptr_t first = (base - g_heap.lo.load(std::memory_order_relaxed)) >> kPageShift;
  for (std::size_t i = 0; i < npages; ++i)
    g_heap.spans[first + i].store(span, std::memory_order_release);
}

void PageHeap::insert_free_run(std::uintptr_t base, FreeRun run) {
  TRICOLOR_DCHECK(run.npages > 0 && run.released <= run.npages,
                  "free run %p of %zu pages with %zu released", reinterpret_cast<void*>(base),
                  run.npages, run.released);
  TRICOLOR_DCHECK(base % kPageSize == 0, "free run %p not page aligned",
                  reinterpret_cast<void*>(base));
  free_by_address_.emplace(base, run);
  free_by_size_.emplace(run.npages, base);
  free_pages_ += run.npages;
  released_pages_ += run.released;
}

void PageHeap::insert_free_run_merged(std::uintptr_t base, FreeRun run) {
  auto after = free_by_address_.find(base + run.npages * kPageSize);
  if (after != free_by_address_.end()) {
    run.npages += after->second.npages;
    run.released += after->second.released;
    erase_free_run(after->first);
  }
  auto below = free_by_address_.lower_bound(base);
  if (below != free_by_address_.begin()) {
    --below;
    const std::uintptr_t below_end = below->first + below->second.npages * kPageSize;
    TRICOLOR_DCHECK(below_end <= base, "free run %p overlaps the free run below it",
                    reinterpret_cast<void*>(base));
    if (below_end == base) {
      const std::uintptr_t below_base = below->first;
      run.npages += below->second.npages;
      run.released += below->second.released;
      erase_free_run(below_base);
      base = below_base;
    }
  }
  insert_free_run(base, run);
}

void PageHeap::check_counts_locked() const {
  if constexpr (kDchecks) {
    TRICOLOR_DCHECK(free_by_address_.size() == free_by_size_.size(),
                    "the page heap's two indexes disagree: %zu runs by address, %zu by size",
                    free_by_address_.size(), free_by_size_.size());
    TRICOLOR_DCHECK(released_pages_ <= free_pages_, "%zu released pages of %zu free",
                    released_pages_, free_pages_);
  }
}

void PageHeap::erase_free_run(std::uintptr_t base) {
  const auto it = free_by_address_.find(base);
  TRICOLOR_DCHECK(it != free_by_address_.end(), "no free run at %p", reinterpret_cast<void*>(base));
  free_by_size_.erase({it->second.npages, base});
  free_pages_ -= it->second.npages;
  released_pages_ -= it->second.released;
  free_by_address_.erase(it);
}

Span* PageHeap::allocate(std::size_t npages, std::uint32_t slots, PagesToBack* to_back) {
  Span* const s = make_descriptor(slots);
  MutexLock lock(mutex_);
  auto fit = free_by_size_.lower_bound({npages, 0});
  if (fit == free_by_size_.end()) {
    const std::size_t grow = npages > kMinGrowPages ? npages : kMinGrowPages;
    std::uintptr_t base = grow_heap(grow * kPageSize);
    FreeRun run{grow, 0};
    if (base == 0 && grow > npages) {
      base = grow_heap(npages * kPageSize);
      run.npages = npages;
    }
    if (base == 0) {
      recycle_descriptor(s);
      return nullptr;
    }
    insert_free_run_merged(base, run);  // with a free run that ends at the old frontier
    fit = free_by_size_.lower_bound({npages, 0});
  }
  const std::uintptr_t run_base = fit->second;
  const FreeRun run = free_by_address_.at(run_base);
  erase_free_run(run_base);
  const std::size_t taken_released =
      run.released == 0 ? 0 : take_released(page_number(run_base), npages);
  if (run.npages > npages)
    insert_free_run(run_base + npages * kPageSize,
                    {run.npages - npages, run.released - taken_released});

  s->base = run_base;
  s->npages = npages;
  inuse_pages_ += npages;
  set_span_table(run_base, npages, s);
  // A span of several objects is filled slot by slot by the cache that takes it, so its pages that
  // have no physical memory (never used, or released) are worth backing in one call (back_pages)
  // rather than by a page fault each at the first object's construction: on the 2-CPU virtual
  // machine of design.md's measurements a fault cost ten times a populated page. A span of one
  // object (a large object, or one of the four small classes with one object a span) is left to
  // fault: a big array may be used sparsely.
  if (slots > 1 && to_back != nullptr) {
    const std::uintptr_t end = run_base + npages * kPageSize;
    if (taken_released != 0 || end > populated_end_) {
      to_back->lo = taken_released != 0 ? run_base : std::max(run_base, populated_end_);
      to_back->hi = end;
    }
    populated_end_ = std::max(populated_end_, end);
  }
  release_over_limit_locked();
  publish_locked();
  check_counts_locked();
  return s;
}

void back_pages(const PagesToBack& pages) {
  if (pages.empty()) return;
  ThreadGcTimeScope timed(GcTimeKind::kSpan);  // as when the call was part of taking the span
  void* const lo = reinterpret_cast<void*>(pages.lo);
  const std::size_t bytes = pages.hi - pages.lo;
  // An unregistered thread is never waited for; one inside a critical section may hold a lock a
  // stop needs, so it may not count as stopped, and the stop waits.
  if (t_mutator.record == nullptr ||
      t_mutator.critical_depth.load(std::memory_order_relaxed) != 0) {
    os::populate(lo, bytes);
    return;
  }
  BlockingScope backing;
  os::populate(lo, bytes);
}

void PageHeap::free(Span* span) {
  MutexLock lock(mutex_);
  TRICOLOR_DCHECK(span->state.load(std::memory_order_relaxed) != SpanState::kFree,
                  "span %p freed twice", reinterpret_cast<void*>(span->base));
  TRICOLOR_DCHECK(span_of(span->base) == span, "span %p is not in the span table",
                  reinterpret_cast<void*>(span->base));
  TRICOLOR_DCHECK(inuse_pages_ >= span->npages, "freeing %zu pages of %zu in use", span->npages,
                  inuse_pages_);
  std::uintptr_t base = span->base;
  FreeRun run{span->npages, 0};
  set_span_table(base, run.npages, nullptr);
  span->state.store(SpanState::kFree, std::memory_order_release);
  inuse_pages_ -= run.npages;
  insert_free_run_merged(base, run);
  publish_locked();
  check_counts_locked();
  lock.unlock();
  recycle_descriptor(span);
}

std::size_t PageHeap::release_free_pages() {
  MutexLock lock(mutex_);
  std::size_t released = 0;
  for (auto& [base, run] : free_by_address_) {
    if (run.released == run.npages) continue;
    // Releasing a page twice is harmless; one call for the whole run is cheaper than a walk.
    os::release(reinterpret_cast<void*>(base), run.npages * kPageSize);
    mark_released(page_number(base), run.npages);
    released += run.npages - run.released;
    released_pages_ += run.npages - run.released;
    released_total_.fetch_add(run.npages - run.released, std::memory_order_relaxed);
    run.released = run.npages;
  }
  publish_locked();
  eager_released_.fetch_add(released * kPageSize, std::memory_order_relaxed);
  return released * kPageSize;
}

void PageHeap::release_over_limit_locked() {
  const std::size_t limit = memory_limit_.load(std::memory_order_relaxed);
  if (limit == SIZE_MAX || free_pages_ == released_pages_) return;  // or nothing idle to give
  const std::size_t ready =
      (inuse_pages_ + free_pages_ - released_pages_) * kPageSize + outside_bytes();
  if (ready <= limit) return;
  const std::size_t excess = (ready - limit + kPageSize - 1) / kPageSize;
  std::size_t released = 0;
  while (released < excess) {
    const std::size_t n = scavenge_locked(excess - released);
    if (n == 0) break;
    released += n;
  }
  eager_released_.fetch_add(released * kPageSize, std::memory_order_relaxed);
}

std::size_t PageHeap::scavenge(std::size_t max_bytes) {
  MutexLock lock(mutex_);
  const std::size_t released = scavenge_locked((max_bytes + kPageSize - 1) / kPageSize);
  publish_locked();
  return released * kPageSize;
}

std::size_t PageHeap::scavenge_locked(std::size_t max_pages) {
  if (max_pages == 0) return 0;
  for (auto it = free_by_address_.rbegin(); it != free_by_address_.rend(); ++it) {
    FreeRun& run = it->second;
    if (run.released == run.npages) continue;
    // The highest unreleased page of the run, then down from it while pages are unreleased.
    const std::size_t first = page_number(it->first);
    std::size_t top = first + run.npages;
    while (is_released(top - 1)) --top;
    std::size_t bottom = top - 1;
    while (bottom > first && top - bottom < max_pages && !is_released(bottom - 1)) --bottom;
    release_pages_locked(it->first, bottom, top - bottom);
    return top - bottom;
  }
  return 0;
}

void PageHeap::release_pages_locked(std::uintptr_t run_base, std::size_t first,
                                    std::size_t npages) {
  const std::uintptr_t lo = g_heap.lo.load(std::memory_order_relaxed);
  os::release(reinterpret_cast<void*>(lo + first * kPageSize), npages * kPageSize);
  mark_released(first, npages);
  free_by_address_.at(run_base).released += npages;
  released_pages_ += npages;
  released_total_.fetch_add(npages, std::memory_order_relaxed);
}

void PageHeap::publish_locked() {
  retained_now_.store((inuse_pages_ + free_pages_ - released_pages_) * kPageSize,
                      std::memory_order_relaxed);
  idle_retained_now_.store((free_pages_ - released_pages_) * kPageSize, std::memory_order_relaxed);
}

std::size_t PageHeap::retained_bytes() const {
  MutexLock lock(mutex_);
  return (inuse_pages_ + free_pages_ - released_pages_) * kPageSize;
}

std::size_t PageHeap::released_bytes() const {
  MutexLock lock(mutex_);
  return released_pages_ * kPageSize;
}

std::size_t PageHeap::inuse_bytes() const {
  MutexLock lock(mutex_);
  return inuse_pages_ * kPageSize;
}

std::size_t PageHeap::idle_bytes() const {
  MutexLock lock(mutex_);
  return free_pages_ * kPageSize;
}

}  // namespace gc::detail
