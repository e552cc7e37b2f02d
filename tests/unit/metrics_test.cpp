// gc::read_stats' metrics after Go's runtime/metrics: the last cycle's numbers, from which its
// gctrace line can be written again digit for digit; collector CPU by class; every stop of the
// world in the pause histogram; the allocated heap by size class; bytes ever scavenged.
// ctest-env: GODEBUG=gctrace=1
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "../support/support.hpp"

namespace {

struct Blob48 {
  char bytes[48];
};

// The gctrace line of a cycle, written from gc::stats alone (the format of docs/user-guide.md).
std::string gctrace_line(const gc::cycle_stats& c) {
  constexpr double kMs = 1e6;
  constexpr std::int64_t kMB = 1 << 20;
  char line[512];
  std::snprintf(
      line, sizeof line,
      "gc %llu @%.3fs %.0f%%: %.3f+%.3f+%.3f ms clock, %.3f+%.3f/%.3f/%.3f+%.3f ms cpu, "
      "%lld->%lld->%lld MB, %lld MB goal, %lld MB stacks, %lld MB globals, %u threads%s\n",
      static_cast<unsigned long long>(c.number), static_cast<double>(c.since_start_ns) / 1e9,
      c.gc_cpu_percent, static_cast<double>(c.mark_start_ns) / kMs,
      static_cast<double>(c.concurrent_mark_ns) / kMs, static_cast<double>(c.termination_ns) / kMs,
      static_cast<double>(c.mark_start_cpu_ns) / kMs, static_cast<double>(c.assist_cpu_ns) / kMs,
      static_cast<double>(c.background_cpu_ns) / kMs, static_cast<double>(c.idle_cpu_ns) / kMs,
      static_cast<double>(c.termination_cpu_ns) / kMs, static_cast<long long>(c.heap_start / kMB),
      static_cast<long long>(c.heap_end / kMB), static_cast<long long>(c.heap_marked / kMB),
      static_cast<long long>(c.goal / kMB), static_cast<long long>(c.stack_bytes / kMB),
      static_cast<long long>(c.roots * 8 / kMB), c.threads, c.forced ? " (forced)" : "");
  return line;
}

TEST(Metrics, TheLastCyclesGctraceLineCanBeWrittenFromStats) {
  gc::collect();  // the library started and its threads are made
  ::testing::internal::CaptureStderr();
  gc::collect();
  const gc::stats s = gc::read_stats();
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string line = gctrace_line(s.last_cycle);
  EXPECT_EQ(s.last_cycle.number, s.num_gc);
  EXPECT_NE(err.find(line), std::string::npos) << "stderr:\n" << err << "from stats:\n" << line;
}

TEST(Metrics, CpuByClassAddsUpAndEveryPauseIsInTheHistogram) {
  for (int i = 0; i < 3; ++i) gc::collect();
  const gc::stats s = gc::read_stats();
  EXPECT_EQ(s.gc_total_cpu_ns,
            s.gc_pause_cpu_ns + s.gc_assist_cpu_ns + s.gc_background_cpu_ns + s.gc_idle_cpu_ns);
  EXPECT_GT(s.gc_pause_cpu_ns, 0u);
  const std::uint64_t pauses =
      std::accumulate(s.pause_histogram.begin(), s.pause_histogram.end(), std::uint64_t{0});
  EXPECT_GE(pauses, 2 * s.num_gc);  // mark start and termination, at least
  // The histogram's total time is within a factor of two of the pauses' total, bucket by bucket.
  std::uint64_t low = 0;
  for (std::size_t i = 0; i < s.pause_histogram.size(); ++i)
    low += s.pause_histogram[i] * (std::uint64_t{1} << i);
  EXPECT_LE(low, s.pause_total_ns);
  EXPECT_GT(2 * low + pauses, s.pause_total_ns);
  EXPECT_EQ(s.heap_live, static_cast<std::uint64_t>(s.last_cycle.heap_marked));
}

TEST(Metrics, TheHeapBySizeClassAddsUpToTheAllocatedHeap) {
  std::vector<gc::ptr<Blob48>> kept;
  for (int i = 0; i < 5000; ++i) kept.push_back(gc::make<Blob48>());
  gc::ptr<char[]> large = gc::make<char[]>(1 << 20);
  const gc::stats s = gc::read_stats();
  std::uint64_t bytes = 0;
  for (const gc::size_class_stats& c : s.by_size) bytes += c.bytes;
  EXPECT_EQ(bytes, s.heap_alloc);
  bool found = false;
  for (const gc::size_class_stats& c : s.by_size)
    if (c.size == 48) found = c.objects >= 5000;
  EXPECT_TRUE(found);
  EXPECT_GE(s.by_size[0].bytes, std::uint64_t{1} << 20);  // the large objects' entry
}

TEST(Metrics, ScavengedBytesAreCounted) {
  test::in_thread([] {
    std::vector<gc::ptr<Blob48>> garbage;
    for (int i = 0; i < 200000; ++i) garbage.push_back(gc::make<Blob48>());
  });
  gc::free_os_memory();
  const gc::stats s = gc::read_stats();
  EXPECT_GT(s.heap_scavenged_total, 0u);
  EXPECT_GE(s.heap_scavenged_total, s.heap_released);
}

}  // namespace
