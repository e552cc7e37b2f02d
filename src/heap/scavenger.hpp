// The scavenger: a background thread that returns idle pages to the OS, as Go's does.
//
// After each cycle the collector sets two goals, Go's: the memory the heap retains (committed
// minus released) at most the heap goal plus 10%, and, under a memory limit, everything the library
// holds ready for use (what the limit counts: the heap's retained pages, its bookkeeping, arena
// chunks) at most 95% of the limit. While either is exceeded, the scavenger releases the
// highest-addressed idle pages, 64 KiB at a time, and keeps to about 1% of one CPU: after each
// millisecond of work it sleeps for 99. Above the memory limit itself it does not sleep: the limit
// is a promise to the operator, the pacing is not. Only idle heap pages can go: the bookkeeping
// is kept for reuse, so a total over its goal with no idle page left is where the scavenger stops.
// Pages released when an allocation leaves the total over the limit are the page heap's own
// ("eager") work.
#pragma once

#include <cstddef>

namespace gc::detail {

// Sets the goals (SIZE_MAX: none) and wakes the scavenger if either is exceeded; the memory limit
// is the page heap's. Called outside any critical section (the first call starts the thread).
void set_scavenger_goal(std::size_t retained_goal, std::size_t ready_goal);

// For GODEBUG=scavtrace=1: bytes released in the background since the last call.
std::size_t take_background_released();

// In the child after fork(): the scavenger thread did not survive; the next goal starts another.
void forget_scavenger_after_fork();

}  // namespace gc::detail
