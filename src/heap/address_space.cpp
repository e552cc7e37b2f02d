#include "heap/address_space.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {
Mutex g_grow_mutex{LockRank::kAddressSpace};
std::atomic<std::uintptr_t> g_frontier{0};       // end of the part the page heap uses
std::atomic<std::uintptr_t> g_committed_end{0};  // end of the committed part, at or above it

// The bytes of the tables that cover the first `heap_bytes` of the reservation, each a mapping of
// its own: what the OS may have to back once that much heap is in use. The span table has an entry
// per page, the pointer bitmap two bits per word (heap_range.hpp), and the page heap's bitmap of
// released pages (page_heap.cpp) a bit per page.
std::size_t side_table_bytes(std::size_t heap_bytes) {
  const std::size_t pages = heap_bytes / kPageSize;
  return os::round_to_os_pages(pages * sizeof(std::atomic<Span*>)) +
         os::round_to_os_pages(heap_bytes / 32) + os::round_to_os_pages((pages + 63) / 64 * 8);
}
}  // namespace

void init_address_space() {
  if (g_heap.size.load(std::memory_order_acquire) != 0) return;
  std::size_t size = kMaxReservation;
  void* base = nullptr;
  for (; size >= kMinReservation; size /= 2) {
    base = os::reserve(size, kPageSize);
    if (base == nullptr) continue;
    const std::size_t pages = size / kPageSize;
    void* spans = os::map_table(pages * sizeof(std::atomic<Span*>));
    void* bits = os::map_table(size / 32);
    if (spans != nullptr && bits != nullptr) {
      g_heap.spans = static_cast<std::atomic<Span*>*>(spans);
      g_heap.pointer_bits = static_cast<std::atomic<std::uint64_t>*>(bits);
      break;
    }
    if (spans != nullptr) os::unmap(spans, pages * sizeof(std::atomic<Span*>));
    if (bits != nullptr) os::unmap(bits, size / 32);
    os::unmap(base, size);
    base = nullptr;
  }
  if (base == nullptr)
    os::fatal("cannot reserve %zu bytes of address space for the heap", kMinReservation);
  const auto lo = reinterpret_cast<std::uintptr_t>(base);
  g_heap.lo.store(lo, std::memory_order_relaxed);
  g_frontier.store(lo, std::memory_order_relaxed);
  g_committed_end.store(lo, std::memory_order_relaxed);
  g_heap.size.store(size, std::memory_order_release);
}

std::uintptr_t grow_heap(std::size_t bytes) {
  std::lock_guard lock(g_grow_mutex);
  const std::uintptr_t lo = g_heap.lo.load(std::memory_order_relaxed);
  const std::uintptr_t hi = lo + g_heap.size.load(std::memory_order_relaxed);
  const std::uintptr_t start = g_frontier.load(std::memory_order_relaxed);
  if (bytes > hi - start) return 0;
  const std::uintptr_t end = start + bytes;
  std::uintptr_t committed = g_committed_end.load(std::memory_order_relaxed);
  if (end > committed) {
    // Each commit is an mprotect, which takes the process's memory-map lock for writing, and so
    // waits for every thread that holds it for reading (a page fault, the page backer's populate);
    // the caller is inside an allocation's critical section, where a stop waits for it. In 1 MiB
    // steps a heap of 400 MiB made 400 of them, and some took over a millisecond. Steps that grow
    // with the heap make a few dozen (docs/design.md, section 5, "A stop waited for a wake of a
    // library thread"). Whole granules, never past the reservation.
    const std::size_t step =
        std::clamp((committed - lo) / 4, kCommitGranule, kMaxCommitStep) & ~(kCommitGranule - 1);
    std::uintptr_t new_end =
        (std::max(end, committed + step) + kCommitGranule - 1) & ~(kCommitGranule - 1);
    if (new_end > hi) new_end = hi;
    if (!os::commit(reinterpret_cast<void*>(committed), new_end - committed)) {
      // The OS refused the step (strict overcommit, RLIMIT_DATA); try exactly what is needed.
      new_end = end;
      if (!os::commit(reinterpret_cast<void*>(committed), new_end - committed)) return 0;
    }
    g_committed_end.store(new_end, std::memory_order_release);
  }
  // The heap's pages count where they are used (the page heap's retained pages, arena chunks); the
  // tables' share is counted here, the moment the pages it covers can be used.
  os::count_ready(os::Account::kMetadata, static_cast<std::int64_t>(side_table_bytes(end - lo) -
                                                                    side_table_bytes(start - lo)));
  g_frontier.store(end, std::memory_order_relaxed);
  return start;
}

std::uintptr_t heap_frontier() { return g_frontier.load(std::memory_order_acquire); }

std::uintptr_t heap_committed_end() { return g_committed_end.load(std::memory_order_acquire); }

}  // namespace gc::detail
