// The registry of mutator threads: every thread that touches the library is recorded here on first
// use and removed when it exits, so that the collector can stop it and scan its stack.
//
// A record's `status` is the handshake between the thread and the collector (stop_the_world.hpp):
//   kRunning            the thread runs and may touch managed memory;
//   stopped(claim)      the thread is parked at a safepoint, inside a signal handler, or in a
//                       blocking region, with its registers spilled onto its stack below `scan_sp`.
// `claim` is the world epoch of the stop that counts the thread as stopped (0: a blocking region no
// stop has claimed yet). A thread leaves the stopped state only by its own compare-and-swap, after
// the epoch that claimed it has ended; a collector claims a stopped thread for a new stop by its
// own compare-and-swap. So a thread is never counted as stopped while it runs.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "base/mutex.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

inline constexpr std::uint64_t kRunning = 0;
inline constexpr std::uint64_t stopped_status(std::uint32_t claim) {
  return (std::uint64_t{claim} << 1) | 1;
}
inline constexpr bool is_stopped(std::uint64_t status) { return (status & 1) != 0; }
inline constexpr std::uint32_t claim_of(std::uint64_t status) {
  return static_cast<std::uint32_t>(status >> 1);
}

// A stack a thread may run on: the thread's own, or a fiber's (gc::fiber, gc/fibers.cpp). While no
// thread runs on it, it is suspended: its live frames lie above `saved_sp`, and the registers its
// last switch away spilled are copied in `saved_frame`; a concurrent mark scans it as a root, once
// a cycle (gc/stack_scan.hpp). A thread switches only inside a critical section, so no stop of the
// world, mark start or termination falls between a switch's two halves.
struct StackRecord {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0;
  // The thread running on it; null while suspended. Changed only under `scan_lock`.
  std::atomic<ThreadRecord*> running_on{nullptr};
  std::uintptr_t saved_sp = 0;
  std::uintptr_t saved_frame[64] = {};
  std::size_t saved_frame_words = 0;
  // The mark cycle whose scan of this stack is done, and the lock held by whoever scans it or
  // switches to or from it (0 free, 1 held).
  std::atomic<std::uint32_t> scanned_cycle{0};
  std::atomic<std::uint32_t> scan_lock{0};
  StackRecord* next = nullptr;  // in the list of fibers (gc/fibers.cpp)
  StackRecord* prev = nullptr;
};

struct ThreadRecord {
  pthread_t handle{};
  pid_t tid = 0;
  const char* name = "";
  // The stack the thread runs on now: its own (`own_stack`) or a fiber's (`current_stack`).
  std::uintptr_t stack_lo = 0;
  std::uintptr_t stack_hi = 0;
  StackRecord own_stack;
  StackRecord* current_stack = &own_stack;
  // Between gc::start_switch_fiber and gc::finish_switch_fiber: the stack being left.
  StackRecord* switching_from = nullptr;
  StackRecord* switching_to = nullptr;
  // Stopped by the signal inside a handler that runs on its alternate signal stack: that stack's
  // live part, scanned besides [scan_sp, stack_hi). Zero otherwise.
  std::uintptr_t signal_stack_lo = 0;
  std::uintptr_t signal_stack_hi = 0;
  MutatorState* mutator = nullptr;
  std::atomic<std::uint64_t> status{kRunning};
  std::atomic<std::uintptr_t> scan_sp{0};
  // Stopped at a safepoint or in a blocking region, not by a signal: the collector may flush the
  // thread's cache, because the thread is not in the middle of an allocation.
  std::atomic<bool> cooperative{false};
  // A copy of the frame of enter_blocking(), where the caller's callee-saved registers were
  // spilled. The thread goes on running inside a blocking region and overwrites its stack below the
  // caller's frame, so the spilled words would not last there; the collector scans this copy
  // instead.
  std::uintptr_t saved_frame[128] = {};
  std::size_t saved_frame_words = 0;
  // Inside a blocking region (set by the thread itself around it).
  std::atomic<bool> in_blocking_region{false};
  // Inside an IdleScope (safepoint.hpp): the thread's stack holds no object, so mark start counts
  // it as scanned without reading it. Written by the thread itself only, outside the blocking
  // region of the scope; read with the world stopped.
  std::atomic<bool> idle{false};
  // The stack scan of a concurrent mark (gc/stack_scan.hpp): the mark cycle whose scan of this
  // stack is done, and the lock that whoever scans it holds (the thread itself, or another thread
  // while this one is stopped: in a blocking region, or parked).
  std::atomic<std::uint32_t> scanned_cycle{0};
  std::atomic<std::uint32_t> scan_lock{0};
  // When the collector last sent the stop signal to ask for the stack scan (steady ns; 0: never).
  std::int64_t scan_signalled_ns = 0;
  // The write barrier's buffer (gc/write_barrier.hpp): values to shade, written only by the owner
  // inside critical sections, and flushed by it or, with the world stopped, by the collector.
  static constexpr std::size_t kBarrierBufferEntries = 256;
  std::uint32_t barrier_count = 0;
  std::uintptr_t barrier_buffer[kBarrierBufferEntries] = {};
  ThreadRecord* next = nullptr;
};

// A scan lock (ThreadRecord::scan_lock, StackRecord::scan_lock: 0 free, 1 held): held while the
// stack is scanned, and while a thread switches to or away from it. Sequentially consistent, as
// the handshake with a thread leaving a blocking region needs (gc/stack_scan.hpp).
bool try_take_scan_lock(std::atomic<std::uint32_t>& lock);
void take_scan_lock(std::atomic<std::uint32_t>& lock);  // waits on a futex while it is held
void drop_scan_lock(std::atomic<std::uint32_t>& lock);
inline void lock_stack(StackRecord* s) { take_scan_lock(s->scan_lock); }
inline bool try_lock_stack(StackRecord* s) { return try_take_scan_lock(s->scan_lock); }
inline void unlock_stack(StackRecord* s) { drop_scan_lock(s->scan_lock); }

// Registers the calling thread (idempotent). `name` is for diagnostics.
ThreadRecord* register_current_thread(const char* name = "mutator");
inline ThreadRecord* ensure_registered() {
  ThreadRecord* r = t_mutator.record;
  return r != nullptr ? r : register_current_thread();
}

// A thread inside a gc::blocking_region counts as stopped: the collector may be scanning its stack,
// sweeping, or running a stop of the world that does not wait for it. So an allocation, a store to
// or the birth or death of a gc::ptr off its stack, or a collection there would race with the
// collector; the slow paths of each call this and stop the program with one message naming `what`
// and gc::blocking_region (safepoint.cpp). The fast paths are not checked: an allocation that finds
// a slot in its cache and a store with no mark in progress go through unnoticed.
[[noreturn]] void fail_inside_blocking_region(const char* what);
inline void check_not_in_blocking_region(const char* what) {
  const ThreadRecord* r = t_mutator.record;
  if (r != nullptr && r->in_blocking_region.load(std::memory_order_relaxed)) [[unlikely]]
    fail_inside_blocking_region(what);
}

// The registry's lock; the collector holds it for the whole of a stop-the-world.
Mutex& registry_mutex();
// First record; walk with ->next while holding registry_mutex().
ThreadRecord* registry_head();

// In the child after fork(), with the registry locked: the other threads are gone. Their caches
// go back to the central lists and their records are dropped.
void forget_other_threads_after_fork(ThreadRecord* self);

}  // namespace gc::detail
