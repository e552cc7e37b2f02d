#include "heap/page_backer.hpp"

#include <sched.h>

#include <atomic>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"
#include "runtime/library_thread.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

// Enough for the spans a few allocating threads take while the backer waits for a CPU.
constexpr unsigned kQueueRanges = 64;

// A ring of ranges under a spin lock, held for a few instructions: by allocating threads inside a
// critical section (so no stop or fork finds one of them holding it), and by the backer, which no
// stop waits for. Nothing is taken under it. A waiter yields its CPU after a short spin: the holder
// may be the backer, preempted.
struct Queue {
  std::atomic<bool> locked{false};
  unsigned head = 0;
  unsigned count = 0;
  PagesToBack ranges[kQueueRanges] = {};
};
constinit Queue g_queue;
constinit std::atomic<std::uint64_t> g_handed{0};
constinit std::atomic<std::uint64_t> g_finished{0};

void lock_queue() {
  while (g_queue.locked.exchange(true, std::memory_order_acquire)) {
    for (int spins = 0; g_queue.locked.load(std::memory_order_relaxed); ++spins) {
      if (spins < 64)
        cpu_relax();
      else
        ::sched_yield();
    }
  }
}
void unlock_queue() { g_queue.locked.store(false, std::memory_order_release); }

// Whether one span in use holds the whole range, as when it was queued. Its span may have been
// freed since (all its objects dead, a sweep), and its pages released: populating them would make
// resident what the page heap counts as given back. The span table says it without reading a
// descriptor, which a mutator may be recycling meanwhile: a page's entry names its span while the
// span is in use and is null while the page is free, and a span's pages are contiguous. A span
// freed and released between this test and the call is not covered; it costs the accounting the
// pages of one span until they are used again, never a wrong byte.
bool held_by_one_span(const PagesToBack& pages) {
  if (!in_heap(reinterpret_cast<const void*>(pages.lo))) return false;
  const Span* first = span_of(pages.lo);
  return first != nullptr && span_of(pages.hi - 1) == first;
}

// One round: backs every queued range, oldest first, until the queue stays empty.
void back_queued() {
  for (;;) {
    PagesToBack pages;
    lock_queue();
    if (g_queue.count == 0) {
      unlock_queue();
      return;
    }
    pages = g_queue.ranges[g_queue.head];
    g_queue.head = (g_queue.head + 1) % kQueueRanges;
    --g_queue.count;
    unlock_queue();
    if (held_by_one_span(pages))
      os::populate(reinterpret_cast<void*>(pages.lo), pages.hi - pages.lo);
    g_finished.fetch_add(1, std::memory_order_release);
  }
}

constinit LibraryThread g_backer("page backer", back_queued, LibraryThread::Kind::kCollector);

}  // namespace

void back_pages_soon(const PagesToBack& pages) {
  if (pages.empty()) return;
  bool queued = false;
  bool was_empty = false;
  {
    CriticalSection critical;
    lock_queue();
    if (g_queue.count < kQueueRanges) {
      g_queue.ranges[(g_queue.head + g_queue.count) % kQueueRanges] = pages;
      was_empty = g_queue.count == 0;
      ++g_queue.count;
      g_handed.fetch_add(1, std::memory_order_release);
      queued = true;
    }
    unlock_queue();
  }
  if (!queued) {
    back_pages(pages);
    return;
  }
  // A queue that was not empty has a round on its way to this range already, unless the thread
  // could not be started: then every push tries again. The caller has registered its object's
  // destructor and not built the object, so nothing may throw here: a refused thread leaves the
  // range to this thread.
  if (!was_empty && g_backer.started()) return;
  if (!g_backer.try_wake()) back_pages(pages);
}

PageBackerCounts page_backer_counts() {
  // Ranges are finished in the order they were handed, so a finished count read after the handed
  // count covers every range counted in it once it reaches it.
  const std::uint64_t handed = g_handed.load(std::memory_order_acquire);
  return {handed, g_finished.load(std::memory_order_acquire)};
}

void forget_page_backer_after_fork() {
  g_queue.head = 0;
  g_queue.count = 0;
  g_queue.locked.store(false, std::memory_order_relaxed);
  g_finished.store(g_handed.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g_backer.forget_after_fork();
}

}  // namespace gc::detail
