// Sweeping: turning a span's mark bits into its allocation bits after a cycle.
//
// The heap's sweep generation `g_sweepgen` moves by two at every mark termination, with the world
// stopped. A span whose sweepgen equals it is swept; sweepgen - 1 means someone is sweeping it
// right now; anything older means it needs sweeping. Claiming a span for sweeping is a
// compare-and-swap to sweepgen - 1, so a span is swept by exactly one thread.
//
// Sweeping a span: every allocated slot that is not marked is dead. A dead object without a
// destructor is freed at once (its pointer bits are cleared); a dead object with a destructor
// becomes a zombie — it stays allocated, and is queued for the destructor thread, which runs the
// destructor and then frees the slot (src/gc/destructors.cpp). Sweeping never runs user code, so
// any thread may sweep, at any depth, holding any lock of its own. A span left with no object goes
// back to the page heap.
//
// The background sweeper sweeps every span the allocating threads did not need first; the next
// cycle's mark does not wait for it. A span still unswept when marking starts keeps its old mark
// bits and gains new ones: what it keeps alive is a superset of the truth, never less.
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

inline constinit std::atomic<std::uint32_t> g_sweepgen{4};

inline bool needs_sweep(const Span* s, std::uint32_t sweepgen) {
  const std::uint32_t v = s->sweepgen.load(std::memory_order_acquire);
  return v != sweepgen && v != sweepgen - 1;
}

// Claims a span for sweeping; false if it is swept or being swept.
inline bool try_claim_sweep(Span* s, std::uint32_t sweepgen) {
  std::uint32_t v = s->sweepgen.load(std::memory_order_acquire);
  while (v != sweepgen && v != sweepgen - 1) {
    if (s->sweepgen.compare_exchange_weak(v, sweepgen - 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

// Sweeps a claimed span that no cache owns and no list holds. Returns true if the span had no
// object left and went back to the page heap; otherwise the span is marked swept.
bool sweep_span(Span* s);

// Slot `index` of `s` is freed without a sweep (its constructor threw, or its destructor ran and
// registered a weak reference or cleanup on itself): if it has specials, clears its weak cells,
// queues its cleanups and clears its bit, so that nothing of them reaches the slot's next object.
// Inside a critical section.
void process_specials(Span* s, std::uint32_t index);

// Clears the pointer bits of [addr, addr + bytes).
void clear_pointer_bits(std::uintptr_t addr, std::size_t bytes);

// Sweeps one span that needs it, from any size class; false when none is left.
bool sweep_one();

// Sweeps until no span is left unswept, and waits for sweeps other threads have under way.
void finish_sweeping();

// Starts the background sweeper thread (once), and wakes it after a cycle.
void wake_background_sweeper();

// In the child after fork(): the sweeper thread did not survive; the next cycle starts another.
void forget_background_sweeper_after_fork();

// Called at mark termination: every span class has unswept spans again.
void reset_sweep_cursor();

}  // namespace gc::detail
