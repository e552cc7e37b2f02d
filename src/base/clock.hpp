// Clocks and the CPU count, read by every layer: the pacer's rates, the pauses' durations, the
// stop-the-world's timeouts.
#pragma once

#include <cstdint>

namespace gc::detail {

// The CPUs this process may run on, read once (sysconf reads a file under /sys: far too slow for
// a pause).
int cpu_count();

// The steady clock, and the calling thread's CPU time, in nanoseconds.
std::int64_t now_ns();
std::int64_t thread_cpu_ns();

}  // namespace gc::detail
