// The scavenger: a background thread that returns idle pages to the OS, as Go's does.
//
// After each cycle the collector sets the goal for retained memory (committed minus released):
// the heap goal plus 10%, and under a memory limit at most 95% of the limit. While the heap
// retains more, the scavenger releases the highest-addressed idle pages, 64 KiB at a time, and
// keeps to about 1% of one CPU: after each millisecond of work it sleeps for 99. Above the memory
// limit itself it does not sleep: the limit is a promise to the operator, the pacing is not. Pages
// released when a new span would cross the limit are the page heap's own ("eager") work.
#pragma once

#include <cstddef>

namespace gc::detail {

// Sets the retained-memory goal and wakes the scavenger if the heap is above it; the memory limit
// is the page heap's retained limit. Called outside any critical section (the first call starts the
// thread).
void set_scavenger_goal(std::size_t retained_goal);

// For GODEBUG=scavtrace=1: bytes released in the background since the last call.
std::size_t take_background_released();

// In the child after fork(): the scavenger thread did not survive; the next goal starts another.
void forget_scavenger_after_fork();

}  // namespace gc::detail
