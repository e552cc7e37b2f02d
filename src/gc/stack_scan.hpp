// Stack scanning during a concurrent mark: each thread's stack is scanned once per cycle, after
// mark start, and never rescanned (the hybrid barrier makes one scan enough, detail/barrier.hpp).
//
// Who scans a stack:
//   - nobody, for a thread inside an IdleScope at mark start (a library thread between two rounds,
//     the scavenger asleep): its stack holds no object, and mark start counts it as scanned;
//   - the thread that started the mark, right after the stop and before it wakes the mark
//     controller: its own stack, then the stopped threads' (in blocking regions, or not yet back
//     from the stop's park), each that fits in what is left of kAfterMarkStartScanBytes. Until the
//     last stack is scanned the whole program pays: every allocation of every thread takes the
//     slow path to its safepoint, and every store shades the value it stores. Left to the
//     controller, which may wait milliseconds for a CPU once woken when every CPU runs a mutator,
//     that lasted 1.2 ms a cycle on average in binary-trees with two threads on two CPUs;
//   - the thread itself, at its next safepoint after mark start: mark start raises the "scan
//     stacks" bit of g_safepoint_pending, so an allocating thread gets there within one object;
//     or on its way out of mark start's park, while its registers are still spilled where the
//     park found them;
//   - the collector, while the thread is stopped: inside a blocking region, or still parked by a
//     stop (woken, but not yet back on a CPU). The thread cannot touch its stack above the
//     region's frame or its park's until it leaves, and leaving waits for the scan to end;
//   - the thread, in the stop signal's handler, when it has not reached a safepoint within a
//     millisecond (a loop that neither allocates nor polls); a signal that lands inside a critical
//     section is deferred to the section's end, as for a stop.
// The thread's scan lock decides between the thread and the collector: the collector takes it and
// then checks that the thread is still stopped; a thread leaving its region or its park publishes
// that it runs first and then waits for the lock to be free. Both sides use sequentially
// consistent operations, so at least one of them sees the other.
//
// Suspended stacks (a fiber no thread runs on, or a thread's own stack while it runs a fiber) are
// scanned once a cycle as well, each under its StackRecord's scan lock: by the mark controller
// after the roots (gc/fibers.cpp), or by a thread switching to or away from one that is still due
// (gc::finish_switch_fiber), or at termination if a stack is still due then. So every stack that
// runs after its scan was scanned before it ran, as the hybrid barrier needs.
//
// Signal stacks: a thread stopped inside a handler on its alternate signal stack is scanned on
// both stacks (StackExtent, runtime/stop_the_world.hpp).
//
// Until its stack is scanned, a thread's `stack_unscanned` flag is up: a gc::ptr on that stack that
// lets go of its value shades it, since a thread whose stack is scanned may have copied it
// (gc/write_barrier.cpp).
//
// Threads that register during a mark count as scanned without being read: until the next mark
// their stores shade what they store (MutatorState::always_shade_stored). A fiber deleted before
// its scan is scanned by the deletion (gc/fibers.cpp). A thread that exits unscanned is counted as
// scanned, since its stack dies with it, and is never due again (it still passes a safepoint after
// leaving the registry). Mark termination waits for stacks_pending to reach zero.
#pragma once

#include <cstdint>

#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"
#include "runtime/upcalls.hpp"  // scan_own_stack, wait_for_stack_scan, stack_scan_on_*

namespace gc::detail {

class Marker;

// Scans the stacks of thread `r` within `extent`: [extent.sp, the top of the stack it runs on), its
// signal stack's live part if any, and, if `blocked` (inside a blocking region), the registers it
// saved on entering. `stack` and `registers` name them in a gccheckmark report.
void scan_thread_stacks(Marker& marker, const ThreadRecord* r, const StackExtent& extent,
                        bool blocked, const char* stack = "a stack",
                        const char* registers = "saved registers");
// The extent of a thread that is stopped (parked, or inside a blocking region).
StackExtent stopped_extent(const ThreadRecord* r);
// Scans a suspended stack: its frames above saved_sp and the registers its last switch saved.
void scan_suspended_stack(Marker& marker, const StackRecord* s, const char* what);
// Scans `s` if it is suspended and not yet scanned in `cycle`, and records that it was; false if
// it was not due, or its lock was taken (a thread switching to it will scan it).
bool scan_stack_if_due(Marker& marker, StackRecord* s, std::uint32_t cycle);

// Mark start, world stopped and registry locked: every registered thread's stack is due.
void begin_stack_scans();
// Stacks not yet scanned this cycle.
int stacks_pending();

// The collector scans the stacks of due threads that are stopped: inside blocking regions, or
// still parked by a stop.
void scan_stopped_stacks();
// Right after mark start's stop, by the thread that stopped the world, before it wakes the mark
// controller: its own stack (within `self_extent`, where its registers were spilled before the
// stop), then those of the stopped threads, up to kAfterMarkStartScanBytes of them (see the
// header). Skips the others if the registry's lock is taken.
inline constexpr std::uintptr_t kAfterMarkStartScanBytes = 64 * 1024;
void scan_stacks_after_mark_start(const StackExtent& self_extent);
// The same, and it sends the stop signal to due threads that have been running for more than a
// millisecond without scanning.
void scan_or_prod_stacks(int stop_signal);
// Mark termination, world stopped (so registry locked): the "scan stacks" safepoint request is
// over.
void end_stack_scans();

}  // namespace gc::detail
