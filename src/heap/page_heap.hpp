// The page heap: hands out runs of 8 KiB pages as spans and takes them back.
//
// Free runs are kept in two ordered indexes — by address, to merge a freed run with its neighbours,
// and by (length, address), to pick the smallest run that fits (best fit, lowest address first,
// which keeps the heap compact at the bottom of the reservation). When nothing fits, the heap grows
// at the frontier of the reservation. Span descriptors are recycled, never returned to malloc,
// because the marker may look one up through a stale span-table entry: each size of descriptor
// (span.hpp) has a pool of its own, and a descriptor is made and recycled outside the lock, so
// that the first touch of a new one's memory holds up no other thread.
//
// Every page of an in-use span points at its span in the span table; free pages point at nothing.
// All of it is guarded by one mutex: the page heap is only reached from slow paths.
//
// Returning memory: a free page may be released (madvise'd away: it stays mapped, reads as zero
// and is faulted back in when a span uses it). A bitmap with one bit per page of the reservation
// says which; each free run also counts its released pages, so the totals are exact. The scavenger
// releases free pages from the top of the heap down, a small chunk per call, because allocation
// takes the lowest-addressed run that fits: the top is what is least likely to be reused soon.
//
// The memory limit counts every byte the library holds ready for use: the pages this heap retains
// (committed minus released; grown pages count from their commit, released ones again once a span
// takes them) plus what the library holds outside it (the ledger of base/os_memory.hpp, which the
// heap is given as a function). When a memory limit is set and an allocation leaves that total
// over it, idle pages are released at once, on the allocating thread ("eager"), as Go's allocator
// does. The pages just taken are no longer idle, so they are never the ones released.
//
// The counts the pacer reads on every span a thread cache takes (retained, idle retained) are
// also published in atomics, so that reading them takes no lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "base/fixed_pool.hpp"
#include "base/mutex.hpp"
#include "tricolor/detail/span.hpp"

namespace gc::detail {

// Pages of a span just handed out that have no physical memory yet (PageHeap::allocate).
struct PagesToBack {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0;
  bool empty() const { return hi <= lo; }
};

// Backs `pages` with physical memory in one system call (os::populate) rather than a page fault
// each at first touch. (Allocating threads hand new spans' pages to the page backer instead, and
// call this when its queue is full: page_backer.hpp.) The call cannot be interrupted by the stop
// signal, and on a virtual machine it sometimes takes milliseconds (the host backing guest
// memory), so a registered thread makes it inside a blocking scope: a stop of the world counts the
// thread as stopped rather than waiting for the call to return. A caller inside a critical section
// (which may hold a lock a stop needs) backs them in place, and a stop waits for it. The span is
// the caller's; a stop meanwhile may give it back to the central lists, which is harmless:
// populating never changes what a page holds, and the slot the caller has taken keeps the span in
// use, so its pages are not released meanwhile. The time counts as the thread's span time
// (thread_gc_time.hpp).
void back_pages(const PagesToBack& pages);

class PageHeap {
 public:
  // Bytes the library holds ready for use outside this heap (nullptr: none).
  using OutsideBytes = std::size_t (*)();
  explicit PageHeap(OutsideBytes outside = nullptr) : outside_(outside) {}

  // A span of `npages` pages with `base` and `npages` set, and zeroed bitmaps for `slots` slots
  // (span.hpp), in the span table but still in state kFree; nullptr if the OS refuses more memory.
  // The caller fills in the rest and then publishes it by storing kInUse with release: a
  // concurrent marker that resolves an address in these pages ignores them until then, and sees
  // every field once it sees kInUse.
  // For a span of several objects, `to_back` (if not null) receives its pages that have no
  // physical memory yet, for the caller to back with back_pages() once it is out of its critical
  // sections. Without it nothing is reported or counted as backed, and the pages fault in at first
  // touch.
  Span* allocate(std::size_t npages, std::uint32_t slots, PagesToBack* to_back = nullptr);
  // Returns a span's pages (its objects are gone) and recycles the descriptor.
  void free(Span* span);

  // Returns the physical pages of every free run to the OS; returns the bytes newly released.
  std::size_t release_free_pages();
  // Releases at most `max_bytes` (rounded up to pages) of the highest-addressed free pages that
  // are not released yet, in one contiguous piece; returns the bytes released (0: none left).
  std::size_t scavenge(std::size_t max_bytes);
  // When an allocation leaves retained plus outside bytes above this, idle pages are released
  // (SIZE_MAX: never).
  void set_memory_limit(std::size_t bytes) {
    memory_limit_.store(bytes, std::memory_order_relaxed);
  }
  std::size_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }
  // Bytes released when an allocation found the total over the memory limit, or by
  // release_free_pages, since the last call.
  std::size_t take_eager_released() { return eager_released_.exchange(0); }

  std::size_t inuse_bytes() const;
  std::size_t idle_bytes() const;
  std::size_t released_bytes() const;
  // Bytes ever released to the OS (a page released again after reuse counts again).
  std::size_t released_total_bytes() const {
    return released_total_.load(std::memory_order_relaxed) * kPageSize;
  }
  // Committed memory the heap still holds physically: in-use plus idle, minus released.
  std::size_t retained_bytes() const;

  // Without the lock, as of the latest change (one under way on another thread may be missing):
  // retained bytes; the idle ones among them (free pages not released: a span may use them without
  // making more memory ready); and the total the memory limit counts, retained plus outside.
  std::size_t retained_now() const { return retained_now_.load(std::memory_order_relaxed); }
  std::size_t idle_retained_now() const {
    return idle_retained_now_.load(std::memory_order_relaxed);
  }
  std::size_t outside_bytes() const { return outside_ != nullptr ? outside_() : 0; }
  std::size_t ready_bytes_now() const { return retained_now() + outside_bytes(); }

 private:
  // A free run's length and how many of its pages are released (accounting only: released pages
  // read as zero and are faulted back in when the run is used).
  struct FreeRun {
    std::size_t npages;
    std::size_t released;
  };
  // Files a free run, merged with the free runs that end where it starts and start where it ends.
  void insert_free_run_merged(std::uintptr_t base, FreeRun run) TRICOLOR_REQUIRES(mutex_);
  void insert_free_run(std::uintptr_t base, FreeRun run) TRICOLOR_REQUIRES(mutex_);
  // Releases [first, first + npages) pages of the free run at `run_base`; the caller checked that
  // none of them is released yet.
  void release_pages_locked(std::uintptr_t run_base, std::size_t first, std::size_t npages)
      TRICOLOR_REQUIRES(mutex_);
  std::size_t scavenge_locked(std::size_t max_pages) TRICOLOR_REQUIRES(mutex_);
  // Over the memory limit, gives idle pages back until the total is within it, or none is left.
  void release_over_limit_locked() TRICOLOR_REQUIRES(mutex_);
  // Stores the counts that are read without the lock.
  void publish_locked() TRICOLOR_REQUIRES(mutex_);
  void erase_free_run(std::uintptr_t base) TRICOLOR_REQUIRES(mutex_);
  // Checks, with internal checks on, that the page counts agree with the free runs.
  void check_counts_locked() const TRICOLOR_REQUIRES(mutex_);
  void set_span_table(std::uintptr_t base, std::size_t npages, Span* span);

  mutable Mutex mutex_{LockRank::kPageHeap};
  // Node allocations come from FixedPool: the page heap is used inside critical sections.
  std::map<std::uintptr_t, FreeRun, std::less<>,
           PoolAllocator<std::pair<const std::uintptr_t, FreeRun>>>
      free_by_address_ TRICOLOR_GUARDED_BY(mutex_);
  std::set<std::pair<std::size_t, std::uintptr_t>, std::less<>,
           PoolAllocator<std::pair<std::size_t, std::uintptr_t>>>
      free_by_size_ TRICOLOR_GUARDED_BY(mutex_);
  std::size_t inuse_pages_ TRICOLOR_GUARDED_BY(mutex_) = 0;
  std::size_t free_pages_ TRICOLOR_GUARDED_BY(mutex_) = 0;
  std::size_t released_pages_ TRICOLOR_GUARDED_BY(mutex_) = 0;
  // The end of the highest span of several objects handed out: no such span, whose pages
  // allocate() reports for backing, has covered the pages above it.
  std::uintptr_t populated_end_ TRICOLOR_GUARDED_BY(mutex_) = 0;
  OutsideBytes outside_;
  std::atomic<std::size_t> memory_limit_{SIZE_MAX};
  std::atomic<std::size_t> eager_released_{0};
  std::atomic<std::size_t> released_total_{0};  // pages
  std::atomic<std::size_t> retained_now_{0};
  std::atomic<std::size_t> idle_retained_now_{0};
};

PageHeap& page_heap();

}  // namespace gc::detail
