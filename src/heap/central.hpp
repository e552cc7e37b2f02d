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
  // Frees the slots of zombies whose destructors have run, if the span has not been swept or
  // cached since they were queued; returns how many it freed (the rest wait for the next sweep).
  // Ends the batch: its count in `pending_zombie_batches` goes, and with it the last access.
  std::size_t free_zombie_slots(Span* s, const std::uint32_t* indexes, std::size_t count,
                                std::uint32_t queued_sweepgen);

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

// Freeing slots, by the sweep and by the destructor thread alike: a freed slot keeps no pointer
// bits (its next object starts with none), and the heap counters lose `count` objects.
void clear_freed_slot(const Span* s, std::uint32_t index);
void count_freed_slots(const Span* s, std::int64_t count);

// Gives a span with no object left, and its destructor table, back to the page heap. No list or
// cache holds it, and no zombie batch of it is pending.
void free_empty_span(Span* s);

}  // namespace gc::detail
