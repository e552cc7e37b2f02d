#include "gc/sweeper.hpp"

#include <bit>
#include <thread>

#include "base/check.hpp"
#include "base/os_memory.hpp"
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

namespace {

// The bits of the 64-slot word starting at `word_first` that fall in [from, to).
std::uint64_t range_bits(std::uint32_t word_first, std::uint32_t from, std::uint32_t to) {
  const std::uint32_t lo = from > word_first ? from - word_first : 0;
  const std::uint32_t hi = to > word_first ? (to - word_first < 64 ? to - word_first : 64) : 0;
  if (lo >= hi) return 0;
  const std::uint64_t upto_hi = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
  return upto_hi & ~((std::uint64_t{1} << lo) - 1);
}

}  // namespace

bool sweep_span(SweepClaim claim) {
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
  const std::uint32_t n = s->nelems;
  const std::uint32_t free_index = s->free_index.load(std::memory_order_relaxed);
  const std::uint32_t mark_free_index = s->mark_free_index.load(std::memory_order_relaxed);
  std::atomic<std::uintptr_t>* destructors = s->destructors.load(std::memory_order_acquire);
  ZombieBatch* zombies = nullptr;  // allocated when the first zombie turns up
  std::uint32_t live = 0;
  std::int64_t freed = 0;
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
    std::uint64_t kept = (s->mark_bits[w].load(std::memory_order_relaxed) |
                          s->pinned_bits[w].load(std::memory_order_relaxed)) &
                         allocated;
    // Allocated black: free at mark start, handed out since (mark_state.hpp, allocated_black).
    if (black_allocation)
      kept |= allocated & ~allocated_at_mark & range_bits(word_first, mark_free_index, free_index);
    std::uint64_t dead = allocated & ~kept;
    const std::uint64_t zombies_queued = s->zombie_bits[w].load(std::memory_order_relaxed);
    const std::uint64_t with_specials = s->special_bits[w].load(std::memory_order_acquire) & dead;
    std::uint64_t freed_bits = 0;
    while (dead != 0) {
      const unsigned bit = static_cast<unsigned>(std::countr_zero(dead));
      dead &= dead - 1;
      const std::uint32_t index = word_first + bit;
      // Dead, freed or queued for its destructor: its weak references read null from now on, and
      // its cleanups may run.
      if (with_specials & (std::uint64_t{1} << bit)) g_hooks.dead_object.call(s->slot_base(index));
      const std::uintptr_t entry =
          destructors != nullptr ? destructors[index].load(std::memory_order_acquire) : 0;
      if (entry != 0) {
        // A zombie: keep the slot until its destructor has run.
        kept |= std::uint64_t{1} << bit;
        if ((zombies_queued & (std::uint64_t{1} << bit)) == 0) {
          s->zombie_bits[w].fetch_or(std::uint64_t{1} << bit, std::memory_order_relaxed);
          if (zombies == nullptr) zombies = new_zombie_batch(s, sweepgen);
          zombies->entries()[zombies->count++] = {reinterpret_cast<void*>(s->slot_base(index)),
                                                  reinterpret_cast<DestructorFn>(entry), index};
        }
        continue;
      }
      freed_bits |= std::uint64_t{1} << bit;
      ++freed;
      clear_freed_slot(s, index);
    }
    if (freed_bits & zombies_queued)
      s->zombie_bits[w].fetch_and(~freed_bits, std::memory_order_relaxed);
    if (with_specials != 0) s->special_bits[w].fetch_and(~with_specials, std::memory_order_relaxed);
    // Release: a weak lock() that reads these sees the claim on sweepgen (weak_refs.cpp).
    s->alloc_bits[w].store(kept, std::memory_order_release);
    s->mark_bits[w].store(0, std::memory_order_release);
    live += static_cast<std::uint32_t>(std::popcount(kept));
  }
  s->free_index.store(0, std::memory_order_release);
  s->mark_free_index.store(0, std::memory_order_release);
  s->alloc_count.store(live, std::memory_order_relaxed);
  s->alloc_cache = 0;
  TRICOLOR_DCHECK(live <= n, "span %p keeps %u of %u slots", reinterpret_cast<void*>(s->base), live,
                  n);
  count_freed_slots(s, freed);
  if (zombies != nullptr) {
    s->pending_zombie_batches.fetch_add(1, std::memory_order_relaxed);
    queue_zombies(zombies);
  }
  // An empty span goes back to the page heap, unless the destructor thread still holds a batch of
  // it (it is then kept empty, and a later sweep frees it).
  if (live == 0 && s->pending_zombie_batches.load(std::memory_order_acquire) == 0) {
    free_empty_span(s);
    return true;
  }
  s->sweepgen.store(sweepgen, std::memory_order_release);
  return false;
}

namespace {
// The first span class that may still hold unswept spans; reset when a cycle ends.
std::atomic<std::size_t> g_sweep_cursor{0};
// Calls of sweep_one in progress, on any thread.
std::atomic<int> g_active_sweeps{0};
}  // namespace

void reset_sweep_cursor() { g_sweep_cursor.store(0, std::memory_order_relaxed); }

bool sweep_one() {
  if (marking()) return false;  // the sweep of the last cycle ended before this mark began
  CriticalSection critical;
  g_active_sweeps.fetch_add(1, std::memory_order_acq_rel);
  bool swept = false;
  for (std::size_t sc = g_sweep_cursor.load(std::memory_order_relaxed); sc < kNumSpanClasses;
       ++sc) {
    Central& c = central(static_cast<std::uint8_t>(sc));
    SweepClaim claim = c.take_unswept();
    if (!claim) {
      // Nothing new is filed unswept until the next cycle, so the cursor only moves forward.
      std::size_t expected = sc;
      g_sweep_cursor.compare_exchange_strong(expected, sc + 1, std::memory_order_relaxed);
      continue;
    }
    Span* s = claim.span();
    if (!sweep_span(std::move(claim))) c.insert_swept(s);
    swept = true;
    break;
  }
  g_active_sweeps.fetch_sub(1, std::memory_order_acq_rel);
  return swept;
}

void finish_sweeping() {
  while (sweep_one()) {
  }
  // Another thread may still be in the middle of its last span; its zombies are queued when it
  // is done. Sweeping one span is short and never blocks, so a yield loop is enough.
  while (g_active_sweeps.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  heap_profile_post_sweep();  // every free of the last mark is counted: publish them
}

namespace {

void sweep_in_background() {
  while (sweep_one()) poll_safepoint();
}

constinit LibraryThread g_sweeper("sweeper", sweep_in_background);

}  // namespace

void wake_background_sweeper() { g_sweeper.wake(); }

void forget_background_sweeper_after_fork() { g_sweeper.forget_after_fork(); }

}  // namespace gc::detail
