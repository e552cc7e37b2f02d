#include "gc/pacer.hpp"

#include <algorithm>
#include <cstdio>

#include "base/clock.hpp"

namespace gc::detail {

namespace {

// The background workers' share of the CPU (Go's gcBackgroundUtilization), for the trace.
constexpr double kBackgroundUtilization = 0.25;
// How much more runway than the last mark needed the trigger leaves.
constexpr double kRunwayMargin = 1.5;

}  // namespace

Pacer& pacer() {
  static Pacer* p = new Pacer;
  return *p;
}

void Pacer::configure(int percent, std::int64_t memory_limit) {
  std::lock_guard lock(mutex_);
  percent_.store(percent, std::memory_order_relaxed);
  memory_limit_.store(memory_limit, std::memory_order_relaxed);
  recompute_locked();
}

void Pacer::begin_mark(std::int64_t heap_live) {
  heap_at_mark_start_.store(heap_live, std::memory_order_relaxed);
  trigger_at_mark_start_.store(trigger_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void Pacer::end_cycle(const MarkReport& report) {
  std::lock_guard lock(mutex_);
  last_ = report;
  last_goal_ = goal_.load(std::memory_order_relaxed);
  heap_marked_.store(report.heap_marked, std::memory_order_relaxed);
  if (report.scan_work > 0) {
    // Bytes allocated per byte of scan work, smoothed like Go's (half the old, half the new).
    const double cons =
        static_cast<double>(report.allocated_during_mark) / static_cast<double>(report.scan_work);
    cons_mark_ = cons_mark_ == 0 ? cons : (cons_mark_ + cons) / 2;
    expected_scan_work_.store(report.scan_work, std::memory_order_relaxed);
  }
  earliest_limited_start_ns_.store(report.end_ns + report.cpu_ns / cpu_count(),
                                   std::memory_order_relaxed);
  if (held_back_.exchange(false, std::memory_order_relaxed))
    limited_cycles_.fetch_add(1, std::memory_order_relaxed);
  recompute_locked();
}

bool Pacer::cpu_limited() const {
  const std::int64_t now = now_ns();
  if (now >= earliest_limited_start_ns_.load(std::memory_order_relaxed)) return false;
  held_back_.store(true, std::memory_order_relaxed);
  return true;
}

void Pacer::recompute_locked() {
  const std::int64_t marked = heap_marked_.load(std::memory_order_relaxed);
  const int percent = percent_.load(std::memory_order_relaxed);
  const std::int64_t limit = memory_limit_.load(std::memory_order_relaxed);
  std::int64_t goal = INT64_MAX;
  if (percent >= 0) {
    const std::int64_t growth = marked / 100 * percent + marked % 100 * percent / 100;
    goal = std::max(marked + growth, kMinHeapGoal);
  }
  bool limit_sets_goal = false;
  if (limit != INT64_MAX) {
    // Leave a sixteenth of headroom above the live heap, so a limit below it cannot livelock.
    const std::int64_t floor = marked + std::max<std::int64_t>(marked / 16, 1 << 20);
    const std::int64_t limit_goal = std::max(limit, floor);
    limit_sets_goal = limit_goal < goal;
    goal = std::min(goal, limit_goal);
  }
  std::int64_t trigger = INT64_MAX;
  if (goal != INT64_MAX) {
    const std::int64_t base = std::min(marked, goal);
    const double span = static_cast<double>(goal - base);
    const auto lowest = base + static_cast<std::int64_t>(span * 0.7);
    const auto highest = base + static_cast<std::int64_t>(span * 0.95);
    // cons_mark_ was measured at the utilisation the last mark actually had: no rescaling, but a
    // margin, since a mark that runs out of runway makes allocating threads wait for it.
    const double runway = kRunwayMargin * cons_mark_ *
                          static_cast<double>(expected_scan_work_.load(std::memory_order_relaxed));
    const std::int64_t wanted =
        runway >= static_cast<double>(goal) ? 0 : goal - static_cast<std::int64_t>(runway);
    trigger = std::clamp(wanted, lowest, highest);
  }
  limit_sets_goal_.store(limit_sets_goal, std::memory_order_relaxed);
  goal_.store(goal, std::memory_order_relaxed);
  trigger_.store(trigger, std::memory_order_relaxed);
}

double Pacer::assist_work_per_byte(std::int64_t heap_live, std::int64_t scan_done) const {
  const std::int64_t goal = goal_.load(std::memory_order_relaxed);
  if (goal == INT64_MAX) return 0;
  std::int64_t expected = expected_scan_work_.load(std::memory_order_relaxed);
  if (expected == 0) expected = heap_marked_.load(std::memory_order_relaxed);
  // Work may exceed the estimate: assume at least a tenth of it is left until the mark ends.
  const std::int64_t remaining_work = std::max(expected - scan_done, expected / 10);
  const std::int64_t remaining_heap = std::max<std::int64_t>(goal - heap_live, 64 * 1024);
  return static_cast<double>(remaining_work) / static_cast<double>(remaining_heap);
}

int Pacer::set_percent(int percent) {
  std::lock_guard lock(mutex_);
  const int previous = percent_.exchange(percent < 0 ? -1 : percent, std::memory_order_relaxed);
  recompute_locked();
  return previous;
}

std::int64_t Pacer::set_memory_limit(std::int64_t bytes) {
  std::lock_guard lock(mutex_);
  const std::int64_t previous = memory_limit_.load(std::memory_order_relaxed);
  if (bytes >= 0) {
    memory_limit_.store(bytes, std::memory_order_relaxed);
    recompute_locked();
  }
  return previous;
}

void Pacer::print_start_trace(int workers) {
  constexpr std::int64_t kMB = 1 << 20;
  const std::int64_t heap = heap_at_mark_start_.load(std::memory_order_relaxed);
  const std::int64_t goal = goal_.load(std::memory_order_relaxed);
  std::fprintf(stderr,
               "pacer: assist ratio=%f (scan %lld MB in %lld->%lld MB) workers=%d++0.000000\n",
               assist_work_per_byte(heap, 0),
               static_cast<long long>(expected_scan_work_.load(std::memory_order_relaxed) / kMB),
               static_cast<long long>(heap / kMB),
               static_cast<long long>((goal == INT64_MAX ? heap : goal) / kMB), workers);
}

void Pacer::print_end_trace() {
  std::lock_guard lock(mutex_);
  const double wall = static_cast<double>(last_.mark_ns) * cpu_count();
  const double utilization =
      wall > 0 ? 100.0 * static_cast<double>(last_.assist_cpu_ns + last_.background_cpu_ns) / wall
               : 0;
  std::fprintf(stderr,
               "pacer: %.0f%% CPU (%.0f exp.) for %lld B work in %lld B -> %lld B "
               "(trigger %lld B, goal %lld B, ∆goal %lld, cons/mark %f); next trigger %lld B, "
               "goal %lld B\n",
               utilization, kBackgroundUtilization * 100, static_cast<long long>(last_.scan_work),
               static_cast<long long>(heap_at_mark_start_.load(std::memory_order_relaxed)),
               static_cast<long long>(last_.heap_at_termination),
               static_cast<long long>(trigger_at_mark_start_.load(std::memory_order_relaxed)),
               static_cast<long long>(last_goal_),
               static_cast<long long>(last_.heap_at_termination - last_goal_), cons_mark_,
               static_cast<long long>(trigger_.load(std::memory_order_relaxed)),
               static_cast<long long>(goal_.load(std::memory_order_relaxed)));
}

}  // namespace gc::detail
