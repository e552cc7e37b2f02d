// bench_mark_scaling — how marking scales with the mark workers: a large, pointer-rich live heap
// (a binary tree of depth --depth, default 21: 4M nodes, 128 MiB) marked by forced collections.
//
// The collector runs its mark on a quarter of the CPUs the process may use (at least one thread),
// so running this under `taskset -c 0-3` and `taskset -c 0-15` compares one mark thread with four.
// Each of --cycles (default 5) gc::collect() calls is timed; with GODEBUG=gctrace=1 the middle
// number of each "clock" triple is the concurrent mark's wall time alone. Prints the median and the
// fastest collect() time, and the CPUs this process may use.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

struct Node {
  gc::ptr<Node> left, right;
};

gc::ptr<Node> build(int depth) {
  auto node = gc::make<Node>();
  if (depth > 0) {
    node->left = build(depth - 1);
    node->right = build(depth - 1);
  }
  return node;
}

long count(const Node* n) {
  return n == nullptr ? 0 : 1 + count(n->left.get()) + count(n->right.get());
}

int flag(int argc, char** argv, const char* name, int fallback) {
  const std::size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
      return std::atoi(argv[i] + len + 1);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int depth = flag(argc, argv, "--depth", 21);
  const int cycles = flag(argc, argv, "--cycles", 5);
  cpu_set_t set;
  const int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  gc::ptr<Node> tree = build(depth);
  const long nodes = count(tree.get());
  std::vector<double> ms;
  for (int i = 0; i < cycles; ++i) {
    const auto start = std::chrono::steady_clock::now();
    gc::collect();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  if (count(tree.get()) != nodes) {
    std::fprintf(stderr, "the tree lost nodes\n");
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("RESULT cpus=%d nodes=%ld live_mib=%.0f collect_median_ms=%.2f collect_min_ms=%.2f\n",
              cpus, nodes, static_cast<double>(nodes) * sizeof(Node) / 1048576.0, ms[ms.size() / 2],
              ms[0]);
}
