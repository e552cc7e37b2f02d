// Heap-wide byte and object counters, updated at span granularity as Go's runtime does: when a
// thread cache takes a span, its free slots are counted as allocated at once; when the cache gives
// the span back, the slots it did not use are subtracted. The fast path never touches a counter.
#pragma once

#include <atomic>
#include <cstdint>

namespace gc::detail {

struct HeapCounters {
  // Bytes the pacer compares with the trigger: marked at the last cycle plus allocated since.
  std::atomic<std::int64_t> heap_live{0};
  // Bytes of allocated objects, dead ones not yet swept included (gc::stats::heap_alloc).
  std::atomic<std::int64_t> heap_alloc{0};
  std::atomic<std::int64_t> total_alloc{0};
  std::atomic<std::int64_t> mallocs{0};
  std::atomic<std::int64_t> frees{0};
};

inline constinit HeapCounters g_counters;

// Adds `slots` objects of `elem_size` bytes (negative to take them back).
inline void count_allocated(std::int64_t slots, std::int64_t elem_size) {
  const std::int64_t bytes = slots * elem_size;
  g_counters.heap_live.fetch_add(bytes, std::memory_order_relaxed);
  g_counters.heap_alloc.fetch_add(bytes, std::memory_order_relaxed);
  g_counters.total_alloc.fetch_add(bytes, std::memory_order_relaxed);
  g_counters.mallocs.fetch_add(slots, std::memory_order_relaxed);
}

inline void count_freed(std::int64_t objects, std::int64_t bytes) {
  g_counters.heap_alloc.fetch_sub(bytes, std::memory_order_relaxed);
  g_counters.frees.fetch_add(objects, std::memory_order_relaxed);
}

}  // namespace gc::detail
