// The page backer: a background thread that backs new spans' pages, so that the allocating thread
// does not wait for it.
//
// A span of several objects that the page heap hands out with pages that have no physical memory
// yet (PageHeap::allocate) is worth backing in one system call rather than by a page fault each at
// first touch (page_heap.hpp, back_pages). That call is the slowest part of taking a fresh span: on
// the 2-CPU virtual machine of design.md's measurements, 11-15 µs for a 32 KiB span, and it fell on
// one allocation in every span's worth, which put a band of such allocations at the ring
// benchmark's p99.5-p99.9. The allocating thread now hands the range to this thread and goes on:
// the object it is about to build faults in its own page if the backer has not got there first,
// and the backer backs the rest while the thread fills the span.
//
// The queue is small (kQueueRanges ranges): when it is full, or the thread cannot be started, the
// allocating thread backs the range itself, as before. The backer is a collector-kind library
// thread (runtime/library_thread.hpp), started by the first fresh span: it is not registered, so
// no stop waits for it, and it touches no object or span descriptor and takes only the queue's
// lock, which allocating threads take inside critical sections. A range that one span in use no
// longer holds when its turn comes is skipped: its pages may have been released since.
#pragma once

#include <cstdint>

#include "heap/page_heap.hpp"

namespace gc::detail {

// Hands `pages` (a span in use by the caller's cache) to the backer, waking it; backs them in place
// if its queue is full. Outside critical sections: the wake, or the backing in place, is made in a
// blocking scope, and the caller may park at a stop on the way out.
void back_pages_soon(const PagesToBack& pages);

// Ranges handed to the backer so far, and ranges it has finished (backed or skipped).
struct PageBackerCounts {
  std::uint64_t handed = 0;
  std::uint64_t finished = 0;
};
PageBackerCounts page_backer_counts();

// In the child after fork(): the backer thread did not survive, and may have died holding the
// queue's lock; the queue starts empty (its ranges fault in when touched).
void forget_page_backer_after_fork();

}  // namespace gc::detail
