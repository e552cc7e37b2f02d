// The allocation slow paths.
//
// alloc_slow runs when the fast path finds no slot in its cached span's 64-slot window: it refills
// the window from the span's bitmap, or gives the span back and takes another from the central
// list (which sweeps or grows the heap), and then — outside any critical section, with the new slot
// held in a local that the conservative stack scan sees — starts a collection if the heap has
// reached the pacer's trigger. When the OS refuses memory, it collects and retries once, then
// throws std::bad_alloc.
#include "heap/thread_cache.hpp"

#include <bit>
#include <new>

#include "base/check.hpp"
#include "base/thread_gc_time.hpp"
#include "heap/central.hpp"
#include "heap/collector.hpp"
#include "heap/destructor_table.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_backer.hpp"
#include "heap/page_heap.hpp"
#include "heap/pointer_bitmap.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/alloc.hpp"
#include "tricolor/detail/fresh_object.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

// Bytes of new spans this thread took during a mark and has not yet assisted for.
thread_local std::int64_t t_assist_bytes = 0;
// Bytes this thread's cache took, ever (thread_allocated_bytes).
thread_local std::int64_t t_allocated_bytes = 0;

// Takes the next free slot of a span the caller's cache owns, refilling the 64-slot window from
// the allocation bitmap; 0 when the span is full (it then goes back, and Central::uncache_span
// frees the zombies destroyed since it was cached).
std::uintptr_t take_slot(Span* s) {
  TRICOLOR_DCHECK(s->cached && s->state.load(std::memory_order_relaxed) == SpanState::kInUse,
                  "allocating from span %p, which this cache does not own",
                  reinterpret_cast<void*>(s->base));
  // A cached span may need sweeping (a cycle ended while its owner was stopped by signal): it is
  // swept when it goes back (Central::uncache_span), and never while cached.
  TRICOLOR_DCHECK(
      s->sweepgen.load(std::memory_order_relaxed) != g_sweepgen.load(std::memory_order_relaxed) - 1,
      "allocating from span %p while it is being swept", reinterpret_cast<void*>(s->base));
  std::uint32_t index = s->free_index.load(std::memory_order_relaxed);
  const std::uint32_t n = s->nelems;
  while (index < n) {
    const std::uint64_t free_bits =
        ~s->alloc_bits[index / 64].load(std::memory_order_relaxed) >> (index % 64);
    if (free_bits == 0) {
      index = (index / 64 + 1) * 64;
      continue;
    }
    const std::uint32_t slot = index + static_cast<std::uint32_t>(std::countr_zero(free_bits));
    if (slot >= n) break;
    const std::uint32_t next = slot + 1;
    s->free_index.store(next, std::memory_order_relaxed);
    // The window from `next` on, the next 64-slot word's whole when `next` starts one: the fast
    // path takes its slots up to the last, which ends the word and comes back here.
    s->alloc_cache =
        next >= n ? 0 : ~s->alloc_bits[next / 64].load(std::memory_order_relaxed) >> (next % 64);
    s->alloc_count.store(s->alloc_count.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    return s->slot_base(slot);
  }
  s->free_index.store(n, std::memory_order_relaxed);
  s->alloc_cache = 0;
  return 0;
}

// The invariant of fresh_object.hpp: the range of the object under construction, if any, lies in
// a span the cache holds.
void check_fresh_range(const MutatorState& m) {
  const std::uintptr_t size = m.fresh_size.load(std::memory_order_relaxed);
  const std::uintptr_t lo = m.fresh_lo.load(std::memory_order_relaxed);
  TRICOLOR_DCHECK(size == 0 || cache_owns(m, span_of(lo)->span_class, lo),
                  "the object under construction at %p is in a span its thread's cache gave back",
                  reinterpret_cast<void*>(lo));
}

// Gives `s`, the span `m`'s cache holds for `span_class`, back to the central lists. The range of
// an object under construction in it goes first (fresh_object.hpp).
void uncache(MutatorState& m, std::uint8_t span_class, Span* s) {
  drop_fresh_object_of_class(m, span_class);
  m.alloc[span_class] = &g_empty_span;
  central(span_class).uncache_span(s);
}

// A slot of the span this thread's cache holds for `span_class`, taking another span if it is
// full; 0 if the OS refused memory, or if a stop of the world is waiting for the thread between
// two sweeps (`stop_waiting` set: Central::cache_span). A span new from the page heap reports the
// pages to back in `to_back`.
std::uintptr_t take_cached_slot(MutatorState& m, std::uint8_t span_class, bool& stop_waiting,
                                PagesToBack& to_back) {
  Span* s = m.alloc[span_class];
  if (s != &g_empty_span) {
    if (const std::uintptr_t slot = take_slot(s)) return slot;
  }
  ThreadGcTimeScope timed(GcTimeKind::kSpan);
  if (s != &g_empty_span) uncache(m, span_class, s);
  s = central(span_class).cache_span(span_class, &stop_waiting, &to_back);
  check_fresh_range(m);
  if (s == nullptr) return 0;
  m.alloc[span_class] = s;
  const std::int64_t bytes =
      static_cast<std::int64_t>(s->nelems - s->alloc_count.load(std::memory_order_relaxed)) *
      s->elem_size;
  t_allocated_bytes += bytes;
  if (marking()) t_assist_bytes += bytes;
  return take_slot(s);
}

// A slot of `span_class` for the calling thread, with `destructor` (if any) registered while the
// cache still owns its span; 0 if the OS refused memory. A stop of the world that cuts the sweeps
// short parks the thread between two attempts. The pages of a span new from the page heap go to
// the page backer after the critical section (page_backer.hpp).
std::uintptr_t refill_and_take(std::uint8_t span_class, const Destructor* destructor) {
  for (;;) {
    PagesToBack to_back;
    std::uintptr_t slot = 0;
    bool stop_waiting = false;
    {
      CriticalSection critical;
      MutatorState& m = t_mutator;
      slot = take_cached_slot(m, span_class, stop_waiting, to_back);
      if (!stop_waiting) {
        hold_new_object(slot);  // before the section ends, where a deferred stop parks (alloc.hpp)
        if (slot != 0 && destructor != nullptr) {
          Span* s = m.alloc[span_class];
          register_owned_destructor(s, s->slot_index(slot), destructor);
        }
      }
    }
    back_pages_soon(to_back);
    if (!stop_waiting) return slot;
    poll_safepoint();  // the stop that cut the sweeps short
  }
}

[[noreturn]] void out_of_memory() { throw std::bad_alloc(); }

}  // namespace

void flush_thread_cache(MutatorState& m, bool keep_unswept) {
  CriticalSection critical;
  const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
  for (std::size_t sc = 0; sc < kNumSpanClasses; ++sc) {
    Span* s = m.alloc[sc];
    if (s == &g_empty_span) continue;
    if (keep_unswept && needs_sweep(s, sweepgen)) continue;
    uncache(m, static_cast<std::uint8_t>(sc), s);
  }
  m.tiny = 0;
  m.tiny_offset = 0;
  check_fresh_range(m);
}

std::int64_t thread_allocated_bytes() { return t_allocated_bytes; }

void* alloc_slow(std::uint8_t span_class, const Destructor* destructor) {
  ensure_registered();
  check_not_in_blocking_region("gc::make");
  poll_safepoint();
  std::uintptr_t slot = refill_and_take(span_class, destructor);
  if (slot == 0) {
    collect_for_memory();
    slot = refill_and_take(span_class, destructor);
    if (slot == 0) out_of_memory();
  }
  void* object = reinterpret_cast<void*>(slot);
  if (t_assist_bytes != 0) {
    const std::int64_t owed = t_assist_bytes;
    t_assist_bytes = 0;
    assist_allocation(owed);
  }
  maybe_start_cycle();
  return object;
}

void* alloc_tiny_slow(std::size_t size, std::size_t align) {
  check_not_in_blocking_region("gc::make");  // alloc_small may not reach the slow path
  void* block = alloc_small<make_span_class(2, true)>(nullptr);  // a fresh 16-byte noscan block
  (void)align;  // offset 0 of a 16-byte block satisfies any tiny alignment
  MutatorState& m = t_mutator;
  // Keep whichever block has more room left, as Go does.
  if (m.tiny == 0 || size < m.tiny_offset) {
    m.tiny = reinterpret_cast<std::uintptr_t>(block);
    m.tiny_offset = size;
  }
  return block;
}

void* alloc_large(std::size_t size, std::size_t align, bool noscan, const Destructor* destructor) {
  (void)align;  // spans are page-aligned, and alignment is at most a page
  ensure_registered();
  check_not_in_blocking_region("gc::make");
  poll_safepoint();
  if (size > (std::size_t{1} << 46)) out_of_memory();
  const std::size_t npages = (size + kPageSize - 1) / kPageSize;
  void* object = nullptr;
  for (int attempt = 0; attempt < 2 && object == nullptr; ++attempt) {
    if (attempt == 1) collect_for_memory();
    CriticalSection critical;
    ThreadGcTimeScope timed(GcTimeKind::kSpan);
    Span* s = page_heap().allocate(npages, 1);
    if (s == nullptr) continue;
    init_large_span(s, size, noscan);
    // Held before the section ends, where a deferred stop parks the thread (alloc.hpp).
    object = reinterpret_cast<void*>(s->base);
    hold_new_object(object);
    // No list holds the span yet: this thread owns it.
    if (destructor != nullptr) register_owned_destructor(s, 0, destructor);
    count_allocated(1, static_cast<std::int64_t>(size));
    central(s->span_class).add_large(s);
  }
  if (object == nullptr) out_of_memory();
  t_allocated_bytes += static_cast<std::int64_t>(size);
  assist_allocation(static_cast<std::int64_t>(size));
  maybe_start_cycle();
  return object;
}

void* allocate_array(std::size_t bytes, std::size_t align, bool noscan,
                     const Destructor* destructor) {
  const std::uint8_t size_class = size_to_class_aligned(bytes == 0 ? 1 : bytes, align);
  if (size_class == 0)
    return count_for_sampling(alloc_large(bytes, align, noscan, destructor), bytes);
  return count_for_sampling(alloc_from_cache(make_span_class(size_class, noscan), destructor),
                            kClassToSize[size_class]);
}

void abandon_allocation(void* object) noexcept {
  const auto addr = reinterpret_cast<std::uintptr_t>(object);
  Span* s = span_of(addr);
  if (s == nullptr) return;
  CriticalSection critical;
  const std::uint32_t index = s->slot_index(addr);
  TRICOLOR_DCHECK(index < s->nelems && s->slot_base(index) == addr,
                  "abandoned allocation %p is not the start of a slot", object);
  process_specials(s, index);  // the constructor may have made a gc::weak or cleanup of `this`
  MutatorState& m = t_mutator;
  const bool owned = m.alloc[s->span_class] == s && s->nelems > 1;
  // Its destructor must not run. While this cache owns the span its bit is this thread's to clear;
  // otherwise the owner may be writing that word without an atomic read-modify-write (alloc.hpp),
  // and the table names a destructor that does nothing instead.
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  auto& word = s->destructor_bits[index / 64];
  if ((word.load(std::memory_order_relaxed) & bit) != 0) {
    if (owned) {
      word.store(word.load(std::memory_order_relaxed) & ~bit, std::memory_order_relaxed);
      // And its table entry, if it was a second type: an object of the span's own type built in
      // the slot next registers only its bit, and would get this entry's destructor.
      if (auto* table = s->destructors.load(std::memory_order_acquire))
        table[index].store(0, std::memory_order_relaxed);
    } else {
      disarm_destructor(s, index);
    }
  }
  // The common case: the slot is the last one this thread's cached span handed out, so the span's
  // cursor can step back over it. Otherwise the slot is unreachable and the next sweep frees it.
  if (owned) {
    const std::uint32_t next = s->free_index.load(std::memory_order_relaxed);
    // Not at a word's end: there the window already holds the next word (take_slot), whose top
    // slot's free bit the step back would shift out.
    if (index + 1 == next && next % 64 != 0) {
      // A gc::ptr the constructor built in raw storage of the object, which unwinding did not
      // destroy, left its bit; the slot's next object must start with none (a sweep clears the
      // bits of the slots it frees, but this one it never sees). This cache owns the span, so the
      // owned half is this thread's to write.
      if (!s->noscan()) clear_pointer_bits(addr, s->elem_size);
      s->free_index.store(index, std::memory_order_relaxed);
      // If a mark started since the slot was taken, the slot's next owner is allocated black.
      if (s->mark_free_index.load(std::memory_order_relaxed) > index)
        s->mark_free_index.store(index, std::memory_order_relaxed);
      s->alloc_cache = (s->alloc_cache << 1) | 1;
      s->alloc_count.store(s->alloc_count.load(std::memory_order_relaxed) - 1,
                           std::memory_order_relaxed);
    }
  }
}

}  // namespace gc::detail
