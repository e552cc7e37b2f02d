#include "gc/marker.hpp"

#include <bit>

#include "base/bit_count.hpp"
#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/os_memory.hpp"
#include "gc/checkmark_bits.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/test_hooks.hpp"
#include "gc/why_alive.hpp"
#include "heap/object_lookup.hpp"
#include "heap/pointer_bitmap.hpp"
#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

namespace {

// Sets bit `index`; true if this call set it (markers race for the same bit). Sequentially
// consistent: a mark bit is set before its span's `mark_queued` flag is read (marker.hpp).
bool set_bit(std::atomic<std::uint64_t>* bits, std::uint32_t index) {
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  return (bits[index / 64].fetch_or(bit, std::memory_order_seq_cst) & bit) == 0;
}

// A span whose grey objects are queued as the span (marker.hpp): small objects with slots. A large
// object is scanned in oblets, and a small one of more than 512 bytes has more pointer-bitmap words
// than the small path reads (scan_object).
bool marked_by_span(const Span* s) {
  return !s->noscan() && s->nelems > 1 && s->elem_size <= 64 * 8;
}

// The low bit of a work-list entry that stands for its object's span: the object that queued it.
constexpr std::uintptr_t kSpanEntry = 1;

// A span's `mark_queued` states (marker.hpp). kSpanManyGrey is a bit: a span queued as one grey
// may be 1|2, which reads as many too.
constexpr std::uint8_t kSpanIdle = 0;      // on no work list
constexpr std::uint8_t kSpanOneGrey = 1;   // queued by an object, and no shade found it so since
constexpr std::uint8_t kSpanManyGrey = 2;  // queued, and other mark bits may have been set since

// Called after this marker set a mark bit in span `s`, one marked by span: whether it must queue
// the span. A span already queued for one grey object becomes many; if its scan took it meanwhile
// (the flag found idle), the new bit is this marker's to queue, as many, since the bitmaps are
// scanned in full for an entry whose flag was many.
bool claim_span(Span* s) {
  std::uint8_t seen = s->mark_queued.load(std::memory_order_seq_cst);
  if (seen == kSpanIdle &&
      s->mark_queued.compare_exchange_strong(seen, kSpanOneGrey, std::memory_order_seq_cst))
    return true;
  if (seen != kSpanOneGrey) return false;  // many: its scan reads every mark bit
  return s->mark_queued.fetch_or(kSpanManyGrey, std::memory_order_seq_cst) == kSpanIdle;
}

// The same, after this marker set several mark bits in `s` at once (gathered ones): the span is
// queued as many, or made many if it is queued already.
bool claim_span_for_many(Span* s) {
  if ((s->mark_queued.load(std::memory_order_seq_cst) & kSpanManyGrey) != 0) return false;
  return s->mark_queued.fetch_or(kSpanManyGrey, std::memory_order_seq_cst) == kSpanIdle;
}

// A word that names no object: only a hook may want it (a gc::arena's memory, toolbox/arenas.cpp).
[[gnu::noinline]] void not_an_object(std::uintptr_t word) { g_hooks.foreign_word.call(word); }

// Whether a turn (Marker::drain_turn) must end early: its time is up, or a stop of the world waits
// for the critical section it runs in. The stop's bit is up from the stop's first moment, before it
// signals anyone (it first spins a few microseconds, and a signal takes tens on a virtual machine):
// the turn ends and the thread parks at its safepoint, usually before the signal is sent. A signal
// that landed in the section (a stop, or a request to scan this thread's stack) ends it too.
[[gnu::noinline]] bool turn_over(std::int64_t deadline) {
  return world_stop_waiting() || t_mutator.stop_deferred.load(std::memory_order_relaxed) != 0 ||
         now_ns() >= deadline;
}

}  // namespace

// The mark's shade (kMark), inline in the scan loop, where it runs once for every slot scanned.
// It asks find_object's questions, but the mark bit before the allocation bits: a set mark bit
// ends the work whether or not the object is allocated, so a word that names an object marked
// already (half of them in bench_mark_scaling's graph, where each object has two parents) reads
// neither the allocation bits nor the black test.
[[gnu::always_inline]] inline void Marker::grey(Span* s, std::uintptr_t word) {
  std::uint32_t index = 0;
  if (s == nullptr || !slot_of(s, word, index)) {
    not_an_object(word);
    return;
  }
  if (s->is_marked(index)) return;
  if (!s->is_allocated(index)) {
    not_an_object(word);
    return;
  }
  if (honour_black_ && allocated_black(s, index)) return;
  if (s->noscan()) {
    gather_mark(s, index);
    return;
  }
  if (marked_by_span(s)) {
    grey_in_span(s, index);
    return;
  }
  if (!set_bit(s->mark_bits, index)) return;  // its mark bit was read clear just above
  queue_grey(s, s->slot_base(index));
}

// An object marked by span (marker.hpp): the first shade in a mark-bit word sets its bit and
// queues the span at once, so a shade that follows pointers into random places pays one compare
// more; the shades that follow it in the same word (a tree's or a list's nodes, made together)
// gather theirs.
[[gnu::always_inline]] inline void Marker::grey_in_span(Span* s, std::uint32_t index) {
  std::atomic<std::uint64_t>* const word = &s->mark_bits[index / 64];
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  if (word == gathered_word_) {
    gathered_bits_ |= bit;
    return;
  }
  gather_into(s, word);
  // Its mark bit was read clear in grey(); another marker may have set it since.
  if ((word->fetch_or(bit, std::memory_order_seq_cst) & bit) != 0) return;
  marked_bytes_ += static_cast<std::int64_t>(s->elem_size);
  if (claim_span(s)) work_.push(s->slot_base(index) | kSpanEntry);
}

// A pointer-free object's mark bit, gathered with those of its word (marker.hpp): a shade that
// moves to another word sets the gathered bits first.
[[gnu::always_inline]] inline void Marker::gather_mark(Span* s, std::uint32_t index) {
  std::atomic<std::uint64_t>* const word = &s->mark_bits[index / 64];
  if (word != gathered_word_) gather_into(s, word);
  gathered_bits_ |= std::uint64_t{1} << (index % 64);
}

[[gnu::always_inline]] inline void Marker::gather_into(Span* s, std::atomic<std::uint64_t>* word) {
  if (gathered_bits_ != 0) set_gathered_marks();
  gathered_word_ = word;
  gathered_span_ = s;
}

bool Marker::set_gathered_marks() {
  if (gathered_bits_ == 0) return false;
  // Counted once, and scanned once: a bit that another marker set first is in `before`, and that
  // marker queued the object.
  const std::uint64_t before = gathered_word_->fetch_or(gathered_bits_, std::memory_order_seq_cst);
  const std::uint64_t newly = gathered_bits_ & ~before;
  marked_bytes_ += static_cast<std::int64_t>(count_ones(newly) * object_size(gathered_span_));
  bool queued = false;
  if (!gathered_span_->noscan() && newly != 0 && claim_span_for_many(gathered_span_)) {
    const auto first = static_cast<std::uint32_t>(
        (gathered_word_ - gathered_span_->mark_bits) * 64 + std::countr_zero(newly));
    work_.push(gathered_span_->slot_base(first) | kSpanEntry);
    queued = true;
  }
  gathered_bits_ = 0;
  // The next shade names its word and span afresh. (After a first shade in a word
  // they stay named with no bits gathered: a Marker lives within one mark, where no span is freed.)
  gathered_word_ = nullptr;
  return queued;
}

// An object whose mark bit this marker set: counted, and queued to be scanned unless its span is
// noscan.
[[gnu::always_inline]] inline void Marker::queue_grey(Span* s, std::uintptr_t base) {
  marked_bytes_ += static_cast<std::int64_t>(object_size(s));
  if (!s->noscan()) work_.push(base);
}

Marker::Marker(Mode mode, PathRecorder* path)
    : mode_(mode), honour_black_(marking() && !test_flag(kTestNoBlackAlloc)), path_(path) {
  if (mode_ == Mode::kMark) inert_ = !marker_busy_begin();
}

Marker::~Marker() {
  if (mode_ != Mode::kMark) return;
  if (inert_) {
    // Work shaded here would be lost: only a mark worker late for an ended mark is refused.
    TRICOLOR_CHECK(work_.empty() && shade_held_ == 0 && scan_held_ == 0 && gathered_bits_ == 0,
                   "a marker made after mark termination was given grey work");
    return;
  }
  publish();
  g_mark.marked_bytes.fetch_add(marked_bytes_, std::memory_order_relaxed);
  g_mark.scan_work.fetch_add(scanned_bytes_, std::memory_order_relaxed);
  marker_busy_end();
}

void Marker::publish() {
  flush_shades();
  for (; scan_held_ > 0; --scan_held_)
    work_.push(scan_ring_[(scan_next_ - scan_held_) % kScanAhead]);
  work_.give_all([](MarkChunk* c) { grey_queue_put(c); });
}

void Marker::shade_soon(std::uintptr_t word) { queue_shade(HeapView::now(), word); }

// shade_soon, inline in the scan loop.
[[gnu::always_inline]] inline void Marker::queue_shade(const HeapView& heap, std::uintptr_t word) {
  TRICOLOR_DCHECK(mode_ == Mode::kMark, "only the mark shades through the prefetch ring");
  if (!heap.contains(word)) {
    if (word != 0) not_an_object(word);  // not in the heap: only the hook wants it
    return;
  }
  Span* const s = heap.span_of(word);
  if (s != nullptr) {
    // The descriptor's header (its first line, and the one holding the bitmap pointers) and the
    // start of its bitmaps right after it (span.hpp): the mark bits, and for a small span its
    // allocation bits too. Reading a bitmap pointer here would wait for the line the prefetch is
    // there to hide, so the bitmaps' address is taken from the header's end.
    __builtin_prefetch(s);
    __builtin_prefetch(&s->mark_bits);
    __builtin_prefetch(s + 1);
  }
  PendingShade& slot = shade_ring_[shade_next_++ % kShadeAhead];
  if (shade_held_ == kShadeAhead) {
    const PendingShade oldest = slot;
    slot = {word, s};
    grey(oldest.span, oldest.word);
  } else {
    slot = {word, s};
    ++shade_held_;
  }
}

bool Marker::flush_shades() {
  const bool any = shade_held_ != 0;
  for (; shade_held_ > 0; --shade_held_) {
    const PendingShade& p = shade_ring_[(shade_next_ - shade_held_) % kShadeAhead];
    grey(p.span, p.word);
  }
  return set_gathered_marks() || any;
}

[[gnu::always_inline]] inline bool Marker::next_to_scan(const HeapView& heap,
                                                        std::uintptr_t& object) {
  for (;;) {
    std::uintptr_t popped;
    if (work_.pop(popped)) {
      // The object, and the pointer-bitmap words that say which of its words to read (the line
      // covering its start, which is all of them for most objects): on a large heap the scan
      // would wait for both. A span's entry names the object that queued it, the one a scan of
      // a span owing one grey object reads; its scan reads the descriptor's header and the
      // start of its bitmaps first (as queue_shade prefetches them).
      const std::uintptr_t at = popped & ~kSpanEntry;
      __builtin_prefetch(reinterpret_cast<const void*>(at));
      __builtin_prefetch(pointer_word_pair((at - heap.lo) / (64 * 8)));
      if (popped & kSpanEntry) {
        Span* const s = heap.span_of(at);
        __builtin_prefetch(s);
        __builtin_prefetch(s + 1);
      }
      std::uintptr_t& slot = scan_ring_[scan_next_++ % kScanAhead];
      if (scan_held_ == kScanAhead) {
        object = slot;
        slot = popped;
        return true;
      }
      slot = popped;
      ++scan_held_;
      continue;
    }
    if (flush_shades()) continue;  // what they greyed is on work_ now
    if (scan_held_ == 0) return false;
    object = scan_ring_[(scan_next_ - scan_held_--) % kScanAhead];
    return true;
  }
}

void Marker::shade(std::uintptr_t word) {
  if (mode_ == Mode::kMark) {
    const HeapView heap = HeapView::now();
    if (!heap.contains(word)) {
      not_an_object(word);
      return;
    }
    grey(heap.span_of(word), word);
    return;
  }
  ObjectRef object;
  if (!find_object(word, object)) {
    not_an_object(word);
    return;
  }
  Span* s = object.span;
  if (mode_ == Mode::kCheckmark) {
    if (!s->is_marked(object.index) && !(honour_black_ && allocated_black(s, object.index))) {
      if (from_stack_) return;  // perhaps a stale word: see the header
      report_missed(s, object.index);
    }
    if (!CheckmarkBits::try_set(object.base)) return;
  } else {
    if (!CheckmarkBits::try_set(object.base)) return;
    path_->reached(object.base, source_object_, source_address_, source_);
  }
  queue_grey(s, object.base);
}

bool Marker::drain(std::int64_t budget, std::int64_t deadline) {
  if (mode_ == Mode::kPath) {
    drain_by_layers();
    return true;
  }
  if (mode_ == Mode::kMark) return drain_marking(budget, deadline);
  // kCheckmark: with the world stopped, alone.
  const HeapView heap = HeapView::now();
  for (std::uintptr_t object; work_.pop(object);) {
    set_root_source("the object", object);
    scan_object<SlotUse::kShade>(heap, heap.span_of(object), object);
  }
  return true;
}

bool Marker::drain_turn(std::int64_t budget) {
  return drain(budget < kMarkTurnBytes ? budget : kMarkTurnBytes, now_ns() + kMarkTurnNs);
}

// kMark's drain: the loop where a mark spends its time, with the object ring, the scan and the
// shade ring inline in it, since calls between them cost a quarter of the instructions per object
// (docs/design.md, "The mark loop inline").
bool Marker::drain_marking(std::int64_t budget, std::int64_t deadline) {
  if (inert_) return true;  // the mark is over; the queue may hold the next one's work
  const HeapView heap = HeapView::now();
  const std::int64_t start = scanned_bytes_;
  unsigned scanned = 0;
  for (;;) {
    std::uintptr_t object;
    if (!next_to_scan(heap, object)) {
      MarkChunk* c = grey_queue_take();
      if (c == nullptr) return true;
      work_.adopt(c);
      continue;
    }
    unsigned objects = 1;
    if (object & kSpanEntry)
      objects = scan_span(heap, object & ~kSpanEntry);
    else
      scan_object<SlotUse::kQueueShade>(heap, heap.span_of(object), object);
    // After every entry: an oblet is up to 32 KiB of pointers, a span up to 32 KiB of objects, and
    // an assist's budget is small.
    if (scanned_bytes_ - start >= budget) return false;
    // Every 32 objects, not entries: one span's entry may scan two thousand, and a stop that waits
    // for this turn's critical section waited for 32 of them (gctrace: stops of 1.6-3.7 ms).
    if ((scanned += objects) >= 32) {
      scanned = 0;
      if (grey_queue_hungry()) {
        if (MarkChunk* half = work_.split_half()) grey_queue_put(half);
      }
      if (deadline != kNoDeadline && turn_over(deadline)) return false;
    }
  }
}

unsigned Marker::scan_span(const HeapView& heap, std::uintptr_t object) {
  Span* const s = heap.span_of(object);
  // Idle before the mark bits are read: a bit set after this read finds it idle and queues the
  // span again (marker.hpp).
  if (s->mark_queued.exchange(kSpanIdle, std::memory_order_seq_cst) == kSpanOneGrey) {
    // No shade found the flag one grey after `object` queued the span, so `object` is the only
    // grey object this entry owes: a bit set since was set by a shade that will find the flag
    // idle and queue the span again. It is scanned alone, with no pass over the bitmaps (each
    // node of a linked list queues its span alone). Another marker's pass over the span may have
    // taken it already.
    if (!set_bit(s->scanned_bits, s->slot_index(object))) return 0;
    scan_object<SlotUse::kQueueShade>(heap, s, object);
    return 1;
  }
  const std::uint32_t words = s->slot_words();
  unsigned objects = 0;
  for (std::uint32_t w = 0; w < words; ++w) {
    std::uint64_t grey = s->mark_bits[w].load(std::memory_order_seq_cst) &
                         ~s->scanned_bits[w].load(std::memory_order_relaxed);
    if (grey == 0) continue;
    // Another marker scanning this span now takes the bits it set first.
    grey &= ~s->scanned_bits[w].fetch_or(grey, std::memory_order_relaxed);
    objects += count_ones(grey);
    for (; grey != 0; grey &= grey - 1)
      scan_object<SlotUse::kQueueShade>(
          heap, s, s->slot_base(w * 64 + static_cast<std::uint32_t>(std::countr_zero(grey))));
  }
  return objects;
}

// A large object is scanned in oblets of this many bytes (Go's maxObletBytes is 128 KiB): the
// object's base stands for its first oblet and queues the others as interior addresses, so that
// one huge array is many units of work, shared between markers and within an assist's budget.
constexpr std::uintptr_t kObletBytes = 32 * 1024;

// Objects of one layer are all in `layer`; what they grey goes to work_, the next layer.
void Marker::drain_by_layers() {
  const HeapView heap = HeapView::now();
  MarkStack layer;
  for (;;) {
    work_.give_all([&](MarkChunk* c) { layer.adopt(c); });
    std::uintptr_t object;
    if (!layer.pop(object)) return;
    do {
      Span* s = heap.span_of(object);
      set_root_source("the object", object);
      source_object_ = s->base + (object - s->base) / object_size(s) * object_size(s);
      scan_object<SlotUse::kShadeNamingSlot>(heap, s, object);
    } while (layer.pop(object));
  }
}

template <Marker::SlotUse kUse>
[[gnu::always_inline]] inline void Marker::scan_object(const HeapView& heap, Span* s,
                                                       std::uintptr_t object) {
  const auto visit = [&](std::uintptr_t slot) {
    if constexpr (kUse == SlotUse::kShadeNamingSlot) source_address_ = slot;
    const std::uintptr_t value =
        std::atomic_ref<std::uintptr_t>(*reinterpret_cast<std::uintptr_t*>(slot))
            .load(std::memory_order_relaxed);
    if constexpr (kUse == SlotUse::kQueueShade)
      queue_shade(heap, value);
    else
      shade(value);
  };
  std::uintptr_t bytes = object_size(s);
  if (bytes <= 64 * 8) {
    // A small object: its bits are in one pointer-bitmap word, or two.
    scanned_bytes_ += static_cast<std::int64_t>(bytes);
    for (std::uint64_t bits =
             small_object_pointer_bits((object - heap.lo) / 8, static_cast<unsigned>(bytes / 8),
                                       [](std::uintptr_t word) { return pointer_bits_of(word); });
         bits != 0; bits &= bits - 1)
      visit(object + static_cast<std::uintptr_t>(std::countr_zero(bits)) * 8);
    return;
  }
  if (bytes > kObletBytes) {
    const std::uintptr_t end = s->base + bytes;
    if (object == s->base)
      for (std::uintptr_t oblet = object + kObletBytes; oblet < end; oblet += kObletBytes)
        work_.push(oblet);
    bytes = end - object < kObletBytes ? end - object : kObletBytes;
  }
  scanned_bytes_ += static_cast<std::int64_t>(bytes);
  for_each_pointer_word(object, bytes, [&](std::uintptr_t word, std::uint64_t mask) {
    const std::uintptr_t first_slot = heap.lo + word * 64 * 8;
    for (std::uint64_t bits = pointer_bits_of(word) & mask; bits != 0; bits &= bits - 1)
      visit(first_slot + std::countr_zero(bits) * 8);
  });
}

// Reads words that belong to other threads' stacks, redzones and all: not instrumented.
__attribute__((no_sanitize("address", "thread"))) __attribute__((noinline)) void
Marker::scan_conservative(std::uintptr_t lo, std::uintptr_t hi, const char* what) {
  lo = (lo + 7) & ~std::uintptr_t{7};
  from_stack_ = true;
  // From the top down: on a stack, the outer frames first. Only a path cares (kPath takes the first
  // word that reaches an object): a pointer a caller keeps in its frame is named rather than the
  // copy of it that a callee saved with the registers it spilled.
  for (std::uintptr_t words = hi > lo ? (hi - lo) / 8 : 0; words-- > 0;) {
    const std::uintptr_t p = lo + words * 8;
    const std::uintptr_t word = *reinterpret_cast<const volatile std::uintptr_t*>(p);
    if (mode_ != Mode::kMark) {
      if (word == ignored_word_ && p - ignored_lo_ < ignored_hi_ - ignored_lo_) continue;
      set_root_source(what, p);
    }
    shade(word);
  }
  from_stack_ = false;
}

void Marker::report_missed(Span* s, std::uint32_t index) {
  os::fatal(
      "gccheckmark: object %p (size class %zu, %zu bytes, span %p) is reachable but the "
      "mark left it white; reached from %s at %p",
      reinterpret_cast<void*>(s->slot_base(index)), span_class_size_class(s->span_class),
      static_cast<std::size_t>(object_size(s)), reinterpret_cast<void*>(s->base), source_,
      reinterpret_cast<void*>(source_address_));
}

}  // namespace gc::detail
