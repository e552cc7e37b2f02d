// GODEBUG=gctrace=1: one line per cycle on stderr, in the format of Go's runtime:
//
//   gc 7 @1.204s 3%: 0.012+1.9+0.004 ms clock, 0.024+0.31/1.8/0+0.008 ms cpu, 9->10->4 MB,
//   9 MB goal, 0 MB stacks, 0 MB globals, 3 threads
//
// gc N        the cycle's number;            @Ts   seconds since the library started;
// P%          share of all CPU time spent collecting since the start;
// a+b+c clock wall time of mark start (stop-the-world), the concurrent mark, and mark termination
//             (stop-the-world; with failed termination attempts, the last one);
// cpu         CPU time: mark start (the pause times every core) + assist/background/idle mark +
//             mark termination (all its attempts, times every core); idle marking is the thread
//             of a blocking gc::collect(), which marks while it waits;
// A->B->C MB  heap at mark start, at mark termination, and marked live;
// D MB goal   the goal the cycle ran against; stacks and globals: bytes scanned as roots;
// N threads   threads registered with the collector. "(forced)" ends a cycle that collect() asked
// for.
#pragma once

#include <cstdint>

namespace gc::detail {

struct CycleTrace {
  std::uint64_t number = 0;
  std::int64_t since_start_ns = 0;
  double gc_cpu_percent = 0;
  std::int64_t stop_ns = 0;
  std::int64_t mark_ns = 0;
  std::int64_t termination_ns = 0;
  std::int64_t stop_cpu_ns = 0;
  std::int64_t assist_cpu_ns = 0;
  std::int64_t background_cpu_ns = 0;
  std::int64_t idle_cpu_ns = 0;
  std::uint32_t marking_threads = 0;  // not printed: gctrace keeps Go's format
  std::int64_t termination_cpu_ns = 0;
  std::int64_t heap_start = 0;
  std::int64_t heap_end = 0;
  std::int64_t heap_marked = 0;
  std::int64_t goal = 0;
  std::int64_t next_goal = 0;
  std::int64_t stack_bytes = 0;
  std::uint64_t roots = 0;
  std::uint32_t threads = 0;
  std::uint32_t signalled = 0;
  bool forced = false;
};

void print_gctrace(const CycleTrace& t);

// GODEBUG=scavtrace=1: one line after each cycle, and after free_os_memory ("(forced)"), in Go's
// format:
//
//   scav 1024 KiB work (bg), 0 KiB work (eager), 20480 KiB now, 87% util
//
// work (bg)     memory the scavenger returned to the OS since the last line;
// work (eager)  memory returned on the allocating thread (growth over the memory limit) or by
//               free_os_memory since the last line;
// now           memory returned to the OS at present (gc::stats::heap_released);
// util          in-use share of the memory the heap retains (committed minus released).
void print_scavenger_trace(bool forced);

}  // namespace gc::detail
