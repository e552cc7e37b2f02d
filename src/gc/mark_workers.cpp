#include "gc/mark_workers.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "base/clock.hpp"
#include "base/settings.hpp"
#include "gc/assist.hpp"
#include "gc/cycle.hpp"
#include "gc/fibers.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/root_set.hpp"
#include "gc/stack_scan.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/library_thread.hpp"

namespace gc::detail {

namespace {

// Scan work between two publications of background credit.
constexpr std::int64_t kCreditSlice = 256 * 1024;

// One drain by a background thread. Its scan work becomes credit that assists may claim, published
// slice by slice so that an assist waiting at the goal goes on as soon as its debt is covered.
void background_drain() {
  const std::int64_t cpu_start = thread_cpu_ns();
  {
    Marker marker(Marker::Mode::kMark);
    std::int64_t published = 0;
    for (bool done = false; !done;) {
      done = marker.drain(kCreditSlice);
      g_mark.background_credit.fetch_add(marker.scanned_bytes() - published,
                                         std::memory_order_relaxed);
      published = marker.scanned_bytes();
      notify_assists();
    }
    if (published > 0) count_marking_thread();
  }
  g_mark.background_cpu_ns.fetch_add(thread_cpu_ns() - cpu_start, std::memory_order_relaxed);
}

// One round of the controller: the mark that woke it, from the root pass to termination.
void control_mark() {
  if (!marking()) return;  // a late wake: that mark is over
  const int stop_signal = settings().stop_signal;
  hold_point(MarkHold::kAfterStart);
  // First the stacks of the threads that mark start's stop parked and that have not had a CPU
  // since (three runnable threads on two CPUs: this one, woken, may have taken one's), and of
  // those waiting in blocking regions (the library's own threads, most of the time). Until the
  // last stack is scanned, every allocation of every thread takes the slow path to its safepoint,
  // and every store shades the value it stores; a thread left parked may not run for milliseconds.
  // Running threads scan their own.
  scan_stopped_stacks();
  {
    const std::int64_t cpu_start = thread_cpu_ns();
    Marker marker(Marker::Mode::kMark);
    mark_roots_concurrently(marker);
    scan_suspended_stacks(marker, g_mark.cycle.load(std::memory_order_acquire));
    g_hooks.roots.call(marker);
    g_mark.background_cpu_ns.fetch_add(thread_cpu_ns() - cpu_start, std::memory_order_relaxed);
  }
  // Again before the first drain, which may take the whole mark: a library thread may have gone
  // back into its blocking region meanwhile. Running threads get their millisecond to scan their
  // own, and are prodded only after the drain.
  scan_stopped_stacks();
  background_drain();
  hold_point(MarkHold::kAfterRoots);
  for (int attempt = 0;;) {
    const std::uint32_t seen = mark_events();
    scan_or_prod_stacks(stop_signal);
    background_drain();
    if (stacks_pending() == 0 && mark_quiescent()) {
      if (terminate_mark(attempt++)) return;
      continue;
    }
    wait_for_grey_work(seen, 100'000);
  }
}

// One round of a worker: drain while the mark that woke it lasts.
template <void (*kDrain)()>
void help_mark() {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  while (still_marking(cycle)) {
    if (hold_workers()) continue;
    kDrain();
    wait_for_grey_work(mark_events(), 1'000'000);
  }
}

constexpr LibraryThread::Kind kCollector = LibraryThread::Kind::kCollector;
constinit LibraryThread g_controller("mark controller", control_mark, kCollector);

// The workers besides the controller: a quarter of the CPUs in all, at most kMaxMarkThreads.
constexpr int kMaxMarkThreads = 64;
template <std::size_t... I>
constexpr std::array<LibraryThread, sizeof...(I)> make_workers(const char* name, void (*work)(),
                                                               std::index_sequence<I...>) {
  return {{((void)I, LibraryThread(name, work, kCollector))...}};
}
constinit std::array<LibraryThread, kMaxMarkThreads - 1> g_workers = make_workers(
    "mark worker", help_mark<background_drain>, std::make_index_sequence<kMaxMarkThreads - 1>{});
void drain_while_idle() { idle_drain(); }
constinit std::array<LibraryThread, kMaxMarkThreads - 1> g_idle_workers = make_workers(
    "idle marker", help_mark<drain_while_idle>, std::make_index_sequence<kMaxMarkThreads - 1>{});

// The last mark the idle workers were woken for.
constinit std::atomic<std::uint32_t> g_idle_woken_for{0};

// ---- Spare-CPU workers: the CPUs a program that does not wait for the mark leaves idle ----
// Go runs an idle mark worker on every P that has nothing else to run, whether or not a goroutine
// waits for the mark. The OS's run queues are not the library's to see, but its scheduler can do
// the choosing: the spare-CPU workers, one per CPU beside the controller and the workers, run
// under SCHED_IDLE, which takes a CPU that no other thread wants and never preempts one that does.
// They join a mark nobody waits for once it has run kSpareAfterNs (the marks of a busy program
// with a small heap are over by then, and a worker preempted with grey work of its own holds up the
// mark's termination until it runs again), and mark in slices of kSpareSliceBytes, each handed back
// to the grey queue when it ends. A mark a thread waits for has the idle workers instead.
constexpr std::int64_t kSpareAfterNs = 10'000'000;
constexpr std::int64_t kSpareSliceBytes = 64 * 1024;

// When the mark that woke the workers began (wake_mark_workers).
constinit std::atomic<std::int64_t> g_mark_woken_ns{0};

thread_local bool t_scheduled_idle = false;

// A spare-CPU worker's round: wait out kSpareAfterNs of the mark, then mark slice by slice until
// no grey work is left, the mark is over, or a thread waits for it.
void drain_on_spare_cpus() {
  if (!t_scheduled_idle) {
    t_scheduled_idle = true;
    const sched_param param{};
    ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param);  // a refusal changes nothing
  }
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  const auto waited = [cycle] { return g_idle_woken_for.load(std::memory_order_acquire) == cycle; };
  const std::int64_t wait =
      g_mark_woken_ns.load(std::memory_order_relaxed) + kSpareAfterNs - now_ns();
  if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  while (still_marking(cycle) && !waited())
    if (idle_drain(/*as_turn=*/false, kSpareSliceBytes)) return;  // help_mark waits for grey work
}
constinit std::array<LibraryThread, kMaxMarkThreads - 1> g_spare_workers =
    make_workers("spare marker", help_mark<drain_on_spare_cpus>,
                 std::make_index_sequence<kMaxMarkThreads - 1>{});

// Spare-CPU workers: with the controller and the workers, one thread per CPU.
int spare_worker_count() {
  return std::clamp(cpu_count(), mark_worker_count(), kMaxMarkThreads) - mark_worker_count();
}

// Idle workers: with the controller, the workers and the waiting thread, one thread per CPU.
int idle_mark_worker_count() {
  const int n =
      std::clamp(cpu_count() - 1, mark_worker_count(), kMaxMarkThreads) - mark_worker_count();
#if TRICOLOR_TEST_HOOKS
  const int for_test = g_idle_mark_workers_for_test.load(std::memory_order_relaxed);
  if (for_test >= 0) return std::min(for_test, kMaxMarkThreads - 1);
#endif
  return n;
}

}  // namespace

int mark_worker_count() { return std::clamp(cpu_count() / 4, 1, kMaxMarkThreads); }

bool ensure_mark_workers() noexcept {
  if (!g_controller.try_start()) return false;
  for (int i = 1; i < mark_worker_count(); ++i)
    if (!g_workers[i - 1].try_start()) break;
  for (int i = 0; i < spare_worker_count(); ++i)
    if (!g_spare_workers[static_cast<std::size_t>(i)].try_start()) break;
  return true;
}

void wake_mark_workers() {
  g_mark_woken_ns.store(now_ns(), std::memory_order_relaxed);
  g_controller.notify();
  for (int i = 1; i < mark_worker_count(); ++i)
    if (g_workers[i - 1].started()) g_workers[i - 1].notify();
  for (int i = 0; i < spare_worker_count(); ++i)
    if (g_spare_workers[static_cast<std::size_t>(i)].started())
      g_spare_workers[static_cast<std::size_t>(i)].notify();
}

bool idle_drain(bool as_turn, std::int64_t budget) {
  // A turn lasts microseconds: its time from the monotonic clock (the vDSO), as an assist's, not
  // the thread's CPU clock (a system call); a worker's drain is long enough for either.
  const auto clock = as_turn ? now_ns : thread_cpu_ns;
  const std::int64_t start = clock();
  Marker marker(Marker::Mode::kMark);
  const bool drained = as_turn ? marker.drain_turn(budget) : marker.drain(budget);
  g_mark.idle_work.fetch_add(marker.scanned_bytes(), std::memory_order_relaxed);
  if (marker.scanned_bytes() > 0) count_marking_thread();
  g_mark.idle_cpu_ns.fetch_add(clock() - start, std::memory_order_relaxed);
  return drained;
}

void wake_idle_mark_workers(std::uint32_t cycle) {
  // Once per mark, however many threads wait for it.
  std::uint32_t woken = g_idle_woken_for.load(std::memory_order_relaxed);
  if (woken == cycle ||
      !g_idle_woken_for.compare_exchange_strong(woken, cycle, std::memory_order_relaxed))
    return;
  for (int i = 0; i < idle_mark_worker_count(); ++i)
    if (!g_idle_workers[static_cast<std::size_t>(i)].try_wake()) return;  // the rest mark
}

void forget_mark_workers_after_fork() {
  forget_waiters_after_fork();
  g_controller.forget_after_fork();
  for (LibraryThread& w : g_workers) w.forget_after_fork();
  for (LibraryThread& w : g_idle_workers) w.forget_after_fork();
  for (LibraryThread& w : g_spare_workers) w.forget_after_fork();
}

}  // namespace gc::detail
