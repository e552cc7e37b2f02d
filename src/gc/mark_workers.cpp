#include "gc/mark_workers.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>

#include "base/clock.hpp"
#include "base/cpus.hpp"
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
  return true;
}

void wake_mark_workers() {
  g_controller.notify();
  for (int i = 1; i < mark_worker_count(); ++i)
    if (g_workers[i - 1].started()) g_workers[i - 1].notify();
}

bool idle_drain(bool as_turn) {
  // A turn lasts microseconds: its time from the monotonic clock (the vDSO), as an assist's, not
  // the thread's CPU clock (a system call); a worker's drain is long enough for either.
  const auto clock = as_turn ? now_ns : thread_cpu_ns;
  const std::int64_t start = clock();
  Marker marker(Marker::Mode::kMark);
  const bool drained = as_turn ? marker.drain_turn(INT64_MAX) : marker.drain();
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
}

}  // namespace gc::detail
