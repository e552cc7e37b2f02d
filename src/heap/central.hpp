// Central lists: per span class, the spans that no thread cache owns.
//
// Each central keeps partial spans (with free slots) and full spans, in two generations indexed by
// the heap's sweep generation: after a cycle's mark, the lists that held swept spans become the
// unswept ones simply because the generation moved by two. A thread cache asks for a span with free
// slots: a swept partial one if there is one, else it sweeps unswept spans of its own class until
// one has room (Go's mcentral.cacheSpan), else a new span from the page heap. The background
// sweeper drains the unswept lists of every class.
//
// Whoever takes a span off a list checks its sweepgen and sweeps it if it is stale: the lists are
// where spans wait, the sweepgen is the truth. Large objects live on the full lists of size class
// 0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/mutex.hpp"
#include "heap/collector.hpp"
#include "heap/pointer_bitmap.hpp"
#include "tricolor/detail/span.hpp"

namespace gc::detail {

class SpanList {
 public:
  bool empty() const { return head_ == nullptr; }
  Span* front() const { return head_; }
  void push(Span* s, int id);
  void remove(Span* s);
  Span* pop();

 private:
  Span* head_ = nullptr;
};

class Central {
 public:
  // A span with at least one free slot, owned by the caller's cache; nullptr if the OS refuses.
  Span* cache_span(std::uint8_t span_class);
  // Takes back a span from a thread cache, sweeping it first if a cycle ended while it was cached.
  void uncache_span(Span* s);
  // Puts a large object's span on the full list.
  void add_large(Span* s);
  // Pops one span that needs sweeping and claims it; an empty claim when none is left.
  SweepClaim take_unswept();
  // Files a span that was just swept (and not freed) on the list of its state.
  void insert_swept(Span* s);
  // The destructor thread is done with span `s`: the destructors it ran have their destroyed bits
  // published. If the span is on a list and was swept in this cycle, its destroyed slots are freed
  // at once (free_destroyed_slots), it is filed again, and if that leaves it empty outside a mark
  // it goes back to the page heap. Ends the thread's hold (`destructor_holds`), as its last access
  // to the span. Returns how many destroyed slots are left for the span's owner or its next sweep,
  // counting an emptied span kept during a mark as one.
  std::uint32_t release_destroyed(Span* s);

 private:
  void insert_locked(Span* s) TRICOLOR_REQUIRES(mutex_);

  Mutex mutex_{LockRank::kCentral};
  SpanList partial_[2] TRICOLOR_GUARDED_BY(mutex_);
  SpanList full_[2] TRICOLOR_GUARDED_BY(mutex_);
};

Central& central(std::uint8_t span_class);

// Sets up a fresh span from the page heap for `span_class`: slots, magic, bits, sweepgen.
void init_small_span(Span* s, std::uint8_t span_class);

// Sets up a fresh span from the page heap for one large object of `size` bytes.
void init_large_span(Span* s, std::size_t size, bool noscan);

// Freeing slots, by the sweep and by the owners of destroyed zombies alike: a freed slot keeps no
// pointer bits (its next object starts with none), and the heap counters lose `count` objects.
void count_freed_slots(const Span* s, std::int64_t count);

// Clears the pointer bits of a span's slots `bits` (the 64 slots from `word_first`), into
// `clearer`, which writes each bitmap word once.
void clear_freed_slots(const Span* s, std::uint32_t word_first, std::uint64_t bits,
                       PointerBitClearer& clearer);

// The bits of the 64-slot word starting at `word_first` that fall in [from, to).
std::uint64_t slot_range_bits(std::uint32_t word_first, std::uint32_t from, std::uint32_t to);

// Frees the slots of `s`'s destroyed zombies (destroyed_bits), for a caller that owns the span and
// finds it swept in this cycle: its thread cache, inside a critical section, or whoever holds the
// central lock while it is listed. A slot below free_index counts as allocated whatever its bit
// says; outside a mark the slots below it are first written into alloc_bits and free_index goes
// back to 0, so that every destroyed slot can be freed. During a mark that would turn what was
// allocated black since mark start into white objects (gc/mark_state.hpp), so only the slots at
// or above free_index are freed. A slot's zombie bit goes before its destroyed bit, the order the
// destructor thread reads them in (gc/destructors.cpp). Returns the number freed; alloc_count and
// the heap counters drop by it.
std::uint32_t free_destroyed_slots(Span* s);

// Gives a span with no object left, and its destructor table, back to the page heap. No list or
// cache holds it, and no zombie batch of it is pending.
void free_empty_span(Span* s);

}  // namespace gc::detail
