// The pointer bits of the object under construction, set without a locked instruction.
//
// Every gc::ptr slot in the managed heap has its bit in the pointer bitmap set while it exists
// (barrier.hpp). Other threads may set or clear the bits of neighbouring objects in the same
// bitmap word, so a slot's change is an atomic read-modify-write: a locked instruction that costs
// about as much as the rest of a small allocation. But the bitmap has an owned half that only the
// thread whose cache owns a span writes (heap_range.hpp), and gc::make knows which object it is
// constructing and from which span: while the constructor runs, a slot born in that object sets
// its bit with a plain load and store of the owned half, as long as the thread's cache still owns
// the span (a gc::make or a collection inside the constructor may have given it back; then the
// slot takes the atomic path, like every other).
//
// Invariant: a thread's range, while its size is not zero, names an object in the span that the
// thread's cache holds for the object's span class. A range is set only where the cache holds the
// object's span: known when the slot came off the inline fast path with nothing since that may
// park the thread (detail/alloc.hpp, NewObject), checked otherwise (the allocation may have parked
// the thread before the constructor starts, and a pause taken the span); whatever takes that span
// out of the cache later drops the range first (drop_fresh_object_of_class: the refill of the
// class, and the flush of the cache at a stop of the world, at thread exit or in a forked child);
// and a range that comes back after a nested gc::make is checked against the cache before it is
// restored. So a slot needs only the range test; the cache is consulted at most once per object.
//
// The bit is set when the slot is born, not later: a deferred bit (one word of them per object,
// set when the constructor returns, as this file once did) raced with another thread that the
// constructor had handed `this` to, destroying and rebuilding the member before the deferred bit
// landed, and the two writes could cancel (docs/design.md, "Pointer bits without a locked
// instruction"). Set at once, a slot's bit changes in the order the program orders its births and
// deaths, which is what the two halves need.
//
// Nesting: a gc::make inside a constructor takes the range for its own object and gives the outer
// one back when it is done. A fiber switch drops the range (gc/fibers.cpp): the constructor that
// resumes later, on this thread or another, sets its remaining bits atomically, and its gc::make
// leaves alone the range of the thread it finishes on. Large objects (a span of their own, no
// cache owns it) set theirs atomically too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

// Whether the calling thread's cache owns the span of `addr`, an object it is building (so its
// span is live), as `m.alloc[span_class]`. Only the thread itself changes the answer: its cache
// gives a span back on its own thread, at a stop of the world while it is parked at a safepoint or
// inside a blocking region, or when it exits or vanishes in a fork; there is no safepoint or
// blocking region between this test and the store it guards. (A signal handler that ran gc::make
// in between would break the allocation fast path first: neither is reentrant.)
[[gnu::always_inline]] inline bool cache_owns(const MutatorState& m, std::uint8_t span_class,
                                              std::uintptr_t addr) {
  const Span* s = m.alloc[span_class];  // g_empty_span holds no address
  return addr - s->base < std::uintptr_t{s->nelems} * s->elem_size;
}

// Size first and last: a reader that finds the size non-zero finds the start that goes with it.
// `m` has no range (size 0) when this begins.
[[gnu::always_inline]] inline void set_fresh_range_from_none(MutatorState& m, std::uintptr_t lo,
                                                             std::uintptr_t size) {
  m.fresh_lo.store(lo, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m.fresh_size.store(size, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
[[gnu::always_inline]] inline void set_fresh_range(MutatorState& m, std::uintptr_t lo,
                                                   std::uintptr_t size) {
  m.fresh_size.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  set_fresh_range_from_none(m, lo, size);
}

// Whether the pointer bit of `slot`, in the heap, may be set with a plain store into the owned
// half: it lies in the object this thread is constructing, whose span this thread's cache owns
// (the invariant above). Atomics, relaxed: `m` is t_mutator, which a compiler that kept its
// address from before a fiber switch moved this code to another thread would make the first
// thread's (mutator_for_frame; docs/design.md, "Known limits", says what that would cost).
[[gnu::always_inline]] inline bool owns_fresh_slot(const MutatorState& m, const void* slot) {
  return reinterpret_cast<std::uintptr_t>(slot) - m.fresh_lo.load(std::memory_order_relaxed) <
         m.fresh_size.load(std::memory_order_relaxed);
}

// Drops the range of the object under construction, if any (a fiber switch). The start goes too:
// `m` is thread-local storage, scanned as a root, and an address left there would keep the object
// alive after every gc::ptr to it is gone.
[[gnu::always_inline]] inline void drop_fresh_object(MutatorState& m) {
  m.fresh_size.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m.fresh_lo.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Drops the range if its object is in the span that `m`'s cache holds for `span_class`, which is
// about to leave the cache. For the owner thread, or for a thread parked where the world is
// stopped.
inline void drop_fresh_object_of_class(MutatorState& m, std::uint8_t span_class) {
  if (m.fresh_size.load(std::memory_order_relaxed) != 0 &&
      cache_owns(m, span_class, m.fresh_lo.load(std::memory_order_relaxed)))
    drop_fresh_object(m);
}

// Around a constructor that gc::make runs: the object is the thread's object under construction
// from here until this is destroyed, when the constructor has returned or thrown.
class FreshObject {
 public:
  // `span_class` is the object's: the thread's cache held its span when it allocated the object.
  // `cache_owns_span`: it still does for certain (detail/alloc.hpp, NewObject), so the cache need
  // not be asked.
  [[gnu::always_inline]] FreshObject(void* object, std::size_t bytes, std::uint8_t span_class,
                                     bool cache_owns_span) noexcept
      : hidden_lo_(~reinterpret_cast<std::uintptr_t>(object)) {
    // gc::make's frame names the stack, and so the thread. Asked even when the span is known to be
    // owned: the fast path reaches the cache fs-relative, but a t_mutator address this function
    // computed before a fiber switch may name another thread.
    MutatorState& m = mutator_for_frame(stack_pointer_here());
    // Otherwise the allocation may have parked the thread since it took the slot (its slow path
    // may start a cycle, and its heap-profile sample ends a critical section), and a pause may
    // have taken the span from the cache: then this object gets no range, its slots set their bits
    // atomically, and an outer object keeps its own.
    if (!cache_owns_span && !cache_owns(m, span_class, ~hidden_lo_)) [[unlikely]]
      return;
    outer_size_ = m.fresh_size.load(std::memory_order_relaxed);
    if (outer_size_ != 0) [[unlikely]] {
      hidden_outer_lo_ = ~m.fresh_lo.load(std::memory_order_relaxed);
      set_fresh_range(m, ~hidden_lo_, bytes);
      return;
    }
    set_fresh_range_from_none(m, ~hidden_lo_, bytes);
  }
  FreshObject(const FreshObject&) = delete;
  FreshObject& operator=(const FreshObject&) = delete;

  // The constructor has returned, or thrown.
  [[gnu::always_inline]] ~FreshObject() {
    // A fiber switch since the constructor began dropped the range, and the thread's range now
    // (none, or what it was given after the switch) is not ours to touch: the outer object, if
    // any, lost its range in the same switch. The test holds even when `m` is another thread's,
    // left by a fiber that moved to this one (mutator_for_frame): no thread's range names this
    // object after a switch, and none ever names an object that got no range.
    MutatorState& m = t_mutator;
    if (m.fresh_lo.load(std::memory_order_relaxed) != ~hidden_lo_) return;
    if (outer_size_ == 0) [[likely]] {
      drop_fresh_object(m);
      return;
    }
    restore_outer(m);
  }

 private:
  // The outer object's span may have left the cache while this one was built (the invariant
  // above): then the outer object finishes on the atomic path. Its span lives: the object in it
  // is still being built.
  [[gnu::cold, gnu::noinline]] void restore_outer(MutatorState& m) noexcept {
    const std::uintptr_t outer_lo = ~hidden_outer_lo_;
    if (!cache_owns(m, span_of(outer_lo)->span_class, outer_lo)) [[unlikely]] {
      drop_fresh_object(m);
      return;
    }
    set_fresh_range(m, outer_lo, outer_size_);
  }

  // The addresses complemented: this object lives in gc::make's frame, and a frame's dead words
  // linger on the stack under later frames, where the conservative scan would read an address as
  // a pointer and keep a dead object (and all it reaches) alive.
  std::uintptr_t hidden_lo_;
  // The outer object's range: read only when this object got a range of its own (the destructor's
  // test), and so written by then; its start only when its size is not zero.
  std::uintptr_t hidden_outer_lo_;
  std::uintptr_t outer_size_;
};

}  // namespace gc::detail
