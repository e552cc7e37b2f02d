#include "gc/sweeper.hpp"

#include <bit>
#include <thread>

#include "base/bit_count.hpp"
#include "base/check.hpp"
#include "base/os_memory.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/destructors.hpp"
#include "gc/heap_profile.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_state.hpp"
#include "gc/test_hooks.hpp"
#include "heap/central.hpp"
#include "heap/heap_counters.hpp"
#include "heap/object_lookup.hpp"
#include "heap/page_heap.hpp"
#include "runtime/library_thread.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

void process_specials(Span* s, std::uint32_t index) {
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  if ((s->special_bits[index / 64].load(std::memory_order_acquire) & bit) == 0) return;
  s->special_bits[index / 64].fetch_and(~bit, std::memory_order_relaxed);
  g_hooks.dead_object.call(s->slot_base(index));
}

bool sweep_span(SweepClaim claim, bool for_allocation) {
  ThreadGcTimeScope timed(GcTimeKind::kSweep);
  const std::uint32_t sweepgen = claim.sweepgen();
  Span* const s = claim.release();
  TRICOLOR_CHECK(s != nullptr, "sweep_span without a claim");
  if (marking()) [[unlikely]]
    os::fatal("sweeping span %p while a mark is in progress", reinterpret_cast<void*>(s->base));
  TRICOLOR_DCHECK(s->sweepgen.load(std::memory_order_relaxed) == sweepgen - 1,
                  "span %p swept without being claimed (sweepgen %u, claim for %u)",
                  reinterpret_cast<void*>(s->base), s->sweepgen.load(std::memory_order_relaxed),
                  sweepgen);
  TRICOLOR_DCHECK(s->state.load(std::memory_order_relaxed) == SpanState::kInUse,
                  "sweeping span %p that is not in use", reinterpret_cast<void*>(s->base));
  TRICOLOR_DCHECK(!s->cached || s->list_id < 0, "span %p swept while cached and listed",
                  reinterpret_cast<void*>(s->base));
  // A mark ends with every queued span scanned (gc/marker.hpp): one still queued lost its grey
  // objects' scan, and its scanned bits, cleared below, would be read by the next mark.
  TRICOLOR_DCHECK(s->mark_queued.load(std::memory_order_relaxed) == 0,
                  "span %p swept while queued for marking", reinterpret_cast<void*>(s->base));
  const std::uint32_t n = s->nelems;
  const std::uint32_t free_index = s->free_index.load(std::memory_order_relaxed);
  const std::uint32_t mark_free_index = s->mark_free_index.load(std::memory_order_relaxed);
  std::uint32_t live = 0;
  std::int64_t freed = 0;
  std::uint64_t new_zombies = 0;
  PointerBitClearer clearer;
  const std::uint32_t words = (n + 63) / 64;
  const bool black_allocation = !test_flag(kTestNoBlackAlloc);
  for (std::uint32_t w = 0; w < words; ++w) {
    const std::uint64_t allocated_at_mark = s->alloc_bits[w].load(std::memory_order_relaxed);
    std::uint64_t allocated = allocated_at_mark;
    const std::uint32_t word_first = w * 64;
    if (free_index > word_first) {
      const std::uint32_t below = free_index - word_first;
      allocated |= below >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << below) - 1;
    }
    if (n - word_first < 64) allocated &= (std::uint64_t{1} << (n - word_first)) - 1;
    // Zombies whose destructor has run are dead whatever their mark (a stale stack word may have
    // shaded one): their slots are freed. Read before the zombie bits, as the destructor thread
    // reads them; one destroyed after this read stays a zombie until its owner or the next sweep.
    const std::uint64_t destroyed = s->destroyed_bits[w].load(std::memory_order_acquire);
    TRICOLOR_DCHECK((destroyed & ~allocated) == 0, "span %p has destroyed slots that are free",
                    reinterpret_cast<void*>(s->base));
    // Acquire: a slot found unpinned is freed here, after all its last user did (Span::unpin).
    std::uint64_t kept = (s->mark_bits[w].load(std::memory_order_relaxed) |
                          s->pinned_bits[w].load(std::memory_order_acquire)) &
                         allocated & ~destroyed;
    // Allocated black: free at mark start, handed out since (mark_state.hpp, allocated_black).
    if (black_allocation)
      kept |=
          allocated & ~allocated_at_mark & slot_range_bits(word_first, mark_free_index, free_index);
    const std::uint64_t dead = allocated & ~kept;
    const std::uint64_t zombies = s->zombie_bits[w].load(std::memory_order_relaxed);
    // Dead, freed or queued for its destructor: its weak references read null from now on, and its
    // cleanups may run. (A destroyed zombie's were processed when its destructor had run.)
    const std::uint64_t with_specials =
        s->special_bits[w].load(std::memory_order_acquire) & dead & ~destroyed;
    for (std::uint64_t b = with_specials; b != 0; b &= b - 1)
      g_hooks.dead_object.call(
          s->slot_base(word_first + static_cast<std::uint32_t>(std::countr_zero(b))));
    // A dead object with a destructor becomes a zombie: its slot is kept until its destructor has
    // run. One already queued stays.
    const std::uint64_t with_destructor =
        s->destructor_bits[w].load(std::memory_order_acquire) & dead;
    const std::uint64_t zombie_now = with_destructor & ~destroyed;
    const std::uint64_t freed_bits = dead & ~zombie_now;
    kept |= zombie_now;
    if (const std::uint64_t fresh = zombie_now & ~zombies) {
      // Release: the destructor thread that reads it (acquire) finds the destructor's table entry.
      s->zombie_bits[w].fetch_or(fresh, std::memory_order_release);
      new_zombies += static_cast<std::uint64_t>(count_ones(fresh));
    }
    if (freed_bits != 0) {
      // Zombie bit before destroyed bit (heap/central.hpp, free_destroyed_slots).
      if (freed_bits & zombies) s->zombie_bits[w].fetch_and(~freed_bits, std::memory_order_release);
      if (destroyed != 0) s->destroyed_bits[w].fetch_and(~destroyed, std::memory_order_release);
      if (freed_bits & with_destructor)
        s->destructor_bits[w].fetch_and(~freed_bits, std::memory_order_relaxed);
      clear_freed_slots(s, word_first, freed_bits, clearer);
      freed += count_ones(freed_bits);
    }
    if (with_specials != 0) s->special_bits[w].fetch_and(~with_specials, std::memory_order_relaxed);
    // Release: a weak lock() that reads these sees the claim on sweepgen (weak_refs.cpp).
    s->alloc_bits[w].store(kept, std::memory_order_release);
    s->mark_bits[w].store(0, std::memory_order_release);
    s->scanned_bits[w].store(0, std::memory_order_relaxed);  // no mark reads it before the next
    live += static_cast<std::uint32_t>(count_ones(kept));
  }
  clearer.flush();
  s->free_index.store(0, std::memory_order_release);
  s->mark_free_index.store(0, std::memory_order_release);
  s->alloc_count.store(live, std::memory_order_relaxed);
  s->alloc_cache = 0;
  TRICOLOR_DCHECK(live <= n, "span %p keeps %u of %u slots", reinterpret_cast<void*>(s->base), live,
                  n);
  count_freed_slots(s, freed);
  if (new_zombies != 0) queue_zombies(s);
  // An empty span goes back to the page heap or stays for its size class (heap/central.hpp), unless
  // the destructor queue still holds it (it is then kept empty, and a later sweep decides).
  if (live == 0 && s->destructor_holds.load(std::memory_order_acquire) == 0 &&
      free_or_keep_empty_span(s, for_allocation))
    return true;
  s->sweepgen.store(sweepgen, std::memory_order_release);
  return false;
}

namespace {
// The first span class that may still hold unswept spans; reset when a cycle ends.
std::atomic<std::size_t> g_sweep_cursor{0};
// Calls of sweep_batch in progress, on any thread.
std::atomic<int> g_active_sweeps{0};

// A batch holds spans of one class until their slots reach kSweepBatchSlots: a class of few slots
// a span (1,152-byte objects: 7; 256-byte objects: 128) takes its central lock twice for 8 spans
// instead of twice a span, while a batch never sweeps more slots than one span of the smallest
// class (4,096) would, and a large object makes a batch of its own, which bounds how long a stop of
// the world waits for it.
constexpr int kSweepBatchSpans = 8;
constexpr std::uint32_t kSweepBatchSlots = 1024;
}  // namespace

void reset_sweep_cursor() { g_sweep_cursor.store(0, std::memory_order_relaxed); }

bool sweep_batch() {
  if (marking()) return false;  // the sweep of the last cycle ended before this mark began
  CriticalSection critical;
  g_active_sweeps.fetch_add(1, std::memory_order_acq_rel);
  bool swept = false;
  for (std::size_t sc = g_sweep_cursor.load(std::memory_order_relaxed); sc < kNumSpanClasses;
       ++sc) {
    Central& c = central(static_cast<std::uint8_t>(sc));
    SweepClaim claims[kSweepBatchSpans];
    const int taken = c.take_unswept(claims, kSweepBatchSpans, kSweepBatchSlots);
    if (taken == 0) {
      // Nothing new is filed unswept until the next cycle, so the cursor only moves forward.
      std::size_t expected = sc;
      g_sweep_cursor.compare_exchange_strong(expected, sc + 1, std::memory_order_relaxed);
      continue;
    }
    Span* still_in_use[kSweepBatchSpans];
    int kept = 0;
    for (int i = 0; i < taken; ++i) {
      Span* s = claims[i].span();
      if (!sweep_span(std::move(claims[i]))) still_in_use[kept++] = s;
    }
    if (kept != 0) c.insert_swept(still_in_use, kept);
    swept = true;
    break;
  }
  g_active_sweeps.fetch_sub(1, std::memory_order_acq_rel);
  return swept;
}

void finish_sweeping() {
  while (sweep_batch()) {
  }
  // Another thread may still be in the middle of its last batch; its zombies are queued when it
  // is done. A batch is short (at most 8 spans and 4,096 slots, or one large object) and never
  // blocks, so a yield loop is enough.
  while (g_active_sweeps.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  heap_profile_post_sweep();  // every free of the last mark is counted: publish them
}

namespace {

void sweep_in_background() {
  while (sweep_batch()) poll_safepoint();
}

constinit LibraryThread g_sweeper("sweeper", sweep_in_background);

}  // namespace

// Without the thread (the OS refused it), allocations sweep what they take and the next cycle's
// start sweeps the rest.
void wake_background_sweeper() { g_sweeper.try_wake(); }

void forget_background_sweeper_after_fork() { g_sweeper.forget_after_fork(); }

}  // namespace gc::detail
