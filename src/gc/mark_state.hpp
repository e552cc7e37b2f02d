// The state of the concurrent mark, shared by the cycle, the marker, the barrier and the threads.
//
// `g_gc_phase` (heap/collector.hpp) is kMark from mark start (the first stop-the-world of a cycle)
// to mark termination (the second); both edges happen with the world stopped, so a thread that sees
// kMark after a safepoint sees the whole of mark start. While it is kMark:
//   - the write barrier is on (detail/barrier.hpp, g_barrier_enabled);
//   - allocation is black: slots handed out since mark start count as marked (allocated_black);
//   - nothing is swept (sweep_span refuses) and no span is freed (release_destroyed and
//     release_kept_empty_spans leave an emptied span to the next sweep), so every page keeps the
//     span the marker resolves an address to; the slots freed meanwhile (a dead object's once its
//     destructor has run, an allocation whose constructor threw) hold nothing a live pointer names;
//   - each thread's stack is scanned once, then never again this cycle (stack_scan.hpp).
//
// `MarkProgress` holds the cycle's shared counters. The marked and scanned totals are added by
// each marker when it finishes, not per object.
#pragma once

#include <atomic>
#include <cstdint>

#include "heap/collector.hpp"  // g_gc_phase, marking()
#include "tricolor/detail/span.hpp"

namespace gc::detail {

struct MarkProgress {
  std::atomic<std::uint32_t> cycle{0};             // number of the latest mark start
  std::atomic<std::int64_t> marked_bytes{0};       // bytes of objects this mark shaded
  std::atomic<std::int64_t> scan_work{0};          // bytes of objects scanned (heap scan work)
  std::atomic<std::int64_t> stack_bytes{0};        // bytes of stack scanned
  std::atomic<std::int64_t> assist_work{0};        // scan work done by mutator assists
  std::atomic<std::int64_t> background_credit{0};  // scan work of the workers not yet claimed
  std::atomic<std::int64_t> assist_cpu_ns{0};
  std::atomic<std::int64_t> background_cpu_ns{0};
  std::atomic<std::int64_t> idle_work{
      0};  // scan work of threads waiting for the mark (idle marking)
  std::atomic<std::int64_t> idle_cpu_ns{0};
  // Threads that did heap scan work in a drain of their own (the controller, the workers, the idle
  // workers, threads waiting for the mark; not assists), each counted once per mark.
  std::atomic<std::uint32_t> marking_threads{0};
};

inline constinit MarkProgress g_mark;

// Whether the mark of cycle `cycle` is still on: a thread that waited or parked may find the next
// cycle's mark running, which is not the one it works for (a worker woken for it, an assist paying
// its debt, a thread waiting for its collection).
inline bool still_marking(std::uint32_t cycle) {
  return marking() && g_mark.cycle.load(std::memory_order_acquire) == cycle;
}

// Counts the calling thread in g_mark.marking_threads, once per mark.
inline void count_marking_thread() {
  static thread_local std::uint32_t counted_in = 0;
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_relaxed);
  if (counted_in == cycle) return;
  counted_in = cycle;
  g_mark.marking_threads.fetch_add(1, std::memory_order_relaxed);
}

// True if slot `index` of `s` was handed out since mark start: it is black without a mark bit.
// A slot in [mark_free_index, free_index) whose allocation bit is clear was free at mark start
// (allocation never writes the bitmap, span.hpp), so it was allocated during this mark.
inline bool allocated_black(const Span* s, std::uint32_t index) {
  return index >= s->mark_free_index.load(std::memory_order_relaxed) &&
         index < s->free_index.load(std::memory_order_relaxed) &&
         (s->alloc_bits[index / 64].load(std::memory_order_relaxed) >> (index % 64) & 1) == 0;
}

}  // namespace gc::detail
