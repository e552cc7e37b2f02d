// The pointer bits of an object under construction, set without atomic instructions.
//
// Every gc::ptr slot in the managed heap has its bit in the pointer bitmap set while it exists
// (barrier.hpp). Other threads may set or clear the bits of neighbouring objects in the same
// bitmap word, so a slot's own change is an atomic read-modify-write: a locked instruction that
// costs about as much as the rest of a small allocation. gc::make knows which object it is
// constructing, so while the constructor runs, a slot born in that object sets its bit in a word of
// the thread's own (t_mutator.fresh_bits), and gc::make sets them in the bitmap when the
// constructor returns, with one plain store into the bitmap's owned word while the thread's cache
// still owns the span (heap_range.hpp), or one atomic instruction when it does not: never one per
// slot.
//
// Invariant: a slot whose bit is still only in fresh_bits is seen by every mark. The marker reads
// an object's slots through its bitmap bits, and it may scan the object under construction before
// they are published (the object is shaded at mark start as a stopped thread's newest slot, or a
// constructor stored `this` somewhere), while the thread's stack is scanned only after the
// constructor returned. So mark start reads every thread's object under construction
// conservatively (gc/cycle.cpp, prepare_spans_for_mark), a slot born after mark start shades its
// value through the barrier like any other, and the stopped-world marks (gcstoptheworld,
// gccheckmark, why_alive) read it with the thread's stacks (gc/stack_scan.cpp,
// scan_thread_stacks). So a mark that starts, or runs from start to end, inside the constructor
// (which may allocate, or call gc::collect()) loses nothing. The range is written in the order that
// keeps it true for a stop signal landing between any two instructions: bits published before the
// range moves away from an object.
//
// Nesting: a gc::make inside a constructor publishes the outer object's bits so far before it
// takes the range, and gives the range back, with no bits, when it is done. A fiber switch
// publishes the bits and drops the range (gc/fibers.cpp); the constructor that resumes later, on
// this thread or another, sets its remaining bits one by one, and its gc::make leaves alone the
// range of the thread it finishes on. Objects of more than 64 words set their bits one by one too.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

inline constexpr std::size_t kFreshObjectMaxBytes = 64 * sizeof(std::uintptr_t);

// Whether the calling thread's cache owns the span of `addr`, an object it is building (so its
// span is live), as `m.alloc[span_class]`. Only the thread itself changes the answer: its cache
// gives a span back on its own thread, or at a stop of the world while it is parked at a safepoint,
// and there is no safepoint between this test and the store it guards. (A signal handler that ran
// gc::make in between would break the allocation fast path first: neither is reentrant.)
inline bool cache_owns(const MutatorState& m, std::uint8_t span_class, std::uintptr_t addr) {
  const Span* s = m.alloc[span_class];  // g_empty_span holds no address
  return addr - s->base < std::uintptr_t{s->nelems} * s->elem_size;
}

// The same, for an object whose size class is not at hand.
inline bool cache_owns_span_of(const MutatorState& m, std::uintptr_t addr) {
  const Span* s = span_of(addr);
  return s != nullptr && cache_owns(m, s->span_class, addr);
}

// Sets the thread's fresh bits, those of the object at `lo`, in the pointer bitmap: with a plain
// store into the owned words when the thread's cache owns the object's span (`owned`, the common
// case), else atomically (heap_range.hpp).
inline void publish_fresh_bits(MutatorState& m, std::uintptr_t lo, bool owned) {
  const std::uint64_t bits = m.fresh_bits;
  m.fresh_bits = 0;
  if (bits == 0) return;
  std::uint64_t first_bit;
  const std::uintptr_t word = pointer_word_index(lo, first_bit);
  const unsigned shift = static_cast<unsigned>(std::countr_zero(first_bit));
  // An object of at most 64 words straddles at most two bitmap words, both in its span.
  const std::uint64_t low = bits << shift;
  const std::uint64_t high = shift != 0 ? bits >> (64 - shift) : 0;
  if (owned) [[likely]] {
    set_pointer_bits_owned(word, low);
    if (high != 0) set_pointer_bits_owned(word + 1, high);
  } else {
    set_pointer_bits_shared(word, low, /*set=*/true);
    if (high != 0) set_pointer_bits_shared(word + 1, high, /*set=*/true);
  }
}

// Size first and last: a reader that finds the size non-zero finds the start that goes with it.
inline void set_fresh_range(MutatorState& m, std::uintptr_t lo, std::uintptr_t size) {
  m.fresh_size.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m.fresh_lo.store(lo, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m.fresh_size.store(size, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Publishes the bits of the object under construction, if any, and drops the range.
inline void publish_and_drop_fresh_object(MutatorState& m) {
  if (m.fresh_size.load(std::memory_order_relaxed) == 0) return;
  const std::uintptr_t lo = m.fresh_lo.load(std::memory_order_relaxed);
  publish_fresh_bits(m, lo, cache_owns_span_of(m, lo));
  std::atomic_signal_fence(std::memory_order_seq_cst);
  set_fresh_range(m, 0, 0);
}

// Around a constructor that gc::make runs: the object is the thread's object under construction
// from here until publish(), or until an exception unwinds past it (then its bits are dropped: the
// members the constructor finished have died and cleared theirs).
class FreshObject {
 public:
  // `span_class` is the object's: the thread's cache held it when it allocated the object.
  FreshObject(void* object, std::size_t bytes, std::uint8_t span_class) noexcept
      : hidden_lo_(~reinterpret_cast<std::uintptr_t>(object)), span_class_(span_class) {
    // This object lives in gc::make's frame: its address names the stack, and so the thread.
    MutatorState& m = mutator_for_frame(this);
    hidden_outer_lo_ = ~m.fresh_lo.load(std::memory_order_relaxed);
    outer_size_ = m.fresh_size.load(std::memory_order_relaxed);
    if (outer_size_ != 0)
      publish_fresh_bits(m, ~hidden_outer_lo_, cache_owns_span_of(m, ~hidden_outer_lo_));
    std::atomic_signal_fence(std::memory_order_seq_cst);
    set_fresh_range(m, ~hidden_lo_, bytes);
  }
  FreshObject(const FreshObject&) = delete;
  FreshObject& operator=(const FreshObject&) = delete;

  void publish() noexcept { give_back(/*constructed=*/true); }
  ~FreshObject() {
    if (!done_) give_back(/*constructed=*/false);
  }

 private:
  void give_back(bool constructed) noexcept {
    done_ = true;
    // A fiber switch since the constructor began published the bits and dropped the range, and
    // the thread's range now (none, or what it was given after the switch) is not ours to touch:
    // the outer object, if any, lost its range in the same switch and sets its bits one by one.
    // The test holds even when `m` is another thread's, left by a fiber that moved to this one
    // (mutator_for_frame): no thread's range names this object after a switch.
    MutatorState& m = t_mutator;
    const std::uintptr_t lo = ~hidden_lo_;
    if (m.fresh_size.load(std::memory_order_relaxed) == 0 ||
        m.fresh_lo.load(std::memory_order_relaxed) != lo)
      return;
    if (constructed) {
      publish_fresh_bits(m, lo, cache_owns(m, span_class_, lo));
    } else {
      m.fresh_bits = 0;
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    set_fresh_range(m, ~hidden_outer_lo_, outer_size_);
  }

  // The addresses complemented: this object lives in gc::make's frame, and a frame's dead words
  // linger on the stack under later frames, where the conservative scan would read an address as
  // a pointer and keep a dead object (and all it reaches) alive.
  std::uintptr_t hidden_lo_;
  std::uintptr_t hidden_outer_lo_ = 0;
  std::uintptr_t outer_size_ = 0;
  std::uint8_t span_class_;
  bool done_ = false;
};

}  // namespace gc::detail
