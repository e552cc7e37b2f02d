// bench_idle_mark — how long the marks of a program that leaves CPUs idle take: one that keeps a
// large tree and allocates in short bursts with sleeps between them, as a server between requests
// does. No thread waits for the marks the pacer starts, so the CPUs the program leaves idle help
// only through the spare-CPU mark workers (src/gc/mark_workers.hpp).
//
//   bench_idle_mark [--depth=20] [--seconds=5] [--burst=2000] [--sleep_us=1000]
//
// Keeps a complete binary tree of depth --depth (2 Mi nodes at 20, 32 MiB), then for --seconds
// allocates --burst objects of 128 bytes (garbage at once) and sleeps --sleep_us, over and over.
// Prints one line per cycle and then
//   RESULT cycles=<n> mark_median_ms=<m> marking_threads_median=<t> idle_cpu_ms_median=<c>
// where the mark is the concurrent mark's wall time (gctrace's second clock figure), the threads
// are those that marked in drains of their own (gc::cycle_stats::marking_threads), and idle CPU
// is the spare-CPU workers' (gc::cycle_stats::idle_cpu_ns). Run it twice, alternating, to compare
// two builds: the host's noise moves the marks by a tenth.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

struct Node {
  gc::ptr<Node> left, right;
};

gc::ptr<Node> tree(int depth) {
  auto n = gc::make<Node>();
  if (depth > 0) {
    n->left = tree(depth - 1);
    n->right = tree(depth - 1);
  }
  return n;
}

struct Garbage {
  std::uint64_t words[16];
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int depth = 20, seconds = 5, burst = 2000, sleep_us = 1000;
  for (int i = 1; i < argc; ++i) {
    if (std::sscanf(argv[i], "--depth=%d", &depth) == 1 ||
        std::sscanf(argv[i], "--seconds=%d", &seconds) == 1 ||
        std::sscanf(argv[i], "--burst=%d", &burst) == 1 ||
        std::sscanf(argv[i], "--sleep_us=%d", &sleep_us) == 1)
      continue;
    std::fprintf(stderr, "usage: %s [--depth=20] [--seconds=5] [--burst=2000] [--sleep_us=1000]\n",
                 argv[0]);
    return 2;
  }
  const gc::ptr<Node> root = tree(depth);
  std::vector<double> mark_ms, threads, idle_ms;
  std::uint64_t seen = gc::read_stats().num_gc;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < burst; ++i) {
      auto g = gc::make<Garbage>();
      g->words[0] = static_cast<std::uint64_t>(i);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    const gc::stats s = gc::read_stats();
    if (s.num_gc == seen) continue;
    seen = s.num_gc;
    const gc::cycle_stats& c = s.last_cycle;
    mark_ms.push_back(static_cast<double>(c.concurrent_mark_ns) / 1e6);
    threads.push_back(c.marking_threads);
    idle_ms.push_back(static_cast<double>(c.idle_cpu_ns) / 1e6);
    std::printf("gc %llu: mark %.2f ms, %u marking threads, idle CPU %.2f ms\n",
                static_cast<unsigned long long>(c.number), mark_ms.back(), c.marking_threads,
                idle_ms.back());
  }
  if (!root->left || !root->right) return 1;
  std::printf(
      "RESULT cycles=%zu mark_median_ms=%.2f marking_threads_median=%.0f "
      "idle_cpu_ms_median=%.2f\n",
      mark_ms.size(), median(mark_ms), median(threads), median(idle_ms));
  return 0;
}
