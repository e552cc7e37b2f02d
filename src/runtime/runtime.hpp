// Starting the library: the first slow path on any thread calls ensure_runtime(), which reads the
// environment, reserves the heap, installs the stop signal and starts the pacer's state, once.
#pragma once

#include <cstdint>

namespace gc::detail {

void ensure_runtime();

// The CPUs this process may run on, read once (sysconf reads a file under /sys: far too slow for
// a pause).
int cpu_count();

// The steady clock, and the calling thread's CPU time, in nanoseconds.
std::int64_t now_ns();
std::int64_t thread_cpu_ns();

}  // namespace gc::detail
