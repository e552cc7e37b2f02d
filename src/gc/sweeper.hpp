// Sweeping: turning a span's mark bits into its allocation bits after a cycle.
//
// The heap's sweep generation `g_sweepgen` (heap/collector.hpp) moves by two at every mark
// termination, with the world stopped. A span whose sweepgen equals it is swept; sweepgen - 1 means
// someone is sweeping it right now; anything older means it needs sweeping. Sweeping takes a
// SweepClaim, which only the compare-and-swap to sweepgen - 1 makes, so a span is swept by exactly
// one thread.
//
// Sweeping a span: every allocated slot that is not marked is dead. A dead object without a
// destructor is freed at once (its pointer bits are cleared); a dead object with a destructor
// becomes a zombie — it stays allocated, and is queued for the destructor thread, which runs the
// destructor and then frees the slot (src/gc/destructors.cpp). Sweeping never runs user code, so
// any thread may sweep, at any depth, holding any lock of its own. A span left with no object goes
// back to the page heap.
//
// The background sweeper sweeps every span the allocating threads did not need first. The next
// cycle's sweep termination finishes whatever is left before its mark starts; a span that a thread
// kept cached, unswept, through that has its old mark bits cleared at mark start (cycle.cpp,
// prepare_spans_for_mark) and is swept with the new mark's bits.
#pragma once

#include <atomic>
#include <cstdint>

#include "heap/collector.hpp"  // g_sweepgen, SweepClaim, sweep_span, process_specials

namespace gc::detail {

// Sweeps a few spans that need it, all of one size class (a batch: sweeper.cpp says how many);
// false when none is left.
bool sweep_batch();

// Sweeps until no span is left unswept, and waits for sweeps other threads have under way.
void finish_sweeping();

// Starts the background sweeper thread (once), and wakes it after a cycle.
void wake_background_sweeper();

// In the child after fork(): the sweeper thread did not survive; the next cycle starts another.
void forget_background_sweeper_after_fork();

// Called at mark termination: every span class has unswept spans again.
void reset_sweep_cursor();

}  // namespace gc::detail
