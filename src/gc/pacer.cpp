#include "gc/pacer.hpp"

#include <algorithm>
#include <cstdio>

#include "base/clock.hpp"
#include "base/cpus.hpp"
#include "heap/heap_counters.hpp"
#include "heap/page_heap.hpp"

namespace gc::detail {

namespace {

// The background workers' share of the CPU (Go's gcBackgroundUtilization), for the trace.
constexpr double kBackgroundUtilization = 0.25;
// How much more runway than the last mark needed the trigger leaves.
constexpr double kRunwayMargin = 1.5;
// The trigger lies between these fractions of the way from the marked heap to the goal. The upper
// bound, Go's, always leaves the mark some room. Go's lower bound is 0.7, against a fast allocator
// driving the trigger so low that the mark never ends (chosen with 48 CPUs): a mark that starts
// there but needs more runway finishes on assists. In binary-trees on 2 CPUs every cycle started at
// that bound with the runway it wanted near 0.55, and the allocating thread spent 0.16-0.26 s of a
// 1.6 s run assisting; at 0.5 the runway decides, assists vanish, and the run takes 0.92 of the
// time (docs/design.md, "Pacing"). Half the way still keeps the mark from running always.
// A goal the memory limit sets keeps Go's bound: the heap is already held near what the program
// may use, and starting earlier there only adds cycles (memory_test's GOGC=off ring: 42-45 cycles
// at 0.7, 51-60 at 0.5).
constexpr double kLowestTrigger = 0.5;
constexpr double kLowestTriggerUnderLimit = 0.7;
constexpr double kHighestTrigger = 0.95;
// Headroom under the memory limit's goal: a share of it, and at least a minimum (Go's
// memoryLimitHeapGoalHeadroomPercent and memoryLimitMinHeapGoalHeadroom of releases after 1.19,
// which took a flat 1 MiB).
constexpr std::int64_t kLimitHeadroomPercent = 3;
constexpr std::int64_t kLimitMinHeadroom = std::int64_t{1} << 20;

// Read without a lock, each figure as of its latest change: they may disagree by what is moving
// between them (memory_limit_goal allows for it).
MemoryUse library_memory_use() {
  const PageHeap& heap = page_heap();
  MemoryUse use;
  use.ready = static_cast<std::int64_t>(heap.ready_bytes_now());
  use.heap_free = static_cast<std::int64_t>(heap.idle_retained_now());
  use.heap_alloc = g_counters.heap_alloc.load(std::memory_order_relaxed);
  return use;
}

}  // namespace

Pacer& pacer() {
  static Pacer* p = new Pacer(&library_memory_use);
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
  trigger_at_mark_start_.store(trigger(), std::memory_order_relaxed);
}

void Pacer::end_cycle(const MarkReport& report) {
  std::lock_guard lock(mutex_);
  last_ = report;
  last_goal_ = goal();
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

std::int64_t Pacer::memory_limit_goal(const MemoryUse& use) const {
  const std::int64_t limit = memory_limit_.load(std::memory_order_relaxed);
  if (limit == INT64_MAX) return INT64_MAX;
  // The figures are read one after the other while threads allocate and sweep: a total below its
  // parts is a moment's disagreement, not memory outside the heap.
  const std::int64_t non_heap =
      std::max<std::int64_t>(use.ready - use.heap_free - use.heap_alloc, 0);
  const std::int64_t overage = std::max<std::int64_t>(use.ready - limit, 0);
  std::int64_t goal = std::max<std::int64_t>(limit - non_heap - overage, 0);
  goal -= std::max(goal / 100 * kLimitHeadroomPercent, kLimitMinHeadroom);
  // Leave a sixteenth of headroom above the live heap, so a limit below it cannot livelock.
  const std::int64_t marked = heap_marked_.load(std::memory_order_relaxed);
  return std::max(goal, marked + std::max<std::int64_t>(marked / 16, 1 << 20));
}

Pacer::Goal Pacer::current_goal() const {
  const std::int64_t percent_goal = percent_goal_.load(std::memory_order_relaxed);
  if (memory_limit_.load(std::memory_order_relaxed) == INT64_MAX) return {percent_goal, false};
  const std::int64_t limit_goal =
      memory_limit_goal(memory_use_ != nullptr ? memory_use_() : MemoryUse{});
  if (limit_goal < percent_goal) return {limit_goal, true};
  return {percent_goal, false};
}

std::int64_t Pacer::trigger_for(Goal g) const {
  const std::int64_t goal = g.bytes;
  if (goal == INT64_MAX) return INT64_MAX;
  const std::int64_t base = std::min(heap_marked_.load(std::memory_order_relaxed), goal);
  const double span = static_cast<double>(goal - base);
  const auto lowest =
      base + static_cast<std::int64_t>(
                 span * (g.limit_sets_it ? kLowestTriggerUnderLimit : kLowestTrigger));
  const auto highest = base + static_cast<std::int64_t>(span * kHighestTrigger);
  const std::int64_t runway = runway_.load(std::memory_order_relaxed);
  return std::clamp(runway >= goal ? 0 : goal - runway, lowest, highest);
}

void Pacer::recompute_locked() {
  const std::int64_t marked = heap_marked_.load(std::memory_order_relaxed);
  const int percent = percent_.load(std::memory_order_relaxed);
  std::int64_t goal = INT64_MAX;
  if (percent >= 0) {
    const std::int64_t growth = marked / 100 * percent + marked % 100 * percent / 100;
    goal = std::max(marked + growth, kMinHeapGoal);
  }
  // cons_mark_ was measured at the utilisation the last mark actually had: no rescaling, but a
  // margin, since a mark that runs out of runway makes allocating threads wait for it.
  const double runway = kRunwayMargin * cons_mark_ *
                        static_cast<double>(expected_scan_work_.load(std::memory_order_relaxed));
  runway_.store(runway >= static_cast<double>(INT64_MAX / 2) ? INT64_MAX / 2
                                                             : static_cast<std::int64_t>(runway),
                std::memory_order_relaxed);
  percent_goal_.store(goal, std::memory_order_relaxed);
  percent_trigger_.store(trigger_for({goal, false}), std::memory_order_relaxed);
}

double Pacer::assist_work_per_byte(std::int64_t heap_live, std::int64_t scan_done) const {
  const std::int64_t goal = this->goal();
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
  const std::int64_t goal = this->goal();
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
               static_cast<long long>(trigger()), static_cast<long long>(goal()));
}

}  // namespace gc::detail
