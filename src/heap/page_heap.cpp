#include "heap/page_heap.hpp"

#include <new>

#include "heap/address_space.hpp"
#include "heap/os_memory.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {
// Grow by at least this many pages so that small spans do not each cost an mprotect.
constexpr std::size_t kMinGrowPages = 128;  // 1 MiB
}  // namespace

PageHeap& page_heap() {
  // Never destroyed: spans may be freed by background threads while the process exits.
  static PageHeap* heap = new PageHeap;
  return *heap;
}

Span* PageHeap::new_descriptor() {
  Span* s = recycled_;
  if (s != nullptr) {
    recycled_ = s->next;
    s->~Span();
    return ::new (s) Span;
  }
  return ::new (FixedPool<sizeof(Span)>::instance().allocate()) Span;
}

void PageHeap::set_span_table(std::uintptr_t base, std::size_t npages, Span* span) {
  const std::uintptr_t first = (base - g_heap.lo.load(std::memory_order_relaxed)) >> kPageShift;
  for (std::size_t i = 0; i < npages; ++i)
    g_heap.spans[first + i].store(span, std::memory_order_release);
}

void PageHeap::insert_free_run(std::uintptr_t base, FreeRun run) {
  free_by_address_.emplace(base, run);
  free_by_size_.emplace(run.npages, base);
  free_pages_ += run.npages;
  released_pages_ += run.released;
}

void PageHeap::erase_free_run(std::uintptr_t base) {
  const auto it = free_by_address_.find(base);
  free_by_size_.erase({it->second.npages, base});
  free_pages_ -= it->second.npages;
  released_pages_ -= it->second.released;
  free_by_address_.erase(it);
}

Span* PageHeap::allocate(std::size_t npages) {
  std::lock_guard lock(mutex_);
  auto fit = free_by_size_.lower_bound({npages, 0});
  if (fit == free_by_size_.end()) {
    const std::size_t grow = npages > kMinGrowPages ? npages : kMinGrowPages;
    std::uintptr_t base = grow_heap(grow * kPageSize);
    FreeRun run{grow, 0};
    if (base == 0 && grow > npages) {
      base = grow_heap(npages * kPageSize);
      run.npages = npages;
    }
    if (base == 0) return nullptr;
    // Merge with a free run that ends at the old frontier.
    auto below = free_by_address_.lower_bound(base);
    if (below != free_by_address_.begin()) {
      --below;
      if (below->first + below->second.npages * kPageSize == base) {
        const std::uintptr_t below_base = below->first;
        run.npages += below->second.npages;
        run.released += below->second.released;
        erase_free_run(below_base);
        base = below_base;
      }
    }
    insert_free_run(base, run);
    fit = free_by_size_.lower_bound({npages, 0});
  }
  const std::uintptr_t run_base = fit->second;
  const FreeRun run = free_by_address_.at(run_base);
  erase_free_run(run_base);
  if (run.npages > npages) {
    const std::size_t taken_released = run.released < npages ? run.released : npages;
    insert_free_run(run_base + npages * kPageSize,
                    {run.npages - npages, run.released - taken_released});
  }

  Span* s = new_descriptor();
  s->base = run_base;
  s->npages = npages;
  s->state.store(SpanState::kInUse, std::memory_order_relaxed);
  inuse_pages_ += npages;
  set_span_table(run_base, npages, s);
  return s;
}

void PageHeap::free(Span* span) {
  std::lock_guard lock(mutex_);
  std::uintptr_t base = span->base;
  FreeRun run{span->npages, 0};
  set_span_table(base, run.npages, nullptr);
  span->state.store(SpanState::kFree, std::memory_order_release);
  inuse_pages_ -= run.npages;
  span->next = recycled_;
  recycled_ = span;

  auto after = free_by_address_.find(base + run.npages * kPageSize);
  if (after != free_by_address_.end()) {
    run.npages += after->second.npages;
    run.released += after->second.released;
    erase_free_run(after->first);
  }
  auto below = free_by_address_.lower_bound(base);
  if (below != free_by_address_.begin()) {
    --below;
    if (below->first + below->second.npages * kPageSize == base) {
      const std::uintptr_t below_base = below->first;
      run.npages += below->second.npages;
      run.released += below->second.released;
      erase_free_run(below_base);
      base = below_base;
    }
  }
  insert_free_run(base, run);
}

std::size_t PageHeap::release_free_pages() {
  std::lock_guard lock(mutex_);
  std::size_t released = 0;
  for (auto& [base, run] : free_by_address_) {
    if (run.released == run.npages) continue;
    os::release(reinterpret_cast<void*>(base), run.npages * kPageSize);
    released += run.npages - run.released;
    released_pages_ += run.npages - run.released;
    run.released = run.npages;
  }
  return released * kPageSize;
}

std::size_t PageHeap::released_bytes() const {
  std::lock_guard lock(mutex_);
  return released_pages_ * kPageSize;
}

std::size_t PageHeap::inuse_bytes() const {
  std::lock_guard lock(mutex_);
  return inuse_pages_ * kPageSize;
}

std::size_t PageHeap::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return free_pages_ * kPageSize;
}

}  // namespace gc::detail
