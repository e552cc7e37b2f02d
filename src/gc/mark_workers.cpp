#include "gc/mark_workers.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <thread>
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

// Scan work between two publications of background credit, and two looks for idle CPUs.
constexpr std::int64_t kCreditSlice = 256 * 1024;

// Wakes a spare-CPU worker for each CPU no thread runs on (below).
void offer_idle_cpus();

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
      if (!done) offer_idle_cpus();  // with work left to share
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
// Go runs an idle mark worker on every P with nothing else to run, whether or not a goroutine
// waits for the mark. The library cannot see a CPU go idle, but the kernel says how many threads
// of the whole machine run or wait for a CPU (runnable_threads, base/cpus.hpp). The spare-CPU
// workers, one per CPU beside the controller and the workers, run at the program's priority:
//   - A background marker (the controller, and the workers on 8 CPUs or more), between two slices
//     of its drain (a few hundred microseconds apart) that leave it work to share, reads that
//     count, itself included; for each CPU it leaves idle it wakes one spare-CPU worker not in a
//     round (offer_idle_cpus). A busy program pays for those reads and for no wake. The workers
//     are started at the first cycle start after a marker has seen an idle CPU, so a program
//     that never leaves one has none.
//   - A spare-CPU worker marks in slices of kSpareSliceBytes while the count, itself included, is
//     at most the CPUs': no thread then waits for the CPU it holds. When it is over by k, the k
//     workers on a CPU (in a round, not asleep in it) with the highest indices look again, and
//     end their rounds after kSpareLooks looks, until a background marker sees an idle CPU again.
// A slice's work goes back to the grey queue when the slice ends, so a worker that loses its CPU
// in the middle of one holds up the mark's termination for as long as a normal thread waits for a
// CPU (one under SCHED_IDLE or nice 19 could hold it for as long as other threads keep the CPUs
// busy: design.md, "Idle CPUs for a mark nobody waits for"). A mark that a thread waits for has
// the idle workers, which mark whatever the count: no spare-CPU worker is woken once the waiting
// thread has woken them, and one in a round leaves at the end of its slice.
constexpr std::int64_t kSpareSliceBytes = 256 * 1024;
// A worker that finds threads waiting for a CPU looks again kSpareLooks - 1 times,
// kSpareLookAgainNs apart, before it ends its round: a sleeping program's bursts of work are often
// that short.
constexpr int kSpareLooks = 3;
constexpr std::int64_t kSpareLookAgainNs = 100'000;

// Threads that run or wait for a CPU, the caller included, as the offer (`for_offer`) or a
// worker sees them.
int runnable_now(bool for_offer) {
  constexpr int kNoCpuIdle = 1 << 20;
#if TRICOLOR_TEST_HOOKS
  // Forced: every CPU idle but the caller's (1), none (0), or idle to the offer only (2).
  if (const int forced = g_spare_cpu_for_test.load(std::memory_order_relaxed); forced >= 0)
    return forced == 1 || (forced == 2 && for_offer) ? 1 : kNoCpuIdle;
#else
  (void)for_offer;
#endif
  const int runnable = runnable_threads();
  return runnable >= 1 ? runnable : kNoCpuIdle;  // unknown: no CPU to spare
}

// Bit i: spare-CPU worker i is in a round (kMaxMarkThreads - 1 of them fit); and is in one and not
// asleep in it, so that the run-queue count includes it.
constinit std::atomic<std::uint64_t> g_spares_in_round{0};
constinit std::atomic<std::uint64_t> g_spares_on_cpu{0};
// A marker saw an idle CPU while the spare-CPU workers were not started: the next mark start
// starts them (ensure_mark_workers, on a mutator outside critical sections).
constinit std::atomic<bool> g_spares_wanted{false};

bool waited_for(std::uint32_t cycle) {
  return g_idle_woken_for.load(std::memory_order_acquire) == cycle;
}

// Whether spare-CPU worker `index` should give its CPU up: threads wait for a CPU, and it is among
// the workers on a CPU that many from the top.
bool spare_should_yield(std::size_t index) {
  const int excess = runnable_now(/*for_offer=*/false) - cpu_count();
  if (excess <= 0) return false;
  const std::uint64_t above = g_spares_on_cpu.load(std::memory_order_relaxed) >> index >> 1;
  return std::popcount(above) < excess;
}

// Worker `kBit`'s sleeps in its round: off the count of workers on a CPU meanwhile.
template <std::uint64_t kBit, class Sleep>
void sleep_off_cpu(Sleep&& sleep) {
  g_spares_on_cpu.fetch_and(~kBit, std::memory_order_relaxed);
  sleep();
  g_spares_on_cpu.fetch_or(kBit, std::memory_order_relaxed);
}

// Spare-CPU worker `kIndex`'s round: the mark that woke it, slice by slice while it need not
// yield.
template <std::size_t kIndex>
void mark_on_spare_cpu() {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  constexpr std::uint64_t kBit = std::uint64_t{1} << kIndex;
  g_spares_in_round.fetch_or(kBit, std::memory_order_relaxed);
  g_spares_on_cpu.fetch_or(kBit, std::memory_order_relaxed);
  for (int looks_left = kSpareLooks; still_marking(cycle) && !waited_for(cycle);) {
    if (spare_should_yield(kIndex)) {
      if (--looks_left == 0) break;
      sleep_off_cpu<kBit>(
          [] { std::this_thread::sleep_for(std::chrono::nanoseconds(kSpareLookAgainNs)); });
      continue;
    }
    looks_left = kSpareLooks;
    if (hold_workers()) continue;
    const std::uint32_t seen = mark_events();
    if (idle_drain(/*as_turn=*/false, kSpareSliceBytes))
      sleep_off_cpu<kBit>([seen] { wait_for_grey_work(seen, 1'000'000); });
  }
  g_spares_on_cpu.fetch_and(~kBit, std::memory_order_relaxed);
  g_spares_in_round.fetch_and(~kBit, std::memory_order_relaxed);
}
template <std::size_t... I>
constexpr std::array<LibraryThread, sizeof...(I)> make_spare_workers(std::index_sequence<I...>) {
  return {{LibraryThread("spare marker", mark_on_spare_cpu<I>, kCollector)...}};
}
constinit std::array<LibraryThread, kMaxMarkThreads - 1> g_spare_workers =
    make_spare_workers(std::make_index_sequence<kMaxMarkThreads - 1>{});

// Spare-CPU workers: with the controller and the workers, one thread per CPU.
int spare_worker_count() {
  return std::clamp(cpu_count(), mark_worker_count(), kMaxMarkThreads) - mark_worker_count();
}

void offer_idle_cpus() {
  const int spares = spare_worker_count();
  if (spares == 0 || waited_for(g_mark.cycle.load(std::memory_order_acquire))) return;
  // Workers in a round hold CPUs the count includes already: each idle CPU is one more worker.
  int idle = cpu_count() - runnable_now(/*for_offer=*/true);
  const std::uint64_t in_round = g_spares_in_round.load(std::memory_order_relaxed);
  for (int i = 0; i < spares && idle > 0; ++i) {
    if (in_round & (std::uint64_t{1} << i)) continue;
    LibraryThread& worker = g_spare_workers[static_cast<std::size_t>(i)];
    if (!worker.started()) {
      g_spares_wanted.store(true, std::memory_order_relaxed);
      return;
    }
    worker.notify();  // counted: a worker that has just begun a round does one more, or leaves
    --idle;
  }
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
  if (g_spares_wanted.load(std::memory_order_relaxed))
    for (int i = 0; i < spare_worker_count(); ++i)
      if (!g_spare_workers[static_cast<std::size_t>(i)].try_start()) break;
  return true;
}

void wake_mark_workers() {
  g_controller.notify();
  for (int i = 1; i < mark_worker_count(); ++i)
    if (g_workers[i - 1].started()) g_workers[i - 1].notify();
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
  // A round the fork cut short never ends; and the child asks for workers afresh.
  g_spares_in_round.store(0, std::memory_order_relaxed);
  g_spares_on_cpu.store(0, std::memory_order_relaxed);
  g_spares_wanted.store(false, std::memory_order_relaxed);
}

}  // namespace gc::detail
