#include "runtime/stop_the_world.hpp"

#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "base/clock.hpp"
#include "base/futex.hpp"
#include "base/os_memory.hpp"
#include "base/thread_gc_time.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/upcalls.hpp"

namespace gc::detail {

namespace {

std::atomic<std::uint32_t> g_world_epoch{0};      // odd while stopping or stopped
std::atomic<std::uint32_t> g_stop_acks{0};        // bumped by each thread that parks
std::atomic<void (*)()> g_restart_hook{nullptr};  // set_restart_hook_for_test
int g_stop_signal = 0;

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
    } else {
      // The kernel saved the interrupted registers in the signal frame, above this frame.
      const StackExtent extent =
          locate_stacks(r, current_stack_pointer(), /*in_signal_handler=*/true);
      if (stopping)
        park(r, extent, false);
      else
        scan_own_stack(extent);
    }
  }
  errno = saved_errno;
}

}  // namespace

namespace {

#if defined(__x86_64__)
constexpr std::uintptr_t kRedZone = 128;  // below the stack pointer, a leaf function's to use
#else
constexpr std::uintptr_t kRedZone = 0;
#endif

// The lowest word of the live signal stack [sp, signal_hi) that points into the thread's stack
// [stack_lo, stack_hi) but not into the signal stack [signal_lo, signal_hi) itself, which may lie
// inside the thread's stack; 0 if none. Not instrumented: the range is a live signal stack,
// redzones included.
__attribute__((no_sanitize("address", "thread"))) std::uintptr_t lowest_pointer_into(
    std::uintptr_t sp, std::uintptr_t signal_lo, std::uintptr_t signal_hi, std::uintptr_t stack_lo,
    std::uintptr_t stack_hi) {
  std::uintptr_t lowest = 0;
  for (auto* w = reinterpret_cast<const std::uintptr_t*>(sp);
       w < reinterpret_cast<const std::uintptr_t*>(signal_hi); ++w) {
    const std::uintptr_t v = *w;
    if (v - stack_lo < stack_hi - stack_lo && v - signal_lo >= signal_hi - signal_lo &&
        (lowest == 0 || v < lowest))
      lowest = v;
  }
  return lowest;
}

[[noreturn]] void fail_on_unknown_stack(const ThreadRecord* r, std::uintptr_t sp,
                                        const char* detail) {
  os::fatal(
      "thread %d (%s) runs on a stack the collector was not told of: its stack pointer %#lx is "
      "outside its stack [%#lx, %#lx)%s. A fiber or coroutine with a stack of its own must be a "
      "gc::fiber, and every switch must be announced with gc::start_switch_fiber and "
      "gc::finish_switch_fiber (tricolor/fiber.hpp)",
      r->tid, r->name, static_cast<unsigned long>(sp), static_cast<unsigned long>(r->stack_lo),
      static_cast<unsigned long>(r->stack_hi), detail);
}

}  // namespace

// On its own stack (or the announced fiber's), the thread's live words are those above `sp`: the
// frames of the handler or safepoint that stops, and above them the kernel's signal frame or the
// spilled registers, and the interrupted frames.
//
// On its alternate signal stack, inside a handler the program installed with SA_ONSTACK (a
// profiler's tick, a crash handler) that the stop signal interrupted, two ranges are live: the
// signal stack from `sp` to its top, which holds the handler's frames and the kernel's frame of the
// first signal, with the registers of the code it interrupted; and the interrupted stack above that
// code's stack pointer. That stack pointer is one of the words saved in the kernel's frame, so the
// lowest word of the live signal stack that points into the thread's stack is at or below it:
// scanning from there (less the red zone) covers every live frame, and at worst a few dead ones.
//
// In the stop signal's handler the kernel is asked first, not the stack bounds: an alternate stack
// may be a buffer inside the thread's own stack (a local array handed to sigaltstack), and then
// `sp` lies inside the thread's stack while the interrupted frames lie below the buffer. That
// costs one system call per signalled thread per stop. Elsewhere (a safepoint, a blocking region,
// a collection: code that calls the library) the bounds come first and the kernel is asked only
// off the thread's stack: those paths run at every allocation slow path during a mark, where a
// system call each cost 0.19 s of a 3.6 s binary-trees run, and a handler on such a buffer that
// calls the library is taken for the thread's own frames. A stack armed with SS_AUTODISARM reports
// itself disabled while its handler runs, so inside such a handler only the own-stack test is
// left: a buffer inside the thread's stack is then taken for the thread's stack.
StackExtent locate_stacks(const ThreadRecord* r, std::uintptr_t sp, bool in_signal_handler) {
  const bool on_own_stack = sp - r->stack_lo < r->stack_hi - r->stack_lo;
  if (on_own_stack && !in_signal_handler) return StackExtent{sp};
  stack_t alternate;
  const bool on_alternate =
      ::sigaltstack(nullptr, &alternate) == 0 && (alternate.ss_flags & SS_ONSTACK) != 0;
  if (!on_alternate) {
    if (on_own_stack) return StackExtent{sp};
    fail_on_unknown_stack(r, sp,
                          (alternate.ss_flags & SS_DISABLE) != 0
                              ? " (or in a handler on an alternate signal stack installed with "
                                "SS_AUTODISARM, which hides where that stack is)"
                              : "");
  }
  const auto signal_lo = reinterpret_cast<std::uintptr_t>(alternate.ss_sp);
  const std::uintptr_t signal_hi = signal_lo + alternate.ss_size;
  if (sp - signal_lo >= alternate.ss_size)
    fail_on_unknown_stack(r, sp, " and its alternate signal stack");
  const std::uintptr_t interrupted =
      lowest_pointer_into(sp, signal_lo, signal_hi, r->stack_lo, r->stack_hi);
  if (interrupted == 0)
    fail_on_unknown_stack(r, sp,
                          ", in a handler on its alternate signal stack that interrupted neither "
                          "its stack nor an announced fiber's");
  const std::uintptr_t from =
      interrupted - r->stack_lo > kRedZone ? interrupted - kRedZone : r->stack_lo;
  return StackExtent{from, sp, signal_hi};
}

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
    // Sequentially consistent: the collector's stack scan of a stopped thread relies on it.
    if (r->status.compare_exchange_weak(status, kRunning, std::memory_order_seq_cst)) return;
  }
}

namespace {

// park's wait: publishes where the thread's stack is, counts it stopped for the stop of `epoch`,
// and waits until that stop is over and no scan of the stack is in progress. False if a stop
// signal that interrupted this very call has parked the thread already.
bool park_until_released(ThreadRecord* r, const StackExtent& extent, bool cooperative,
                         std::uint32_t epoch) {
  ThreadGcTimeScope timed(GcTimeKind::kStopped);
  r->scan_sp.store(extent.sp, std::memory_order_relaxed);
  r->signal_stack_lo = extent.signal_lo;
  r->signal_stack_hi = extent.signal_hi;
  r->cooperative.store(cooperative, std::memory_order_relaxed);
  std::uint64_t expected = kRunning;
  if (!r->status.compare_exchange_strong(expected, stopped_status(epoch),
                                         std::memory_order_acq_rel))
    return false;  // stopped meanwhile, by a signal that interrupted this very call
  g_stop_acks.fetch_add(1, std::memory_order_release);
  futex_wake_all(&g_stop_acks);
  // The signal-stack fields are left as they are: every publisher (this, enter_blocking) sets all
  // three, and they are read only while the thread is stopped. Clearing them here could wipe what
  // an enter_blocking this signal interrupted has just published.
  wait_until_released(r);
  // The collector may be scanning this stack, found parked (gc/stack_scan.cpp).
  wait_for_stack_scan(r);
  return true;
}

}  // namespace

// Parks the calling thread for the stop in progress, if any. Its registers must already be on its
// stack above `scan_sp`.
//
// A stop signal can land on a thread that is already stopped: parked at a safepoint, or inside a
// blocking region, when the collector sent it just before the thread got there. Such a thread is
// being scanned, perhaps this very moment, from the `scan_sp` it published; the handler must leave
// that and `cooperative` alone, or the two gccheckmark passes would read different ranges (and the
// second could read the handler's dead frame). Only this thread moves its status away from
// kRunning, so the check cannot go stale before the compare-and-swap below.
void park(ThreadRecord* r, const StackExtent& extent, bool cooperative) {
  TRICOLOR_DCHECK(t_mutator.critical_depth.load(std::memory_order_relaxed) == 0,
                  "thread %d parks inside a critical section", r->tid);
  TRICOLOR_DCHECK(extent.sp - r->stack_lo <= r->stack_hi - r->stack_lo,
                  "thread %d parks with its stack pointer off its stack", r->tid);
  const std::uint32_t epoch = g_world_epoch.load(std::memory_order_acquire);
  if (epoch % 2 == 0) return;
  if (r->status.load(std::memory_order_relaxed) != kRunning) return;
  if (!park_until_released(r, extent, cooperative, epoch)) return;
  // A mark may want this stack: mark start's stop makes every stack due (any other stop during a
  // mark finds this one scanned already, and this costs it a test). The registers are still
  // spilled above extent.sp, so it is scanned here, before the thread runs on, unless another
  // thread scanned it while this one waited for a CPU: a thread that goes back to code that neither
  // allocates nor polls would otherwise stay due until the mark prods it with a signal, a
  // millisecond later, and meanwhile every thread's stores shade what they store.
  scan_own_stack_early(extent);
}

bool world_stopping() { return g_world_epoch.load(std::memory_order_acquire) % 2 == 1; }

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

namespace {

// Counts `r` as stopped for the stop of `epoch` if it is stopped: parked at a safepoint, inside a
// blocking region, or parked for an earlier stop. A thread claimed stays stopped until the epoch
// ends, so the answer cannot go stale.
bool claim_if_stopped(ThreadRecord* r, std::uint32_t epoch) {
  for (;;) {
    std::uint64_t status = r->status.load(std::memory_order_acquire);
    if (status == stopped_status(epoch)) return true;
    if (!is_stopped(status)) return false;
    if (r->status.compare_exchange_strong(status, stopped_status(epoch), std::memory_order_acq_rel))
      return true;
  }
}

// Sends the stop signal to every thread but `self` that is still running; returns how many.
std::uint32_t signal_running_threads(const ThreadRecord* self, std::uint32_t epoch) {
  std::uint32_t signalled = 0;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (r == self || claim_if_stopped(r, epoch)) continue;
    ::pthread_kill(r->handle, g_stop_signal);
    ++signalled;
  }
  return signalled;
}

}  // namespace

WorldStopped stop_the_world() {
  const std::int64_t start = now_ns();
  WorldStopped world{std::unique_lock<Mutex>(registry_mutex())};
  StopStats& stats = world.stats_;
  TRICOLOR_DCHECK(!world_stopping(), "the world is stopped already");
  ThreadRecord* self = t_mutator.record;
  const std::uint32_t epoch = g_world_epoch.load(std::memory_order_relaxed) + 1;
  g_world_epoch.store(epoch, std::memory_order_release);
  g_safepoint_pending.fetch_or(kSafepointStop, std::memory_order_release);
  // The threads' time to arrive runs from here: the registry's lock may have taken a while.
  const std::int64_t raised = now_ns();

  // A thread that allocates parks at its next safepoint, within a microsecond or two. One that has
  // not arrived after kSignalAfterNs is computing without allocating, inside a critical section, or
  // waiting for a CPU, and the stop signal reaches it 40-50 µs later on a virtual machine: every
  // such thread is signalled at once, so that the deliveries overlap rather than add up.
  //
  // The collector then yields its CPU rather than spin: with more runnable threads than CPUs the
  // late thread is often waiting for the very CPU a spinning collector holds (spinning for 200 µs
  // made the 2-core VM's stops longer, not shorter). Past kYieldNs it sleeps on the futex.
  constexpr std::int64_t kSignalAfterNs = 5'000;
  constexpr std::int64_t kYieldNs = 200'000;
  constexpr std::int64_t kResignalNs = 20'000'000;  // the signal again, now and then
  std::int64_t signalled_at = 0;
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    ++stats.threads;
    if (r == self) continue;
    while (!claim_if_stopped(r, epoch)) {
      const std::int64_t now = now_ns();
      if (now - raised < kSignalAfterNs) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      if (signalled_at == 0 || now - signalled_at >= kResignalNs) {
        const std::uint32_t signalled = signal_running_threads(self, epoch);
        if (signalled_at == 0) stats.signalled = signalled;
        signalled_at = now;
        continue;
      }
      if (now - raised < kYieldNs) {
        ::sched_yield();
        continue;
      }
      const std::uint32_t acks = g_stop_acks.load(std::memory_order_acquire);
      if (r->status.load(std::memory_order_acquire) != kRunning) continue;
      futex_wait(&g_stop_acks, acks, 50'000);
    }
  }
  stats.stop_ns = now_ns() - start;
  if constexpr (kDchecks) {
    for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next)
      TRICOLOR_DCHECK(
          r == self || r->status.load(std::memory_order_acquire) == stopped_status(epoch),
          "thread %d (%s) runs in a stopped world", r->tid, r->name);
  }
  return world;
}

namespace {
// The only wake of the futex that parked threads sleep on; the test hook sits where it is made.
void wake_parked_threads() {
  if (void (*hook)() = g_restart_hook.load(std::memory_order_relaxed)) hook();
  futex_wake_all(&g_world_epoch);
}
}  // namespace

// The world runs from the epoch's change: a parked thread that wakes for any reason leaves its
// park, and one inside a blocking region leaves it unhindered. The wake comes after the registry's
// lock is given back, because it often gives this thread's CPU to a thread it wakes: on two CPUs
// with two program threads the collector then waited 0.8-4.1 ms for a CPU at nearly every
// termination of graph churn (docs/design.md, "The restart's wake"), and held the lock all the
// while that a new stop, a thread's registration or exit and the controller's stack scans take. A
// stop that begins between the unlock and the wake is correct: it claims the threads still parked,
// which go back to sleep when they see its epoch.
void start_the_world(WorldStopped&& world) {
  TRICOLOR_CHECK(world.registry_.owns_lock(), "start_the_world without a stopped world");
  TRICOLOR_DCHECK(world_stopping(), "the world is not stopped");
  g_safepoint_pending.fetch_and(~kSafepointStop, std::memory_order_release);
  g_world_epoch.fetch_add(1, std::memory_order_acq_rel);
  world.registry_.unlock();
  wake_parked_threads();
}

void set_restart_hook_for_test(void (*hook)()) {
  g_restart_hook.store(hook, std::memory_order_relaxed);
}

}  // namespace gc::detail
