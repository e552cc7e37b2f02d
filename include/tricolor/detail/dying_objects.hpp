// Dead objects that the destructor thread destroys in one call (src/gc/destructors.cpp, run_span).
//
// A dead object with a destructor is destroyed on the destructor thread. Called through a pointer
// one object at a time, the bookkeeping around each call (naming the object for a stall report
// and for its gc::ptr members, the call and return, a safepoint poll) cost more than the
// destructor of a small node itself. So gc::make gives each type two entry points
// (detail::Destructor, make.hpp): one for a single object, and destroy_some<Destroy>, which
// destroys the dead objects of one 64-slot word of one span in a loop that calls Destroy directly,
// so that the compiler inlines the type's destructor into it.
//
// Per object, in order, as the single path does: the object is named for a stall report, then in
// the thread's MutatorState (dying_lo, dying_size: its gc::ptr members die for nothing,
// detail/barrier.hpp); its destructor runs; the name is taken out of the MutatorState, which is
// thread-local storage and scanned as a root; its bit leaves `pending`; and the thread polls its
// safepoint, so that a stop of the world never waits for a whole batch.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

struct DyingObjects {
  // The address of slot 0 of the word, complemented: the caller's frame holds this while it
  // destroys other words and spans, and slot 0 may be any object, live or not, which the
  // conservative scan of that frame would keep alive.
  std::uintptr_t hidden_first = 0;
  std::uintptr_t size = 0;  // the span's slot size
  // The slots to destroy, bit i for the slot at first + i * size. Each bit is cleared once its
  // object is destroyed: what is left when the call returns was not.
  std::uint64_t pending = 0;
  unsigned budget = 0;  // destroy at most this many, then return
  // Where a stall report looks (gc/callback_queue.hpp): the object being destroyed, and the count
  // of destructors begun.
  std::atomic<const void*>* running = nullptr;
  std::atomic<std::uint64_t>* started = nullptr;
};

// Reports the exception a destructor threw, from inside the handler (src/gc/destructors.cpp).
void report_destructor_exception(const void* object) noexcept;

template <auto Destroy>
void destroy_some(DyingObjects& d) {
  MutatorState& m = t_mutator;
  // In locals, which the stores below (to thread-local storage, through pointers) cannot alias, so
  // that they stay in registers; `pending` goes back to `d` at the end. Only this thread writes
  // the count of destructors begun.
  const std::uintptr_t hidden_first = d.hidden_first;
  const std::uintptr_t size = d.size;
  const unsigned budget = d.budget;
  std::atomic<const void*>* const running = d.running;
  std::atomic<std::uint64_t>* const started = d.started;
  std::uint64_t pending = d.pending;
  std::uint64_t count = started->load(std::memory_order_relaxed);
  // The size is the same for every object of the word, so only the start changes from one to the
  // next, and between two objects the range is [0, size), where no gc::ptr lives. Stored together
  // each time, the two were one 16-byte store that each gc::ptr member's destructor then read back
  // as two 8-byte loads, the second of which the store could not forward: a stall per member.
  m.dying_size = size;
  for (unsigned n = 0; pending != 0 && n < budget; ++n) {
    // Opaque, so that the compiler cannot take ~hidden_first out of the loop and keep slot 0's
    // address plain in a register across the destructors and the safepoint polls.
    std::uintptr_t hidden = hidden_first;
    asm("" : "+r"(hidden));
    const std::uintptr_t object =
        ~hidden + static_cast<std::uintptr_t>(std::countr_zero(pending)) * size;
    running->store(reinterpret_cast<const void*>(object), std::memory_order_relaxed);
    started->store(++count, std::memory_order_release);
    m.dying_lo = object;
    if constexpr (noexcept(Destroy(nullptr))) {
      Destroy(reinterpret_cast<void*>(object));
    } else {
      try {
        Destroy(reinterpret_cast<void*>(object));
      } catch (...) {
        report_destructor_exception(reinterpret_cast<const void*>(object));
      }
    }
    m.dying_lo = 0;
    pending &= pending - 1;
    poll_safepoint();
  }
  m.dying_size = 0;
  d.pending = pending;
}

}  // namespace gc::detail
