// The page heap: hands out runs of 8 KiB pages as spans and takes them back.
//
// Free runs are kept in two ordered indexes — by address, to merge a freed run with its neighbours,
// and by (length, address), to pick the smallest run that fits (best fit, lowest address first,
// which keeps the heap compact at the bottom of the reservation). When nothing fits, the heap grows
// at the frontier of the reservation. Span descriptors are recycled, never returned to malloc,
// because the marker may look one up through a stale span-table entry.
//
// Every page of an in-use span points at its span in the span table; free pages point at nothing.
// All of it is guarded by one mutex: the page heap is only reached from slow paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "heap/fixed_pool.hpp"
#include "tricolor/detail/span.hpp"

namespace gc::detail {

class PageHeap {
 public:
  // A span of `npages` pages in state kInUse with `base` and `npages` set; nullptr if the OS
  // refuses more memory. The caller fills in the rest and publishes it.
  Span* allocate(std::size_t npages);
  // Returns a span's pages (its objects are gone) and recycles the descriptor.
  void free(Span* span);

  // Returns the physical pages of every free run to the OS; returns the bytes newly released.
  std::size_t release_free_pages();

  std::size_t inuse_bytes() const;
  std::size_t idle_bytes() const;
  std::size_t released_bytes() const;

 private:
  // A free run's length and how many of its pages are released (accounting only: released pages
  // read as zero and are faulted back in when the run is used).
  struct FreeRun {
    std::size_t npages;
    std::size_t released;
  };
  void insert_free_run(std::uintptr_t base, FreeRun run);
  void erase_free_run(std::uintptr_t base);
  Span* new_descriptor();
  void set_span_table(std::uintptr_t base, std::size_t npages, Span* span);

  mutable std::mutex mutex_;
  // Node allocations come from FixedPool: the page heap is used inside critical sections.
  std::map<std::uintptr_t, FreeRun, std::less<>,
           PoolAllocator<std::pair<const std::uintptr_t, FreeRun>>>
      free_by_address_;
  std::set<std::pair<std::size_t, std::uintptr_t>, std::less<>,
           PoolAllocator<std::pair<std::size_t, std::uintptr_t>>>
      free_by_size_;
  Span* recycled_ = nullptr;
  std::size_t inuse_pages_ = 0;
  std::size_t free_pages_ = 0;
  std::size_t released_pages_ = 0;
};

PageHeap& page_heap();

}  // namespace gc::detail
