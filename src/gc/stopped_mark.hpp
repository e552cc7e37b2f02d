// Marking with the world stopped: the passes that do not run concurrently with the program.
//
//   - GODEBUG=gcstoptheworld: the whole mark in the pause of mark start (mark_from_roots_stopped).
//   - GODEBUG=gccheckmark: at termination, a second mark from scratch into the checkmark bits
//     (gc/checkmark_bits.hpp), which aborts at the first object a root or heap slot reaches that
//     the real mark left white (verify_mark; the report itself is the marker's, marker.hpp).
//   - The last attempt of a termination that keeps finding work: the stacks not yet scanned are
//     scanned in the pause (scan_due_stacks_stopped).
//
// Each pass reads every registered thread's stack from its published stack pointer (a thread in a
// blocking region: its saved registers too), the root set, each thread's tiny block and the
// toolbox's roots (the roots hook). The thread running the pause is scanned within `self_extent`,
// from just below the frame that spilled its callers' registers up (and its alternate signal stack
// too, when it runs a handler there): never the collector's own frames, whose dead slots hold
// whatever an earlier pass left there.
#pragma once

#include <cstdint>

#include "runtime/stop_the_world.hpp"

namespace gc::detail {

class Marker;

// Scans every thread's stack and the roots. The gccheckmark pass (a kCheckmark marker) skips the
// live stack of a thread inside a blocking region, which keeps running and may reuse its slots;
// the copy of its registers is scanned. A kCheckmark or kPath marker is told which thread's stack
// or registers each word comes from; only a kMark marker counts suspended stacks as scanned.
void mark_from_roots_stopped(const WorldStopped& world, Marker& marker, ThreadRecord* self,
                             const StackExtent& self_extent);

// gccheckmark: a second mark from scratch into the checkmark bits.
void verify_mark(const WorldStopped& world, ThreadRecord* self, const StackExtent& self_extent);

// Scans the stacks that the mark has not scanned yet, and ends the stack scans.
void scan_due_stacks_stopped(const WorldStopped& world, Marker& marker);

}  // namespace gc::detail
