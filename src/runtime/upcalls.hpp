// What the thread runtime asks of the layers above it.
//
// The runtime (threads, safepoints, blocking regions, stops of the world) sits below the heap and
// the collector and includes none of their headers. It still has to call up at a few points: when
// the first thread arrives (start the library), when a thread joins or leaves (stack-scan
// bookkeeping, giving back its cached spans and barrier buffer), when a safepoint or the stop
// signal finds a stack scan due, and when a thread leaves a blocking region while the collector
// scans its stack. Those calls are declared here and defined by the collector (src/gc), so that
// this file is the runtime's whole view upward, as the heap's collector.hpp is the heap's.
#pragma once

#include <cstdint>

namespace gc::detail {

struct ThreadRecord;

// gc/startup.cpp: sets the library up (once) and makes sure its destructor thread runs; every
// registration of a thread calls it.
void ensure_runtime();

// gc/startup.cpp: the calling thread is leaving (its pthread key's destructor): its cached spans
// and its barrier buffer go back. Outside critical sections, before it leaves the registry.
void release_exiting_thread(ThreadRecord* r);

// gc/startup.cpp: in the child after fork(), registry locked: a thread that did not survive the
// fork gives back its cached spans (it may have been inside the allocation fast path; it never
// resumes, so its cache is consistent enough).
void release_vanished_thread(ThreadRecord* r);

// gc/stack_scan.cpp: the stack-scan bookkeeping of a concurrent mark (stack_scan.hpp).
// Registry locked: a thread joins (its stack counts as scanned during a mark) or leaves (counted
// as scanned if it was due).
void stack_scan_on_register(ThreadRecord* r);
void stack_scan_on_exit(ThreadRecord* r);
// The calling thread scans its own stacks within `extent` (stop_the_world.hpp), if it is due: from
// safepoint_slow and from the stop signal's handler, outside critical sections. A scan that is due
// is timed as GcTimeKind::kStackScan; one that is not reads no clock.
struct StackExtent;
void scan_own_stack(const StackExtent& extent);
// A thread leaving a blocking region or a park waits here while the collector scans its stack.
void wait_for_stack_scan(ThreadRecord* r);
// scan_own_stack, for a thread on its way out of a park, with the extent it parked with.
void scan_own_stack_early(const StackExtent& extent);

}  // namespace gc::detail
