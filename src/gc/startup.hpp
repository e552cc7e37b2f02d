// Starting the library: the first thread to register calls ensure_runtime(), which reads the
// environment, reserves the heap, installs the stop signal and the fork handlers, and configures
// the pacer, once.
#pragma once

namespace gc::detail {

void ensure_runtime();

}  // namespace gc::detail
