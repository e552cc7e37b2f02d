// Stack scanning during a concurrent mark: each thread's stack is scanned once per cycle, after
// mark start, and never rescanned (the hybrid barrier makes one scan enough, detail/barrier.hpp).
//
// Who scans a stack:
//   - the thread itself, at its next safepoint after mark start: mark start raises the "scan
//     stacks" bit of g_safepoint_pending, so an allocating thread gets there within one object;
//   - the collector, while the thread is inside a blocking region: the thread cannot touch its
//     stack above the region's frame until it leaves, and leaving waits for the scan to end;
//   - the thread, in the stop signal's handler, when it has not reached a safepoint within a
//     millisecond (a loop that neither allocates nor polls); a signal that lands inside a critical
//     section is deferred to the section's end, as for a stop.
// The thread's scan lock decides between the thread and the collector: the collector takes it and
// then checks that the thread is still in its region; a thread leaving its region publishes that
// first and then waits for the lock to be free. Both sides use sequentially consistent operations,
// so at least one of them sees the other.
//
// Threads that register during a mark start with a scanned (empty) stack; a thread that exits
// unscanned is counted as scanned, since its stack dies with it, and is never due again (it still
// passes a safepoint after leaving the registry). Mark termination waits for stacks_pending to
// reach zero.
#pragma once

#include <cstdint>

#include "runtime/thread_registry.hpp"
#include "runtime/upcalls.hpp"  // scan_own_stack, wait_for_stack_scan, stack_scan_on_*

namespace gc::detail {

// Mark start, world stopped and registry locked: every registered thread's stack is due.
void begin_stack_scans();
// Stacks not yet scanned this cycle.
int stacks_pending();

// The collector scans the stacks of due threads inside blocking regions, and sends the stop signal
// to due threads that have been running for more than a millisecond without scanning.
void scan_or_prod_stacks(int stop_signal);
// Mark termination: the "scan stacks" safepoint request is over.
void end_stack_scans();

}  // namespace gc::detail
