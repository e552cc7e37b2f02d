#include "gc/mark_workers.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/clock.hpp"
#include "base/futex.hpp"
#include "base/settings.hpp"
#include "gc/assist.hpp"
#include "gc/cycle.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_queue.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/root_set.hpp"
#include "gc/stack_scan.hpp"
#include "gc/test_hooks.hpp"

namespace gc::detail {

namespace {

std::atomic<bool> g_started{false};
// The cycle number a mark start published for the background threads; they sleep on it.
std::atomic<std::uint32_t> g_wake_cycle{0};
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
  }
  g_mark.background_cpu_ns.fetch_add(thread_cpu_ns() - cpu_start, std::memory_order_relaxed);
}

std::uint32_t wait_for_mark_start(std::uint32_t last) {
  for (;;) {
    const std::uint32_t cycle = g_wake_cycle.load(std::memory_order_acquire);
    if (cycle != last && marking()) return cycle;
    futex_wait(&g_wake_cycle, cycle);
  }
}

void controller_main() {
  const int stop_signal = settings().stop_signal;
  std::uint32_t cycle = 0;
  for (;;) {
    cycle = wait_for_mark_start(cycle);
    hold_point(MarkHold::kAfterStart);
    {
      const std::int64_t cpu_start = thread_cpu_ns();
      Marker marker(Marker::Mode::kMark);
      mark_roots_concurrently(marker);
      g_hooks.roots.call(marker);
      g_mark.background_cpu_ns.fetch_add(thread_cpu_ns() - cpu_start, std::memory_order_relaxed);
    }
    background_drain();
    hold_point(MarkHold::kAfterRoots);
    for (int attempt = 0;;) {
      const std::uint32_t seen = mark_events();
      scan_or_prod_stacks(stop_signal);
      background_drain();
      if (stacks_pending() == 0 && mark_quiescent()) {
        if (terminate_mark(attempt++)) break;
        continue;
      }
      wait_for_mark_event(seen, 100'000);
    }
  }
}

void worker_main() {
  std::uint32_t cycle = 0;
  for (;;) {
    cycle = wait_for_mark_start(cycle);
    while (marking() && g_mark.cycle.load(std::memory_order_acquire) == cycle) {
      if (hold_workers()) continue;
      background_drain();
      const std::uint32_t seen = mark_events();
      add_idle_worker(1);
      if (grey_queue_empty()) wait_for_mark_event(seen, 1'000'000);
      add_idle_worker(-1);
    }
  }
}

}  // namespace

int mark_worker_count() {
  static const int n = std::max(1, cpu_count() / 4);
  return n;
}

void ensure_mark_workers() {
  if (g_started.load(std::memory_order_acquire) || g_started.exchange(true)) return;
  std::thread(controller_main).detach();
  for (int i = 1; i < mark_worker_count(); ++i) std::thread(worker_main).detach();
}

void wake_mark_workers() {
  g_wake_cycle.store(g_mark.cycle.load(std::memory_order_acquire), std::memory_order_release);
  futex_wake_all(&g_wake_cycle);
}

void forget_mark_workers_after_fork() {
  g_started.store(false);
  g_wake_cycle.store(0);
}

}  // namespace gc::detail
