// The pointer bits of an object under construction, set without atomic instructions.
//
// Every gc::ptr slot in the managed heap has its bit in the pointer bitmap set while it exists
// (barrier.hpp). Other threads may set or clear the bits of neighbouring objects in the same
// bitmap word, so each change is an atomic read-modify-write: a locked instruction that costs about
// as much as the rest of a small allocation. gc::make knows which object it is constructing, so
// while the constructor runs, a slot born in that object sets its bit in a word of the thread's
// own (t_mutator.fresh_bits), and gc::make ORs them into the bitmap when the constructor returns:
// one atomic instruction per object (two when it straddles two bitmap words), not one per slot.
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
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

inline constexpr std::size_t kFreshObjectMaxBytes = 64 * sizeof(std::uintptr_t);

// ORs the thread's fresh bits, those of the object at `lo`, into the pointer bitmap.
inline void publish_fresh_bits(MutatorState& m, std::uintptr_t lo) {
  const std::uint64_t bits = m.fresh_bits;
  m.fresh_bits = 0;
  if (bits == 0) return;
  const std::uintptr_t index = (lo - g_heap.lo.load(std::memory_order_relaxed)) / 8;
  const unsigned shift = index % 64;
  // Release: a marker that sees a bit (acquire) also sees the construction so far.
  g_heap.pointer_bits[index / 64].fetch_or(bits << shift, std::memory_order_release);
  if (shift != 0 && (bits >> (64 - shift)) != 0)
    g_heap.pointer_bits[index / 64 + 1].fetch_or(bits >> (64 - shift), std::memory_order_release);
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
  publish_fresh_bits(m, m.fresh_lo.load(std::memory_order_relaxed));
  std::atomic_signal_fence(std::memory_order_seq_cst);
  set_fresh_range(m, 0, 0);
}

// Around a constructor that gc::make runs: the object is the thread's object under construction
// from here until publish(), or until an exception unwinds past it (then its bits are dropped: the
// members the constructor finished have died and cleared theirs).
class FreshObject {
 public:
  FreshObject(void* object, std::size_t bytes) noexcept
      : hidden_lo_(~reinterpret_cast<std::uintptr_t>(object)) {
    // This object lives in gc::make's frame: its address names the stack, and so the thread.
    MutatorState& m = mutator_for_frame(this);
    hidden_outer_lo_ = ~m.fresh_lo.load(std::memory_order_relaxed);
    outer_size_ = m.fresh_size.load(std::memory_order_relaxed);
    if (outer_size_ != 0) publish_fresh_bits(m, ~hidden_outer_lo_);
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
      publish_fresh_bits(m, lo);
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
  bool done_ = false;
};

}  // namespace gc::detail
