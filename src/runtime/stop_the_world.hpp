// Stopping the world: bringing every registered thread to a halt with its stack scannable.
//
// The world epoch is odd while a stop is in progress. To stop, the collector makes it odd and
// raises `g_safepoint_pending`; running threads park at their next safepoint, and threads in
// blocking regions are claimed where they are. A thread that has not stopped after about a
// millisecond (a loop that never reaches a safepoint, a system call without a blocking region) is
// sent the stop signal, and parks in the signal handler; its registers are in the signal frame on
// its own stack. The signal is installed with SA_RESTART, so interrupted system calls resume.
// Nothing waits forever for a thread: a blocked thread is stopped by the signal's delivery, not by
// its cooperation.
//
// To restart, the collector makes the epoch even and wakes the futex that parked threads sleep on.
#pragma once

#include <cstdint>

#include "runtime/thread_registry.hpp"

namespace gc::detail {

struct StopStats {
  std::int64_t stop_ns = 0;     // from the request until every thread had stopped
  std::uint32_t signalled = 0;  // threads that needed the signal
  std::uint32_t threads = 0;    // registered threads, the collector included
};

// Stops every registered thread but the caller, and locks the registry until start_the_world.
StopStats stop_the_world();
void start_the_world();

// Installs the stop signal's handler (once, at runtime start).
void install_stop_signal(int signal_number);

}  // namespace gc::detail
