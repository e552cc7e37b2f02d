// demo: several threads build and drop object graphs for about three seconds while the collector
// reclaims them, then a summary of what the collector did.
//
//   cmake --workflow --preset demo     (builds this as tricolor_demo and runs it with
//                                       GODEBUG=gctrace=1, so each cycle prints a line on stderr)
//
// Each worker thread loops: build a binary tree of random depth and check its sum; build a ring of
// nodes (a cycle, which reference counting could not free) and walk it; keep every eighth tree in a
// small window of recent trees, dropping the oldest. A tree and a ring of long-lived data, built
// before the workers start, must come through every cycle intact.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

// A tree node owns nothing but gc::ptrs and a number, so its (implicit) destructor may be skipped
// when it is collected: no entry in the destructor queue.
struct TreeNode {
  gc::ptr<TreeNode> left, right;
  std::uint64_t value = 0;
};

}  // namespace

template <>
inline constexpr bool gc::collect_without_destructor<TreeNode> = true;

namespace {

// A ring node has a std::string, so its destructor runs (on the library's destructor thread) when
// the ring is collected.
struct RingNode {
  RingNode(std::uint32_t i, std::string t) : index(i), tag(std::move(t)) {}
  ~RingNode() { destroyed.fetch_add(1, std::memory_order_relaxed); }
  gc::ptr<RingNode> next;
  std::uint32_t index;
  std::string tag;
  static inline std::atomic<std::uint64_t> destroyed{0};
};

constexpr auto kRunTime = std::chrono::seconds(3);
constexpr int kLongLivedDepth = 17;  // 131,071 nodes, 4 MiB
constexpr std::uint32_t kLongLivedRing = 10'000;
constexpr std::size_t kWindow = 16;  // recent trees each worker keeps

// Builds a complete tree of `depth` levels, numbering nodes from `next_value`; adds their values
// to `sum`.
gc::ptr<TreeNode> build_tree(int depth, std::uint64_t& next_value, std::uint64_t& sum) {
  if (depth == 0) return nullptr;
  gc::ptr<TreeNode> node = gc::make<TreeNode>();
  node->value = next_value++;
  sum += node->value;
  node->left = build_tree(depth - 1, next_value, sum);
  node->right = build_tree(depth - 1, next_value, sum);
  return node;
}

std::uint64_t tree_sum(const gc::ptr<TreeNode>& node) {
  return node ? node->value + tree_sum(node->left) + tree_sum(node->right) : 0;
}

gc::ptr<RingNode> build_ring(std::uint32_t length, const std::string& tag) {
  gc::ptr<RingNode> first = gc::make<RingNode>(0, tag);
  gc::ptr<RingNode> last = first;
  for (std::uint32_t i = 1; i < length; ++i) {
    last->next = gc::make<RingNode>(i, tag);
    last = last->next;
  }
  last->next = first;  // close the cycle
  return first;
}

// True if the ring has `length` nodes numbered 0, 1, ... and comes back to its start.
bool ring_intact(const gc::ptr<RingNode>& first, std::uint32_t length, const std::string& tag) {
  gc::ptr<RingNode> node = first;
  for (std::uint32_t i = 0; i < length; ++i, node = node->next)
    if (!node || node->index != i || node->tag != tag) return false;
  return node == first;
}

struct WorkerCounts {
  std::uint64_t trees = 0, tree_nodes = 0, rings = 0, ring_nodes = 0, errors = 0;
};

void worker(unsigned id, std::chrono::steady_clock::time_point deadline, WorkerCounts& out) {
  std::minstd_rand random(id + 1);
  std::vector<gc::ptr<TreeNode>> window(kWindow);  // medium-lived: survives a few cycles
  std::vector<std::uint64_t> window_sums(kWindow);
  const std::string tag = "ring of worker " + std::to_string(id);
  WorkerCounts c;
  while (std::chrono::steady_clock::now() < deadline) {
    const int depth = 6 + static_cast<int>(random() % 7);  // 63 to 4,095 nodes
    std::uint64_t next_value = random(), sum = 0;
    gc::ptr<TreeNode> tree = build_tree(depth, next_value, sum);
    if (tree_sum(tree) != sum) ++c.errors;
    ++c.trees;
    c.tree_nodes += (std::uint64_t{1} << depth) - 1;
    if (c.trees % 8 == 0) {
      const std::size_t slot = (c.trees / 8) % kWindow;
      if (window[slot] && tree_sum(window[slot]) != window_sums[slot]) ++c.errors;
      window[slot] = tree;  // the tree it replaces becomes garbage
      window_sums[slot] = sum;
    }

    const std::uint32_t length = 100 + random() % 900;
    gc::ptr<RingNode> ring = build_ring(length, tag);
    if (!ring_intact(ring, length, tag)) ++c.errors;
    ++c.rings;
    c.ring_nodes += length;
  }
  out = c;
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }
double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// The p-th percentile (0..100) of the pauses of the last min(num_gc, 256) cycles.
double pause_percentile_ms(const gc::stats& s, double p) {
  const std::uint64_t n = std::min<std::uint64_t>(s.num_gc, s.pause_ns.size());
  if (n == 0) return 0;
  std::vector<std::uint64_t> pauses;
  for (std::uint64_t k = 0; k < n; ++k)  // the latest is at (num_gc + 255) % 256
    pauses.push_back(s.pause_ns[(s.num_gc + 255 - k) % 256]);
  std::sort(pauses.begin(), pauses.end());
  const auto rank = static_cast<std::size_t>(p / 100 * static_cast<double>(n - 1) + 0.5);
  return ms(pauses[rank]);
}

}  // namespace

int main() {
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::printf(
      "tricolor demo\n"
      "  %u threads build binary trees and cyclic rings and drop them, for %lld seconds.\n"
      "  The collector finds and frees the garbage on its own; with GODEBUG=gctrace=1 each\n"
      "  cycle prints a \"gc N @...\" line on stderr. A summary follows on stdout.\n\n",
      threads, static_cast<long long>(kRunTime.count()));
  std::fflush(stdout);

  // Long-lived data: reachable from main for the whole run.
  std::uint64_t next_value = 1, long_lived_sum = 0;
  const gc::ptr<TreeNode> long_lived_tree = build_tree(kLongLivedDepth, next_value, long_lived_sum);
  const gc::ptr<RingNode> long_lived_ring = build_ring(kLongLivedRing, "long-lived");

  const auto start = std::chrono::steady_clock::now();
  std::vector<WorkerCounts> counts(threads);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i)
    workers.emplace_back(worker, i, start + kRunTime, std::ref(counts[i]));
  {
    // main holds managed objects but touches none while it waits. Said so, the collector counts it
    // as stopped instead of waiting for it (and then signalling it) at every stop-the-world.
    gc::blocking_region waiting;
    for (std::thread& t : workers) t.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const bool tree_ok = tree_sum(long_lived_tree) == long_lived_sum;
  const bool ring_ok = ring_intact(long_lived_ring, kLongLivedRing, "long-lived");
  const gc::stats s = gc::read_stats();

  WorkerCounts total;
  for (const WorkerCounts& c : counts) {
    total.trees += c.trees;
    total.tree_nodes += c.tree_nodes;
    total.rings += c.rings;
    total.ring_nodes += c.ring_nodes;
    total.errors += c.errors;
  }
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("summary after %.2f s\n", seconds);
  std::printf(
      "  work         %llu trees (%llu nodes) and %llu rings (%llu nodes) built and dropped\n",
      u(total.trees), u(total.tree_nodes), u(total.rings), u(total.ring_nodes));
  std::printf("  cycles       %llu collections (%llu forced by gc::collect)\n", u(s.num_gc),
              u(s.num_forced_gc));
  std::printf(
      "  pauses       total %.3f ms, max %.3f ms (mark start and termination stop the world)\n",
      ms(s.pause_total_ns), ms(s.pause_max_ns));
  std::printf("               p50 %.3f ms, p90 %.3f ms, p99 %.3f ms over the last %llu cycles\n",
              pause_percentile_ms(s, 50), pause_percentile_ms(s, 90), pause_percentile_ms(s, 99),
              u(std::min<std::uint64_t>(s.num_gc, 256)));
  std::printf("  heap         %.1f MiB obtained from the OS (heap_sys), %.1f MiB in objects\n",
              mib(s.heap_sys), mib(s.heap_alloc));
  std::printf("               (heap_alloc), next cycle at %.1f MiB (next_gc)\n", mib(s.next_gc));
  std::printf("  bookkeeping  %.1f MiB (metadata_sys); the memory limit counts %.1f MiB\n",
              mib(s.metadata_sys), mib(s.sys - s.heap_released));
  std::printf("               (sys - heap_released)\n");
  std::printf("  objects      %llu allocated (%.0f MiB in all), %llu freed; %llu ring-node\n",
              u(s.mallocs), mib(s.total_alloc), u(s.frees), u(RingNode::destroyed.load()));
  std::printf("               destructors run on the destructor thread\n");
  std::printf(
      "  gc cpu       %.1f%% of the available CPU time since start (gc_cpu_fraction %.4f)\n",
      100 * s.gc_cpu_fraction, s.gc_cpu_fraction);
  std::printf("  long-lived   tree of %d nodes: %s; ring of %u nodes: %s\n",
              (1 << kLongLivedDepth) - 1, tree_ok ? "intact" : "CORRUPTED", kLongLivedRing,
              ring_ok ? "intact" : "CORRUPTED");
  std::printf("  checks       %llu errors in the workers' own trees and rings\n", u(total.errors));
  return tree_ok && ring_ok && total.errors == 0 ? 0 : 1;
}
