// Stopping the world: bringing every registered thread to a halt with its stack scannable.
//
// The world epoch is odd while a stop is in progress. To stop, the collector makes it odd and
// raises `g_safepoint_pending`; running threads park at their next safepoint, and threads in
// blocking regions are claimed where they are. Every thread that has not stopped 5 µs after the
// stop was raised (a loop that never reaches a safepoint, a system call without a blocking region)
// is sent the stop signal at once, and parks in the signal handler; its registers are in the signal
// frame on its own stack. The signal is installed with SA_RESTART, so interrupted system calls
// resume. Nothing waits forever for a thread: a blocked thread is stopped by the signal's delivery,
// not by its cooperation.
//
// To restart, the collector makes the epoch even, gives the registry's lock back, and then wakes
// the futex that parked threads sleep on.
#pragma once

#include <cstdint>
#include <mutex>

#include "base/check.hpp"
#include "runtime/thread_registry.hpp"

namespace gc::detail {

struct StopStats {
  std::int64_t stop_ns = 0;     // from the request until every thread had stopped
  std::uint32_t signalled = 0;  // threads sent the signal in the stop's first pass
  std::uint32_t threads = 0;    // registered threads, the collector included
};

// Proof that the world is stopped. Only stop_the_world() makes one, and it holds the registry lock
// until start_the_world() takes it back; functions that need the world stopped (mark start, mark
// termination, the checkmark pass, flushing other threads' caches) take one by reference, so they
// cannot be called with the world running. Move-only; dropping one without restarting the world
// is a bug that internal checks catch.
class [[nodiscard]] WorldStopped {
 public:
  WorldStopped(WorldStopped&& other) noexcept
      : stats_(other.stats_), registry_(std::move(other.registry_)) {}
  WorldStopped& operator=(WorldStopped&&) = delete;
  WorldStopped(const WorldStopped&) = delete;
  ~WorldStopped() { TRICOLOR_DCHECK(!registry_.owns_lock(), "the world was left stopped"); }

  const StopStats& stats() const { return stats_; }

 private:
  friend WorldStopped stop_the_world();
  friend void start_the_world(WorldStopped&& world);
  explicit WorldStopped(std::unique_lock<Mutex> registry) : registry_(std::move(registry)) {}

  StopStats stats_;
  std::unique_lock<Mutex> registry_;
};

// Stops every registered thread but the caller, holding the registry lock until the world restarts.
WorldStopped stop_the_world();
void start_the_world(WorldStopped&& world);
// Tests: `hook` runs on the thread that restarts the world, after it has given the registry's lock
// back and before it wakes the parked threads (nullptr: none).
void set_restart_hook_for_test(void (*hook)());

// The thread's side, for safepoint.cpp. A stop is in progress (the world epoch is odd).
bool world_stopping();
// Where the live words of a thread that stops here are: [sp, the top of the stack it runs on), and,
// when it stops inside a signal handler on its alternate signal stack, that stack's live part
// [signal_lo, signal_hi) as well.
struct StackExtent {
  std::uintptr_t sp = 0;
  std::uintptr_t signal_lo = 0;
  std::uintptr_t signal_hi = 0;
};
// The extent of the calling thread's stacks, given the stack pointer `sp` of the frame that stops.
// A thread on a stack it did not announce (a fiber switched to without gc::start_switch_fiber)
// stops the program with a message saying so: scanning from `sp` would read the wrong memory.
// `in_signal_handler`: called from the stop signal's handler, which may have interrupted a handler
// running on an alternate stack that lies inside the thread's own stack (see stop_the_world.cpp).
StackExtent locate_stacks(const ThreadRecord* r, std::uintptr_t sp, bool in_signal_handler = false);
// Parks the calling thread for the stop in progress, if any; its registers must already be on its
// stacks within `extent`. `cooperative`: at a safepoint, not in the signal's handler.
void park(ThreadRecord* r, const StackExtent& extent, bool cooperative);
// Waits until the stop that claimed the calling thread is over, then marks it running again.
void wait_until_released(ThreadRecord* r);

// Installs the stop signal's handler (once, at runtime start).
void install_stop_signal(int signal_number);

}  // namespace gc::detail
