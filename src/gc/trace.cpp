#include "gc/trace.hpp"

#include <cstdio>

#include "heap/page_heap.hpp"
#include "heap/scavenger.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

void print_gctrace(const CycleTrace& t) {
  constexpr double kMs = 1e6;
  constexpr std::int64_t kMB = 1 << 20;
  std::fprintf(
      stderr,
      "gc %llu @%.3fs %.0f%%: %.3f+%.3f+%.3f ms clock, %.3f+%.3f/%.3f/%.3f+%.3f ms cpu, "
      "%lld->%lld->%lld MB, %lld MB goal, %lld MB stacks, %lld MB globals, %u threads%s\n",
      static_cast<unsigned long long>(t.number), static_cast<double>(t.since_start_ns) / 1e9,
      t.gc_cpu_percent, static_cast<double>(t.stop_ns) / kMs, static_cast<double>(t.mark_ns) / kMs,
      static_cast<double>(t.termination_ns) / kMs, static_cast<double>(t.stop_cpu_ns) / kMs,
      static_cast<double>(t.assist_cpu_ns) / kMs, static_cast<double>(t.background_cpu_ns) / kMs,
      static_cast<double>(t.idle_cpu_ns) / kMs, static_cast<double>(t.termination_cpu_ns) / kMs,
      static_cast<long long>(t.heap_start / kMB), static_cast<long long>(t.heap_end / kMB),
      static_cast<long long>(t.heap_marked / kMB), static_cast<long long>(t.goal / kMB),
      static_cast<long long>(t.stack_bytes / kMB), static_cast<long long>(t.roots * 8 / kMB),
      t.threads, t.forced ? " (forced)" : "");
}

void print_scavenger_trace(bool forced) {
  std::size_t background = take_background_released();
  std::size_t eager = 0;
  std::size_t released = 0;
  std::size_t inuse = 0;
  std::size_t retained = 0;
  {
    CriticalSection critical;
    PageHeap& heap = page_heap();
    eager = heap.take_eager_released();
    released = heap.released_bytes();
    inuse = heap.inuse_bytes();
    retained = heap.retained_bytes();
  }
  std::fprintf(stderr, "scav %zu KiB work (bg), %zu KiB work (eager), %zu KiB now, %zu%% util%s\n",
               background >> 10, eager >> 10, released >> 10,
               retained == 0 ? 100 : inuse * 100 / retained, forced ? " (forced)" : "");
}

}  // namespace gc::detail
