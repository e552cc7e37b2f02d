#include "heap/central.hpp"

#include <bit>

#include "base/bit_count.hpp"
#include "base/check.hpp"
#include "heap/destructor_table.hpp"
#include "heap/heap_counters.hpp"
#include "heap/object_lookup.hpp"
#include "heap/page_heap.hpp"
#include "heap/pointer_bitmap.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {
// Spans a cache_span call sweeps looking for room before it grows the heap instead (Go uses 100).
constexpr int kSweepBudget = 100;

int swept_index(std::uint32_t sweepgen) { return static_cast<int>(sweepgen / 2 % 2); }
}  // namespace

void SpanList::push(Span* s, int id) {
  s->prev = nullptr;
  s->next = head_;
  if (head_ != nullptr) head_->prev = s;
  head_ = s;
  s->list_id = id;
}

void SpanList::remove(Span* s) {
  if (s->prev != nullptr)
    s->prev->next = s->next;
  else
    head_ = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
  s->list_id = -1;
}

Span* SpanList::pop() {
  Span* s = head_;
  if (s != nullptr) remove(s);
  return s;
}

Central& central(std::uint8_t span_class) {
  // Static storage, not the heap: the first use may be inside a critical section.
  static Central centrals[kNumSpanClasses];
  return centrals[span_class];
}

namespace {

// Publishes a span set up by init_small_span or init_large_span: swept for this generation, then
// in use, with release, after every other field (a marker resolving an address in it concurrently
// either ignores it or sees it whole; see PageHeap::allocate).
void publish_span(Span* s) {
  TRICOLOR_DCHECK(s->state.load(std::memory_order_relaxed) == SpanState::kFree,
                  "span %p published twice", reinterpret_cast<void*>(s->base));
  s->sweepgen.store(g_sweepgen.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s->state.store(SpanState::kInUse, std::memory_order_release);
}

}  // namespace

void init_small_span(Span* s, std::uint8_t span_class) {
  const std::size_t size_class = span_class_size_class(span_class);
  TRICOLOR_DCHECK(size_class != 0, "a small span needs a size class");
  s->span_class = span_class;
  s->elem_size = kClassToSize[size_class];
  s->nelems = kClassToObjects[size_class];
  s->div_magic = kClassToDivMagic[size_class];
  TRICOLOR_DCHECK(s->nelems * s->elem_size <= s->npages * kPageSize,
                  "%u slots of %u bytes overflow %zu pages", s->nelems, s->elem_size, s->npages);
  TRICOLOR_DCHECK(s->slot_words() <= s->bitmap_words, "%u slots in a descriptor for %u", s->nelems,
                  s->bitmap_words * 64);
  publish_span(s);
}

void init_large_span(Span* s, std::size_t size, bool noscan) {
  const std::size_t bytes = s->npages * kPageSize;
  TRICOLOR_DCHECK(size <= bytes, "a large object of %zu bytes in %zu pages", size, s->npages);
  s->span_class = make_span_class(0, noscan);
  s->elem_size = static_cast<std::uint32_t>(bytes > 0xffffffffu ? 0xffffffffu : bytes);
  s->large_size = size;
  s->nelems = 1;
  s->div_magic = 0;  // every offset is slot 0
  s->free_index.store(1, std::memory_order_relaxed);
  // Allocated black during a mark (gc/mark_state.hpp): 0 puts the object above mark_free_index.
  s->mark_free_index.store(marking() ? 0 : 1, std::memory_order_relaxed);
  s->alloc_count.store(1, std::memory_order_relaxed);
  publish_span(s);
}

void clear_freed_slots(const Span* s, std::uint32_t word_first, std::uint64_t bits,
                       PointerBitClearer& clearer) {
  if (s->noscan()) return;
  // Runs of neighbouring slots, one range each: garbage dies in runs (a whole span of a dropped
  // tree), and a range's bitmap words are visited once.
  while (bits != 0) {
    const unsigned first = static_cast<unsigned>(std::countr_zero(bits));
    const unsigned run = static_cast<unsigned>(std::countr_one(bits >> first));
    bits = run + first >= 64 ? 0 : bits & ~(((std::uint64_t{1} << run) - 1) << first);
    TRICOLOR_DCHECK(word_first + first + run <= s->nelems, "slots %u+%u of a span of %u",
                    word_first + first, run, s->nelems);
    clearer.clear(s->slot_base(word_first + first),
                  run * ((object_size(s) + 7) & ~std::uintptr_t{7}));
  }
}

std::uint64_t slot_range_bits(std::uint32_t word_first, std::uint32_t from, std::uint32_t to) {
  const std::uint32_t lo = from > word_first ? from - word_first : 0;
  const std::uint32_t hi = to > word_first ? (to - word_first < 64 ? to - word_first : 64) : 0;
  if (lo >= hi) return 0;
  const std::uint64_t upto_hi = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
  return upto_hi & ~((std::uint64_t{1} << lo) - 1);
}

std::uint32_t free_destroyed_slots(Span* s) {
  TRICOLOR_DCHECK(
      s->sweepgen.load(std::memory_order_relaxed) == g_sweepgen.load(std::memory_order_relaxed),
      "freeing destroyed slots of span %p, which is not swept", reinterpret_cast<void*>(s->base));
  const std::uint32_t words = (s->nelems + 63) / 64;
  std::uint64_t destroyed[kBitmapWords];
  bool any = false;
  for (std::uint32_t w = 0; w < words; ++w) {
    destroyed[w] = s->destroyed_bits[w].load(std::memory_order_acquire);
    any |= destroyed[w] != 0;
  }
  if (!any) return 0;
  std::uint32_t free_index = s->free_index.load(std::memory_order_relaxed);
  if (free_index != 0 && !marking()) {
    // Bits first, then the cursor: a concurrent find_object sees the slots allocated throughout.
    for (std::uint32_t w = 0; w * 64 < free_index; ++w)
      s->alloc_bits[w].fetch_or(slot_range_bits(w * 64, 0, free_index), std::memory_order_release);
    s->free_index.store(0, std::memory_order_release);
    s->mark_free_index.store(0, std::memory_order_relaxed);
    s->alloc_cache = 0;
    free_index = 0;
  }
  PointerBitClearer clearer;
  std::uint32_t freed = 0;
  for (std::uint32_t w = 0; w < words; ++w) {
    const std::uint64_t bits = destroyed[w] & ~slot_range_bits(w * 64, 0, free_index);
    if (bits == 0) continue;
    TRICOLOR_DCHECK((bits & ~s->alloc_bits[w].load(std::memory_order_relaxed)) == 0 &&
                        (bits & ~s->zombie_bits[w].load(std::memory_order_relaxed)) == 0,
                    "span %p has destroyed slots that are not allocated zombies",
                    reinterpret_cast<void*>(s->base));
    s->destructor_bits[w].fetch_and(~bits, std::memory_order_relaxed);
    s->zombie_bits[w].fetch_and(~bits, std::memory_order_release);
    s->destroyed_bits[w].fetch_and(~bits, std::memory_order_release);
    s->alloc_bits[w].fetch_and(~bits, std::memory_order_release);
    clear_freed_slots(s, w * 64, bits, clearer);
    freed += static_cast<std::uint32_t>(count_ones(bits));
  }
  if (freed == 0) return 0;
  TRICOLOR_DCHECK(s->alloc_count.load(std::memory_order_relaxed) >= freed,
                  "span %p frees %u of its %u objects", reinterpret_cast<void*>(s->base), freed,
                  s->alloc_count.load(std::memory_order_relaxed));
  s->alloc_count.store(s->alloc_count.load(std::memory_order_relaxed) - freed,
                       std::memory_order_relaxed);
  count_freed_slots(s, freed);
  return freed;
}

void count_freed_slots(const Span* s, std::int64_t count) {
  if (count != 0) count_freed(count, count * static_cast<std::int64_t>(object_size(s)));
}

void free_empty_span(Span* s) {
  TRICOLOR_DCHECK(s->alloc_count.load(std::memory_order_relaxed) == 0,
                  "span %p freed with %u objects", reinterpret_cast<void*>(s->base),
                  s->alloc_count.load(std::memory_order_relaxed));
  TRICOLOR_DCHECK(!s->cached && s->list_id < 0, "span %p freed while cached or listed",
                  reinterpret_cast<void*>(s->base));
  TRICOLOR_DCHECK(s->destructor_holds.load(std::memory_order_relaxed) == 0,
                  "span %p freed while the destructor queue holds it",
                  reinterpret_cast<void*>(s->base));
  free_destructor_table(s->destructors.exchange(nullptr, std::memory_order_relaxed), s->nelems);
  page_heap().free(s);
}

namespace {
// Set while a memory limit is set, and for good once the OS has refused memory.
std::atomic<bool> g_memory_limited{false};
std::atomic<bool> g_memory_refused{false};
}  // namespace

void keep_no_empty_spans_under_a_limit(bool limited) {
  g_memory_limited.store(limited, std::memory_order_relaxed);
}

void keep_no_empty_spans_after_a_refusal() {
  g_memory_refused.store(true, std::memory_order_relaxed);
}

bool free_or_keep_empty_span(Span* s, bool for_allocation) {
  const bool keep = span_class_size_class(s->span_class) != 0 &&
                    (for_allocation || !s->kept_empty) &&
                    !g_memory_limited.load(std::memory_order_relaxed) &&
                    !g_memory_refused.load(std::memory_order_relaxed);
  if (!keep) {
    free_empty_span(s);
    return true;
  }
  s->kept_empty = true;
  // Like a fresh span, whatever type it held: the next destructor registered is its own. No slot
  // has a destructor bit left (a dead object with one would be a zombie, and the span not empty).
  free_destructor_table(s->destructors.exchange(nullptr, std::memory_order_relaxed), s->nelems);
  s->destructor.store(0, std::memory_order_relaxed);
  return false;
}

int Central::take_empty_swept(SpanList& out, int max_spans) {
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
  MutexLock lock(mutex_);
  SpanList& swept = partial_[swept_index(sweepgen)];
  int taken = 0;
  for (Span* s = swept.front(); s != nullptr && taken < max_spans;) {
    Span* const next = s->next;
    if (s->alloc_count.load(std::memory_order_relaxed) == 0 &&
        s->destructor_holds.load(std::memory_order_relaxed) == 0 &&
        s->sweepgen.load(std::memory_order_relaxed) == sweepgen) {
      swept.remove(s);
      out.push(s, -1);
      ++taken;
    }
    s = next;
  }
  return taken;
}

bool release_kept_empty_spans() {
  // Each class may keep hundreds of spans (every small class keeps them): a stop of the world
  // waits for one critical section, which frees at most this many.
  constexpr int kSpansPerSection = 16;
  for (std::size_t sc = make_span_class(1, false); sc < kNumSpanClasses; ++sc) {
    for (int taken = kSpansPerSection; taken == kSpansPerSection;) {
      CriticalSection critical;
      if (marking()) return false;
      SpanList empty;
      taken = central(static_cast<std::uint8_t>(sc)).take_empty_swept(empty, kSpansPerSection);
      while (Span* s = empty.pop()) free_empty_span(s);
    }
  }
  return true;
}

// list ids: 2 * generation + (full ? 1 : 0)
void Central::insert_locked(Span* s) {
  const int gen = swept_index(s->sweepgen.load(std::memory_order_relaxed));
  const bool full = s->alloc_count.load(std::memory_order_relaxed) >= s->nelems;
  if (full)
    full_[gen].push(s, 2 * gen + 1);
  else
    partial_[gen].push(s, 2 * gen);
}

Span* Central::cache_span(std::uint8_t span_class, bool* stop_waiting, PagesToBack* to_back) {
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
  const int swept = swept_index(sweepgen);
  const int unswept = 1 - swept;
  Span* found = nullptr;
  for (int budget = kSweepBudget; found == nullptr;) {
    // Between two sweeps no claim or lock is held. The caller asks again after the stop, with the
    // sweep generation read afresh: a cycle may have ended meanwhile.
    if (budget < kSweepBudget && stop_waiting != nullptr && world_stop_waiting()) {
      *stop_waiting = true;
      return nullptr;
    }
    Span* s = nullptr;
    SweepClaim claim;
    {
      MutexLock lock(mutex_);
      if ((s = partial_[swept].pop()) != nullptr) {
        claim = try_claim_sweep(s, sweepgen);  // only if it was filed before a flip
      } else if (budget > 0 && ((s = partial_[unswept].pop()) != nullptr ||
                                (s = full_[unswept].pop()) != nullptr)) {
        claim = try_claim_sweep(s, sweepgen);
      }
      if (s != nullptr && !claim) {
        TRICOLOR_DCHECK(!s->cached, "span %p on a central list is cached",
                        reinterpret_cast<void*>(s->base));
        s->cached = true;
        s->kept_empty = false;
      }
    }
    if (s == nullptr) break;
    if (!claim) {
      found = s;
      break;
    }
    --budget;
    if (sweep_span(std::move(claim), /*for_allocation=*/true)) continue;  // back in the page heap
    MutexLock lock(mutex_);
    if (s->alloc_count.load(std::memory_order_relaxed) < s->nelems) {
      s->cached = true;
      s->kept_empty = false;
      found = s;
    } else {
      insert_locked(s);
    }
  }
  if (found == nullptr) {
    const std::size_t npages = kClassToPages[span_class_size_class(span_class)];
    Span* s =
        page_heap().allocate(npages, kClassToObjects[span_class_size_class(span_class)], to_back);
    if (s == nullptr) return nullptr;
    init_small_span(s, span_class);
    s->cached = true;
    found = s;
  }
  const std::int64_t unused = found->nelems - found->alloc_count.load(std::memory_order_relaxed);
  count_allocated(unused, found->elem_size);
  found->alloc_cache = 0;  // the slow path refills it from the bitmap
  return found;
}

void Central::uncache_span(Span* s) {
  const std::int64_t unused = s->nelems - s->alloc_count.load(std::memory_order_relaxed);
  count_allocated(-unused, s->elem_size);
  s->alloc_cache = 0;
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
  if (needs_sweep(s, sweepgen)) {
    // A cycle ended while the span was cached: the owner sweeps it on the way back.
    {
      MutexLock lock(mutex_);
      s->cached = false;
    }
    SweepClaim claim = try_claim_sweep(s, sweepgen);
    if (!claim) return;
    if (sweep_span(std::move(claim))) return;
    MutexLock lock(mutex_);
    insert_locked(s);
    return;
  }
  // Zombies destroyed while the span was cached: their slots go back with it.
  free_destroyed_slots(s);
  // Nothing is allocated from the span until it is cached again, so the next mark sees all of it.
  // During a mark the span keeps its mark_free_index: what was allocated since mark start is black.
  if (!marking())
    s->mark_free_index.store(s->free_index.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
  MutexLock lock(mutex_);
  s->cached = false;
  insert_locked(s);
}

void Central::add_large(Span* s) {
  MutexLock lock(mutex_);
  insert_locked(s);
}

int Central::take_unswept(SweepClaim* out, int max_spans, std::uint32_t max_slots) {
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
  const int unswept = 1 - swept_index(sweepgen);
  int taken = 0;
  std::uint32_t slots = 0;
  MutexLock lock(mutex_);
  while (taken < max_spans && (taken == 0 || slots < max_slots)) {
    Span* s = partial_[unswept].pop();
    if (s == nullptr) s = full_[unswept].pop();
    if (s == nullptr) break;
    if (SweepClaim claim = try_claim_sweep(s, sweepgen)) {
      // A large object weighs a whole batch: its sweep clears the pointer bits of all its words
      // and gives its pages back, far more than its one slot says.
      slots += span_class_size_class(s->span_class) == 0 ? max_slots : s->nelems;
      out[taken++] = std::move(claim);
    } else {
      insert_locked(s);
    }
  }
  return taken;
}

void Central::insert_swept(Span* const* spans, int count) {
  MutexLock lock(mutex_);
  for (int i = 0; i < count; ++i) {
    // The destructor thread may have run a span's zombies while the rest of its batch was swept,
    // and it frees destroyed slots only of a span that is on a list (release_destroyed): free them
    // here, or they would wait for the next cycle's sweep.
    free_destroyed_slots(spans[i]);
    insert_locked(spans[i]);
  }
}

namespace {

std::uint32_t destroyed_count(const Span* s) {
  std::uint32_t n = 0;
  for (std::uint32_t w = 0; w < (s->nelems + 63) / 64; ++w)
    n += static_cast<std::uint32_t>(
        count_ones(s->destroyed_bits[w].load(std::memory_order_relaxed)));
  return n;
}

}  // namespace

std::uint32_t Central::release_destroyed(Span* s) {
  MutexLock lock(mutex_);
  std::uint32_t left = 0;
  // A cached span is its owner's to free (take_slot, uncache_span); one that is not swept in this
  // cycle, its sweep's. Listed and swept, it cannot be claimed while this lock is held.
  if (s->list_id >= 0 &&
      s->sweepgen.load(std::memory_order_relaxed) == g_sweepgen.load(std::memory_order_relaxed)) {
    TRICOLOR_DCHECK(!s->cached, "span %p is cached and listed", reinterpret_cast<void*>(s->base));
    if (free_destroyed_slots(s) != 0) {
      const int gen = s->list_id / 2;
      if (s->list_id % 2 == 1) {
        full_[gen].remove(s);
      } else {
        partial_[gen].remove(s);
      }
      // Emptied, and no other hold on it: back to the page heap. Not during a mark, which may be
      // resolving an address in it; the next sweep frees it then.
      const bool empty = s->alloc_count.load(std::memory_order_relaxed) == 0;
      if (empty && !marking() && s->destructor_holds.load(std::memory_order_relaxed) == 1) {
        s->destructor_holds.store(0, std::memory_order_relaxed);
        lock.unlock();
        free_empty_span(s);
        return 0;
      }
      insert_locked(s);
      left = empty && marking() ? 1 : 0;
    }
  }
  left += destroyed_count(s);
  s->destructor_holds.fetch_sub(1, std::memory_order_release);
  return left;
}

}  // namespace gc::detail
