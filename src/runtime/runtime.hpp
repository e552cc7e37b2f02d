// Starting the library: the first slow path on any thread calls ensure_runtime(), which reads the
// environment, reserves the heap, installs the stop signal and starts the pacer's state, once.
#pragma once

namespace gc::detail {

void ensure_runtime();

// The CPUs this process may run on, read once (sysconf reads a file under /sys: far too slow for
// a pause).
int cpu_count();

}  // namespace gc::detail
