// Fiber stacks (tricolor/fiber.hpp): the list of gc::fibers, and the scans of suspended stacks.
//
// A stack is suspended while no thread runs on it: a fiber between its switches, and a thread's own
// stack while the thread runs a fiber. The mark scans each suspended stack once a cycle
// (gc/stack_scan.hpp says who, and why once is enough).
#pragma once

#include <cstdint>

namespace gc::detail {

class Marker;

// The mark controller's pass after the roots: every suspended stack not yet scanned this cycle.
void scan_suspended_stacks(Marker& marker, std::uint32_t cycle);
// The same with the world stopped, without locks. `only_due`: skip those scanned this cycle;
// `record`: count the ones scanned as scanned (not for the gccheckmark pass, which only verifies).
void scan_suspended_stacks_stopped(Marker& marker, std::uint32_t cycle, bool only_due, bool record);

}  // namespace gc::detail
