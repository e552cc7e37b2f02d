#include "gc/cycle_stats.hpp"

#include <chrono>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/cpus.hpp"

namespace gc::detail {

namespace {

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::int64_t library_start_ns() {
  static const std::int64_t start = now_ns();
  return start;
}

CycleStats& cycle_stats() {
  static constinit CycleStats stats;
  return stats;
}

void CycleStats::begin(CycleReason reason, std::int64_t start_ns, std::uint32_t threads,
                       std::uint32_t signalled, std::int64_t heap_start, std::int64_t goal) {
  cycle_ = InProgress{};
  cycle_.reason = reason;
  cycle_.start_ns = start_ns;
  cycle_.trace.heap_start = heap_start;
  cycle_.trace.goal = goal;
  cycle_.trace.threads = threads;
  cycle_.trace.signalled = signalled;
}

void CycleStats::set_start_heap(std::int64_t live, std::int64_t unused_cached) {
  cycle_.live_at_start = live;
  cycle_.unused_at_start = unused_cached;
}

void CycleStats::record_pause(std::int64_t ns) {
  TRICOLOR_DCHECK(ns >= 0, "a pause of %lld ns", static_cast<long long>(ns));
  cycle_.pauses_ns += ns;
  if (ns > cycle_.longest_pause_ns) cycle_.longest_pause_ns = ns;
  const int bucket = ns <= 1 ? 0 : 63 - __builtin_clzll(static_cast<unsigned long long>(ns));
  const auto last = static_cast<int>(totals_.pause_histogram.size()) - 1;
  ++totals_.pause_histogram[static_cast<std::size_t>(bucket < last ? bucket : last)];
}

void CycleStats::record_mark_start_pause(std::int64_t start_ns, std::int64_t end_ns) {
  cycle_.first_pause_ns = end_ns - start_ns;
  record_pause(cycle_.first_pause_ns);
  cycle_.mark_start_ns = end_ns;
}

void CycleStats::record_whole_mark_pause(std::int64_t ns) {
  cycle_.trace.stop_ns = ns;
  cycle_.trace.termination_ns = 0;
  totals_.last.stop_ns = ns;  // after end(): the whole mark was in this pause
  totals_.last.termination_ns = 0;
}

MarkReport CycleStats::end(const MarkEnd& mark) {
  CycleTrace& trace = cycle_.trace;
  trace.heap_end = mark.live_now;
  trace.heap_marked = mark.marked;
  trace.roots = mark.roots;
  trace.stack_bytes = mark.stack_bytes;

  const std::int64_t pause = mark.end_ns - mark.pause_start_ns;
  record_pause(pause);
  const std::int64_t mark_cpu = mark.background_cpu_ns + mark.assist_cpu_ns + mark.idle_cpu_ns;
  const std::int64_t cycle_cpu = cycle_.pauses_ns * cpu_count() + mark_cpu;
  gc_cpu_ns_ += cycle_cpu;
  totals_.pause_cpu_ns += static_cast<std::uint64_t>(cycle_.pauses_ns * cpu_count());
  totals_.assist_cpu_ns += static_cast<std::uint64_t>(mark.assist_cpu_ns);
  totals_.background_cpu_ns += static_cast<std::uint64_t>(mark.background_cpu_ns);
  totals_.idle_cpu_ns += static_cast<std::uint64_t>(mark.idle_cpu_ns);
  totals_.total_cpu_ns = static_cast<std::uint64_t>(gc_cpu_ns_);

  MarkReport report;
  report.heap_marked = mark.marked + mark.allocated_black;
  report.scan_work = mark.scan_work + mark.stack_bytes + static_cast<std::int64_t>(mark.roots) * 8;
  report.allocated_during_mark = mark.allocated_black;
  report.mark_ns = cycle_.mark_start_ns != 0 ? mark.pause_start_ns - cycle_.mark_start_ns : 0;
  // The CPU limiter's figure leaves idle marking out, as Go's limiter counts idle mark time as
  // idle: it ran on CPUs no thread wanted, or for a thread that waited for it.
  report.cpu_ns = cycle_cpu - mark.idle_cpu_ns;
  report.assist_cpu_ns = mark.assist_cpu_ns;
  report.background_cpu_ns = mark.background_cpu_ns;
  report.heap_at_termination = mark.live_now;
  report.end_ns = mark.end_ns;

  totals_.pause_ns[totals_.num_gc % totals_.pause_ns.size()] =
      static_cast<std::uint64_t>(cycle_.pauses_ns);
  ++totals_.num_gc;
  if (cycle_.reason != CycleReason::kHeap) ++totals_.num_forced_gc;
  totals_.pause_total_ns += static_cast<std::uint64_t>(cycle_.pauses_ns);
  if (static_cast<std::uint64_t>(cycle_.longest_pause_ns) > totals_.pause_max_ns)
    totals_.pause_max_ns = static_cast<std::uint64_t>(cycle_.longest_pause_ns);
  totals_.last_gc_unix_ns = static_cast<std::uint64_t>(unix_ns());

  const std::int64_t start = library_start_ns();
  trace.number = totals_.num_gc;
  trace.since_start_ns = cycle_.start_ns - start;
  trace.gc_cpu_percent = 100.0 * static_cast<double>(gc_cpu_ns_) /
                         (static_cast<double>(mark.end_ns - start) * cpu_count());
  trace.stop_ns = cycle_.first_pause_ns;
  trace.mark_ns = report.mark_ns;
  trace.termination_ns = pause;
  trace.stop_cpu_ns = cycle_.first_pause_ns * cpu_count();
  trace.termination_cpu_ns = (cycle_.pauses_ns - cycle_.first_pause_ns) * cpu_count();
  trace.assist_cpu_ns = mark.assist_cpu_ns;
  trace.background_cpu_ns = mark.background_cpu_ns;
  trace.idle_cpu_ns = mark.idle_cpu_ns;
  trace.marking_threads = mark.marking_threads;
  trace.forced = cycle_.reason != CycleReason::kHeap;
  totals_.last = trace;
  return report;
}

CycleTotals CycleStats::totals() const {
  CycleTotals totals = totals_;
  const std::int64_t elapsed = now_ns() - library_start_ns();
  totals.gc_cpu_fraction =
      elapsed > 0 ? static_cast<double>(gc_cpu_ns_) / (static_cast<double>(elapsed) * cpu_count())
                  : 0;
  return totals;
}

}  // namespace gc::detail
