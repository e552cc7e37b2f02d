// Safepoints, critical sections and blocking scopes: how a thread cooperates with stop-the-world.
//
// - A safepoint (poll_safepoint, gc::safepoint, allocation) parks the thread if a stop is pending.
// - A critical section brackets library code that holds internal locks or is in the middle of
//   updating shared heap structures. A stop signal that lands inside is remembered and honoured
//   when the outermost section ends, so the collector never finds a stopped thread holding a lock
//   it needs, or a half-updated root table. While a fork() is in progress no section begins
//   (fork.hpp), so the child never inherits a lock held by a thread that does not exist there.
// - A blocking scope brackets a wait (a lock the collector may hold, a condition variable, a system
//   call): the thread counts as stopped for its whole duration, and parks on the way out if a stop
//   is still in progress. Registers are spilled to the stack first, so the collector can scan it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

// Non-zero from just before a fork() until just after it (fork.cpp).
extern std::atomic<std::uint32_t> g_fork_in_progress;
void wait_for_fork_to_finish() noexcept;

// A section inside a section never waits for a fork: the outer one began before the fork's flag
// went up and may hold a lock the fork's handler waits for. (A registered thread is never inside a
// section when the flag goes up, since the world is stopped then; a thread that registers or exits
// is not stopped, and holds the registry's lock around the sections it begins.)
inline void begin_critical_section() noexcept {
  auto& depth = t_mutator.critical_depth;
  for (;;) {
    const int outer = depth.load(std::memory_order_relaxed);
    if (outer == 0 && g_fork_in_progress.load(std::memory_order_relaxed) != 0) [[unlikely]]
      wait_for_fork_to_finish();
    depth.store(outer + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // A stop between the test and the raised depth may have let a fork begin: test again, now that
    // no stop can fall between.
    if (outer != 0 || g_fork_in_progress.load(std::memory_order_relaxed) == 0) [[likely]]
      return;
    depth.store(outer, std::memory_order_relaxed);
  }
}

inline void end_critical_section() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  auto& depth = t_mutator.critical_depth;
  const int now = depth.load(std::memory_order_relaxed) - 1;
  depth.store(now, std::memory_order_relaxed);
  if (now == 0 && t_mutator.stop_deferred.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    t_mutator.stop_deferred.store(0, std::memory_order_relaxed);
    safepoint_slow();
  }
}

// A critical section for a scope. (A fiber switch begins one in gc::start_switch_fiber and ends it
// in gc::finish_switch_fiber, on another stack: it calls the two functions above.)
class CriticalSection {
 public:
  CriticalSection() noexcept { begin_critical_section(); }
  ~CriticalSection() { end_critical_section(); }
  CriticalSection(const CriticalSection&) = delete;
  CriticalSection& operator=(const CriticalSection&) = delete;
};

// `user_region`: a gc::blocking_region, which must not be nested (it stops the program with a
// message); the library's own waits are not nested either, but that is only checked internally.
void enter_blocking(bool user_region = false);
void leave_blocking();

class BlockingScope {
 public:
  BlockingScope() { enter_blocking(); }
  ~BlockingScope() { leave_blocking(); }
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;
};

// A blocking scope of a library thread whose stack holds no object meanwhile: one waiting between
// two rounds of its work with its stack cleared, or one that never holds any (the scavenger). A
// mark that starts meanwhile counts the stack as scanned without reading it (gc/stack_scan.hpp), as
// if it had read it then: the thread takes what it works on next from the library's queues.
// The flag goes up before the region begins and down after it ends, so that it is up whenever the
// thread is stopped inside the region (a stop between the two parks the thread in frames that hold
// no object either). Inline, as BlockingScope: enter_blocking saves its caller's frame.
void set_thread_idle(bool idle);
class IdleScope {
 public:
  IdleScope() {
    set_thread_idle(true);
    enter_blocking();
  }
  ~IdleScope() {
    leave_blocking();
    set_thread_idle(false);
  }
  IdleScope(const IdleScope&) = delete;
  IdleScope& operator=(const IdleScope&) = delete;
};

// Address just below the caller's frame: the low end of a stack range to scan.
std::uintptr_t current_stack_pointer();

// Copies the words of the stack range [bottom, top), at most `capacity` of them from the top down,
// into `out`; returns how many. For frames whose spilled registers must outlive them.
std::size_t copy_stack_words(std::uintptr_t bottom, std::uintptr_t top, std::uintptr_t* out,
                             std::size_t capacity);

}  // namespace gc::detail
