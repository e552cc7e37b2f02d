// Clocks, read by every layer: the pacer's rates, the pauses' durations, the stop-the-world's
// timeouts. The CPU count is in base/cpus.hpp.
#pragma once

#include <cstdint>

namespace gc::detail {

// The steady clock, and the calling thread's CPU time, in nanoseconds.
std::int64_t now_ns();
std::int64_t thread_cpu_ns();

}  // namespace gc::detail
