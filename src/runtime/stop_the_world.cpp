#include "runtime/stop_the_world.hpp"

#include <signal.h>

#include <cerrno>
#include <cstring>

#include "gc/stack_scan.hpp"
#include "heap/os_memory.hpp"
#include "runtime/futex.hpp"
#include "runtime/runtime.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

std::atomic<std::uint32_t> g_world_epoch{0};  // odd while stopping or stopped
std::atomic<std::uint32_t> g_stop_acks{0};    // bumped by each thread that parks
int g_stop_signal = 0;
std::unique_lock<std::mutex>* g_registry_lock = nullptr;

// Waits until the stop that claimed this thread is over, then marks it running again.
void wait_until_released(ThreadRecord* r) {
  for (;;) {
    std::uint64_t status = r->status.load(std::memory_order_acquire);
    const std::uint32_t claim = claim_of(status);
    const std::uint32_t epoch = g_world_epoch.load(std::memory_order_acquire);
    if (claim != 0 && claim == epoch) {
      futex_wait(&g_world_epoch, epoch);
      continue;
    }
    // Sequentially consistent: the collector's stack scan of a blocked thread relies on it.
    if (r->status.compare_exchange_weak(status, kRunning, std::memory_order_seq_cst)) return;
  }
}

// Parks the calling thread for the stop in progress, if any. Its registers must already be on its
// stack above `scan_sp`.
//
// A stop signal can land on a thread that is already stopped: parked at a safepoint, or inside a
// blocking region, when the collector sent it just before the thread got there. Such a thread is
// being scanned, perhaps this very moment, from the `scan_sp` it published; the handler must leave
// that and `cooperative` alone, or the two gccheckmark passes would read different ranges (and the
// second could read the handler's dead frame). Only this thread moves its status away from
// kRunning, so the check cannot go stale before the compare-and-swap below.
void park(ThreadRecord* r, std::uintptr_t scan_sp, bool cooperative) {
  const std::uint32_t epoch = g_world_epoch.load(std::memory_order_acquire);
  if (epoch % 2 == 0) return;
  if (r->status.load(std::memory_order_relaxed) != kRunning) return;
  r->scan_sp.store(scan_sp, std::memory_order_relaxed);
  r->cooperative.store(cooperative, std::memory_order_relaxed);
  std::uint64_t expected = kRunning;
  if (!r->status.compare_exchange_strong(expected, stopped_status(epoch),
                                         std::memory_order_acq_rel))
    return;  // stopped meanwhile, by a signal that interrupted this very call
  g_stop_acks.fetch_add(1, std::memory_order_release);
  futex_wake_all(&g_stop_acks);
  wait_until_released(r);
}

// The stop signal serves two requests: a stop of the world (park here) and, during a mark, the
// scan of this thread's stack (scan it here). Inside a critical section both wait for its end.
void on_stop_signal(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  MutatorState& m = t_mutator;
  ThreadRecord* r = m.record;
  const bool stopping = g_world_epoch.load(std::memory_order_acquire) % 2 == 1;
  const bool scanning =
      (g_safepoint_pending.load(std::memory_order_acquire) & kSafepointScanStacks) != 0;
  if (r != nullptr && (stopping || scanning)) {
    if (m.critical_depth.load(std::memory_order_relaxed) > 0) {
      m.stop_deferred.store(1, std::memory_order_relaxed);
    } else if (stopping) {
      // The kernel saved the interrupted registers in the signal frame, above this frame.
      park(r, current_stack_pointer(), false);
    } else {
      scan_own_stack(current_stack_pointer());
    }
  }
  errno = saved_errno;
}

}  // namespace

__attribute__((noinline)) std::uintptr_t current_stack_pointer() {
  // This frame lies below the caller's, so the caller's frame is wholly above the result.
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

__attribute__((noinline)) void safepoint_slow() {
  MutatorState& m = t_mutator;
  if (m.record == nullptr || m.critical_depth.load(std::memory_order_relaxed) > 0) return;
  __builtin_unwind_init();  // spill callee-saved registers into this frame
  if (g_world_epoch.load(std::memory_order_acquire) % 2 == 1)
    park(m.record, current_stack_pointer(), true);
  else
    scan_own_stack(current_stack_pointer());
  // Not a tail call: this frame, with the registers spilled into it, must outlive the park.
  asm volatile("" ::: "memory");
}

namespace {

// Copies the words of [bottom, top), at most `capacity` of them from the top down. Not
// instrumented: the range is a live stack frame, redzones included.
__attribute__((noinline, no_sanitize("address", "thread"))) std::size_t copy_frame(
    std::uintptr_t bottom, std::uintptr_t top, std::uintptr_t* out, std::size_t capacity) {
  std::size_t words = (top - bottom) / sizeof(std::uintptr_t);
  if (words > capacity) words = capacity;
  const auto* frame = reinterpret_cast<const std::uintptr_t*>(top) - words;
  for (std::size_t i = 0; i < words; ++i) out[i] = frame[i];
  return words;
}

}  // namespace

__attribute__((noinline)) void enter_blocking() {
  ThreadRecord* r = ensure_registered();
  // Spill every callee-saved register of the caller into this frame, then keep a copy of the frame:
  // the caller's own frame stays put for the whole region, but this one is gone once we return.
  __builtin_unwind_init();
  const auto top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*);
  r->saved_frame_words =
      copy_frame(current_stack_pointer(), top, r->saved_frame, std::size(r->saved_frame));
  r->scan_sp.store(top, std::memory_order_relaxed);
  r->in_blocking_region.store(true, std::memory_order_relaxed);
  r->cooperative.store(true, std::memory_order_relaxed);
  r->status.store(stopped_status(0), std::memory_order_release);
}

void leave_blocking() {
  ThreadRecord* r = t_mutator.record;
  wait_until_released(r);
  wait_for_stack_scan(r);
  r->in_blocking_region.store(false, std::memory_order_relaxed);
  poll_safepoint();
}

void install_stop_signal(int signal_number) {
  g_stop_signal = signal_number;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = on_stop_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&action.sa_mask);
  if (::sigaction(signal_number, &action, nullptr) != 0)
    os::fatal("cannot install the stop signal handler for signal %d", signal_number);
}

StopStats stop_the_world() {
  StopStats stats;
  const std::int64_t start = now_ns();
  g_registry_lock = new std::unique_lock<std::mutex>(registry_mutex());
  ThreadRecord* self = t_mutator.record;
  const std::uint32_t epoch = g_world_epoch.load(std::memory_order_relaxed) + 1;
  g_world_epoch.store(epoch, std::memory_order_release);
  g_safepoint_pending.fetch_or(kSafepointStop, std::memory_order_release);

  constexpr std::int64_t kSpinNs = 50'000;            // the collector spins this long at first
  constexpr std::int64_t kSignalAfterNs = 1'000'000;  // a thread gets a millisecond to arrive
  constexpr std::int64_t kResignalNs = 20'000'000;    // then a signal, repeated now and then
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    ++stats.threads;
    if (r == self) continue;
    std::int64_t signalled_at = 0;
    for (;;) {
      std::uint64_t status = r->status.load(std::memory_order_acquire);
      if (status == stopped_status(epoch)) break;
      if (is_stopped(status)) {
        if (r->status.compare_exchange_strong(status, stopped_status(epoch),
                                              std::memory_order_acq_rel))
          break;
        continue;
      }
      const std::int64_t now = now_ns();
      if (now - start >= kSignalAfterNs &&
          (signalled_at == 0 || now - signalled_at >= kResignalNs)) {
        if (signalled_at == 0) ++stats.signalled;
        signalled_at = now;
        ::pthread_kill(r->handle, g_stop_signal);
      }
      // A running thread that allocates parks within a microsecond or so: spin for that long
      // rather than pay a futex sleep and wakeup, which alone can take longer than a whole pause.
      if (now - start < kSpinNs) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      const std::uint32_t acks = g_stop_acks.load(std::memory_order_acquire);
      if (r->status.load(std::memory_order_acquire) != kRunning) continue;
      futex_wait(&g_stop_acks, acks, 50'000);
    }
  }
  stats.stop_ns = now_ns() - start;
  return stats;
}

void start_the_world() {
  g_safepoint_pending.fetch_and(~kSafepointStop, std::memory_order_release);
  g_world_epoch.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(&g_world_epoch);
  delete g_registry_lock;
  g_registry_lock = nullptr;
}

}  // namespace gc::detail
