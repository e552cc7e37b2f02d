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
#include "heap/page_heap.hpp"
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
  // With `stop_waiting`, it gives up between two sweeps when a stop of the world is under way
  // (nullptr, and *stop_waiting set): the caller ends its critical section, parks, and asks again.
  // Sweeping a span of 2,048 slots takes tens of microseconds, and a budget of them in one
  // critical section held stops of the world for 5 ms.
  // A span new from the page heap reports its pages to back in `to_back` (PageHeap::allocate).
  Span* cache_span(std::uint8_t span_class, bool* stop_waiting = nullptr,
                   PagesToBack* to_back = nullptr);
  // Takes back a span from a thread cache, sweeping it first if a cycle ended while it was cached.
  void uncache_span(Span* s);
  // Puts a large object's span on the full list.
  void add_large(Span* s);
  // Pops spans that need sweeping and claims them, under one lock: into `out`, until there are
  // `max_spans` or their slots reach `max_slots` (at least one span, if any is left). Returns how
  // many; 0 when none is left. A batch lets the background sweeper take the lock once for several
  // spans of a class with few slots a span, where the lock's line moving between the sweeper and
  // the allocating threads cost more than the sweep itself (docs/design.md, section 2, "The
  // background sweeper takes spans in batches").
  int take_unswept(SweepClaim* out, int max_spans, std::uint32_t max_slots);
  SweepClaim take_unswept() {
    SweepClaim claim;
    take_unswept(&claim, 1, 0);
    return claim;
  }
  // Files spans that were just swept (and not freed) on the lists of their states, under one lock.
  void insert_swept(Span* const* spans, int count);
  void insert_swept(Span* s) { insert_swept(&s, 1); }
  // The destructor thread is done with span `s`: the destructors it ran have their destroyed bits
  // published. If the span is on a list and was swept in this cycle, its destroyed slots are freed
  // at once (free_destroyed_slots), it is filed again, and if that leaves it empty outside a mark
  // it goes back to the page heap. Ends the thread's hold (`destructor_holds`), as its last access
  // to the span. Returns how many destroyed slots are left for the span's owner or its next sweep,
  // counting an emptied span kept during a mark as one.
  std::uint32_t release_destroyed(Span* s);
  // Moves up to `max_spans` of the empty spans swept in this cycle from the partial list to `out`;
  // returns how many.
  int take_empty_swept(SpanList& out, int max_spans);

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

// What becomes of a span that its sweep found with no object left (no list, cache or destructor
// batch holds it). A small span is kept: it stays in use, to be filed with its class's partial
// spans, so that the next span the class needs comes without the page heap's lock, its free-run
// trees or a fresh descriptor. A program that churns objects of one size empties and refills spans
// of that class all the time, and each trip through the page heap cost all three, under a lock the
// background sweeper and the allocating threads took in turn: a ring of 64-byte objects, 512 to a
// span, ran 11-13% faster without the trips (docs/design.md, "Empty spans kept for their size
// class"). It goes back to the page heap instead if its last sweep kept it empty too and no cache
// took it since (an idle class keeps its empty spans until the next sweep, and the scavenger takes
// them back sooner when it finds nothing else idle), if it holds a large object, if a memory limit
// is set (the scavenger returns only the page heap's pages), or once the OS has refused memory. A
// sweep for an allocation (`for_allocation`, Central::cache_span) keeps it in any case, to use at
// once. Returns true if the span went back to the page heap.
bool free_or_keep_empty_span(Span* s, bool for_allocation);

// Gives every span kept empty back to the page heap: gc::collect() and free_os_memory() leave no
// free memory held for a size class, an allocation the OS refused may use it, and the scavenger
// takes them back when it finds nothing else idle (a program gone quiet runs no next sweep). Takes
// one critical section per 16 spans of a class, outside any; stops, returning false, when a mark
// is in progress
// (a marker may be resolving an address in them): their next sweep gives them back instead.
bool release_kept_empty_spans();

// What the collector tells the rule above: whether a memory limit is set (gc::set_memory_limit,
// GOMEMLIMIT), and that the OS refused memory (from then on, no empty span is kept).
void keep_no_empty_spans_under_a_limit(bool limited);
void keep_no_empty_spans_after_a_refusal();

}  // namespace gc::detail
