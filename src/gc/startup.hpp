// Starting the library: every thread's registration calls ensure_runtime(), which, the first time,
// reads the environment, reserves the heap, installs the stop signal and the fork handlers, and
// configures the pacer, and each time makes sure the destructor queue and thread exist.
#pragma once

namespace gc::detail {

void ensure_runtime();

}  // namespace gc::detail
