// bench_mark_scaling — what a full collection of a large live graph costs per object, and how it
// scales with the CPUs the collector may use.
//
// The graph: a complete binary tree of depth --depth (default 21: 4M nodes), each node with three
// pointers (left, right, and a cross edge to a node drawn at random with a fixed seed, so a mark
// cannot follow allocation order) and one word: 32 bytes, 128 MiB live. Every implementation builds
// the same graph and times --cycles (default 5) forced collections of it.
//
//   bench_mark_scaling --impl=tricolor|boehm|go [--depth=N] [--cycles=C]
//       One implementation in this process (go: the Go twin, bench/go/mark_graph, exec'd). Prints
//       RESULT impl=<name> cpus=<n> nodes=<n> collect_median_ms=<m> collect_min_ms=<m>
//              ns_per_object=<median ms per node> [gc_cpu_ms=<collector CPU per collection>]
//   bench_mark_scaling [--depth=N] [--cycles=C] [--impls=tricolor,go,boehm]
//       The scaling table: each implementation in a fresh process restricted to the first 1, 2, 4,
//       ... of the CPUs this process may use, then all of them. One command for any machine.
//
// gc::collect() and runtime.GC() both mark and then sweep the whole heap; Boehm's GC_gcollect()
// marks and sweeps lazily. tricolor's gc_cpu_ms is the collector's CPU time per collection (mark
// workers, idle marking, pauses), from gc::read_stats(); divided by the wall time it says how many
// CPUs marked.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tricolor/gc.hpp>
#include <vector>

#include "boehm_peer.hpp"
#include "driver.hpp"

namespace {

struct Options {
  std::string impl;  // empty: the scaling table
  std::string impls = "tricolor,go,boehm";
  int depth = 21;
  int cycles = 5;
};

// The same generator as the Go twin (xorshift64), so both graphs have the same cross edges.
struct Xorshift {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

struct Timings {
  long nodes = 0;
  std::vector<double> ms;
};

void print_result(const char* impl, const Timings& t, double gc_cpu_ms) {
  std::vector<double> ms = t.ms;
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  cpu_set_t set;
  const int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  std::printf(
      "RESULT impl=%s cpus=%d nodes=%ld collect_median_ms=%.2f collect_min_ms=%.2f "
      "ns_per_object=%.1f",
      impl, cpus, t.nodes, median, ms[0], median * 1e6 / static_cast<double>(t.nodes));
  if (gc_cpu_ms >= 0) std::printf(" gc_cpu_ms=%.1f", gc_cpu_ms);
  std::printf("\n");
}

// Builds the graph with `make` (a node) and `link` (sets one of its three pointer fields), then
// times the collections made by `collect`; `count` walks the tree afterwards. The root stays in
// this frame (a conservatively scanned root for both collectors); `all` is malloc'd, never scanned.
template <class Node, class Make, class Link, class Collect, class Count>
Timings run_graph(const Options& o, Make make, Link link, Collect collect, Count count) {
  Timings t;
  std::vector<Node> all;
  all.reserve((std::size_t{1} << (o.depth + 1)) - 1);
  // Depth first, each node before its children, as the Go twin builds it.
  struct Frame {
    Node node;
    int depth;
  };
  std::vector<Frame> stack;
  Node root = make(0);
  all.push_back(root);
  stack.push_back({root, o.depth});
  while (!stack.empty()) {
    const Frame f = stack.back();
    stack.pop_back();
    if (f.depth == 0) continue;
    Node l = make(all.size());
    all.push_back(l);
    Node r = make(all.size());
    all.push_back(r);
    link(f.node, 0, l);
    link(f.node, 1, r);
    stack.push_back({r, f.depth - 1});
    stack.push_back({l, f.depth - 1});
  }
  Xorshift random;
  for (Node n : all) link(n, 2, all[random.next() % all.size()]);
  t.nodes = static_cast<long>(all.size());
  all.clear();
  all.shrink_to_fit();
  collect();
  for (int i = 0; i < o.cycles; ++i) {
    const auto start = std::chrono::steady_clock::now();
    collect();
    t.ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  if (count(root) != t.nodes) {
    std::fprintf(stderr, "the tree lost nodes\n");
    std::exit(1);
  }
  return t;
}

struct GcNode {
  gc::ptr<GcNode> left, right, cross;
  std::uintptr_t word = 0;
};

long count_gc(const GcNode* n) {
  return n == nullptr ? 0 : 1 + count_gc(n->left.get()) + count_gc(n->right.get());
}

int run_tricolor(const Options& o) {
  std::uint64_t cpu_before = 0;
  const Timings t = run_graph<GcNode*>(
      o,
      [](std::size_t i) {
        gc::ptr<GcNode> n = gc::make<GcNode>();
        n->word = i;
        return n.get();
      },
      [&](GcNode* from, int field, GcNode* to) {
        gc::ptr<GcNode>& slot = field == 0 ? from->left : field == 1 ? from->right : from->cross;
        slot = gc::ptr<GcNode>(to);
      },
      [&] {
        if (cpu_before == 0) cpu_before = gc::read_stats().gc_total_cpu_ns + 1;
        gc::collect();
      },
      [](GcNode* root) { return count_gc(root); });
  // Collector CPU of the timed collections: everything after the first (untimed) one.
  const gc::stats s = gc::read_stats();
  print_result("tricolor", t,
               static_cast<double>(s.gc_total_cpu_ns - (cpu_before - 1)) / 1e6 / (o.cycles + 1));
  return 0;
}

#if TRICOLOR_HAVE_BOEHM
struct BoehmNode {
  BoehmNode *left, *right, *cross;
  std::uintptr_t word;
};

long count_boehm(const BoehmNode* n) {
  return n == nullptr ? 0 : 1 + count_boehm(n->left) + count_boehm(n->right);
}

int run_boehm(const Options& o) {
  bench::boehm_setup();
  const Timings t = run_graph<BoehmNode*>(
      o,
      [](std::size_t i) {
        auto* n = static_cast<BoehmNode*>(GC_MALLOC(sizeof(BoehmNode)));
        n->word = i;
        return n;
      },
      [](BoehmNode* from, int field, BoehmNode* to) {
        (field == 0 ? from->left : field == 1 ? from->right : from->cross) = to;
      },
      [] { GC_gcollect(); }, [](BoehmNode* root) { return count_boehm(root); });
  print_result("boehm", t, -1);
  return 0;
}
#endif

const char* go_program() {
  static const char* const path = TRICOLOR_MARK_GRAPH_GO;
  return path[0] != '\0' && ::access(path, X_OK) == 0 ? path : nullptr;
}

int run_one(const Options& o) {
  if (o.impl == "tricolor") return run_tricolor(o);
#if TRICOLOR_HAVE_BOEHM
  if (o.impl == "boehm") return run_boehm(o);
#endif
  if (o.impl == "go" && go_program() != nullptr) {
    const bench::detail::ProgramRun run =
        bench::detail::run_program(go_program(),
                                   {go_program(), "--depth=" + std::to_string(o.depth),
                                    "--cycles=" + std::to_string(o.cycles)},
                                   3600, "bench_mark_scaling");
    std::fputs(run.out.c_str(), stdout);
    if (!run.failure.empty()) std::fprintf(stderr, "the Go twin %s\n", run.failure.c_str());
    return run.failure.empty() ? 0 : 1;
  }
  std::fprintf(stderr, "bench_mark_scaling: implementation %s is not available\n", o.impl.c_str());
  return 2;
}

// The value of `key=` in a RESULT line, or "".
std::string field(const std::string& line, const std::string& key) {
  const std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return "";
  const std::size_t start = at + key.size() + 2;
  return line.substr(start, line.find(' ', start) - start);
}

// The scaling table: every implementation in a child restricted to the first k allowed CPUs.
int run_table(const Options& o, const char* argv0) {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  std::vector<int> counts;
  for (int k = 1; k < static_cast<int>(cpus.size()); k *= 2) counts.push_back(k);
  counts.push_back(static_cast<int>(cpus.size()));
  std::vector<std::string> impls;
  for (std::size_t pos = 0; pos <= o.impls.size();) {
    const std::size_t comma = std::min(o.impls.find(',', pos), o.impls.size());
    if (comma > pos) impls.push_back(o.impls.substr(pos, comma - pos));
    pos = comma + 1;
  }
  std::printf(
      "A full collection of %ld live nodes (depth %d, 3 pointers each, 32 B), median of %d\n",
      (2L << o.depth) - 1, o.depth, o.cycles);
  std::printf("| CPUs |");
  for (const std::string& impl : impls)
    std::printf(" %s ms | %s ns/object |", impl.c_str(), impl.c_str());
  std::printf(" tricolor CPUs marking |\n|---|");
  for (std::size_t i = 0; i < impls.size(); ++i) std::printf("---|---|");
  std::printf("---|\n");
  int failures = 0;
  for (const int k : counts) {
    cpu_set_t subset;
    CPU_ZERO(&subset);
    for (int i = 0; i < k; ++i) CPU_SET(cpus[static_cast<std::size_t>(i)], &subset);
    std::printf("| %d |", k);
    std::string busy = "";
    for (const std::string& impl : impls) {
      // The child inherits the affinity: set it on this (single-threaded) driver around the fork.
      ::sched_setaffinity(0, sizeof subset, &subset);
      const bench::detail::ProgramRun run =
          bench::detail::run_program("/proc/self/exe",
                                     {argv0, "--impl=" + impl, "--depth=" + std::to_string(o.depth),
                                      "--cycles=" + std::to_string(o.cycles)},
                                     3600, "bench_mark_scaling");
      ::sched_setaffinity(0, sizeof allowed, &allowed);
      std::string line;
      bench::for_each_line(run.out, [&](const std::string& l) {
        if (l.rfind("RESULT ", 0) == 0) line = l;
      });
      if (!run.failure.empty() || line.empty()) {
        std::printf(" %s | |", run.failure.empty() ? "no result" : run.failure.c_str());
        ++failures;
        continue;
      }
      std::printf(" %s | %s |", field(line, "collect_median_ms").c_str(),
                  field(line, "ns_per_object").c_str());
      if (impl == "tricolor") {
        const double wall = std::atof(field(line, "collect_median_ms").c_str());
        const double cpu = std::atof(field(line, "gc_cpu_ms").c_str());
        char text[32];
        std::snprintf(text, sizeof text, "%.1f", wall > 0 ? cpu / wall : 0.0);
        busy = text;
      }
      std::fflush(stdout);
    }
    std::printf(" %s |\n", busy.c_str());
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](const char* key) -> const char* {
      const std::size_t n = std::strlen(key);
      return arg.compare(0, n, key) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--impl=")) {
      o.impl = v;
    } else if (const char* v = value("--impls=")) {
      o.impls = v;
    } else if (const char* v = value("--depth=")) {
      o.depth = std::atoi(v);
    } else if (const char* v = value("--cycles=")) {
      o.cycles = std::atoi(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--impl=tricolor|boehm|go] [--impls=a,b,...] [--depth=N] "
                   "[--cycles=C]\n",
                   argv[0]);
      return 2;
    }
  }
  if (o.depth < 1 || o.depth > 26 || o.cycles < 1) {
    std::fprintf(stderr, "bench_mark_scaling: --depth must be 1..26 and --cycles at least 1\n");
    return 2;
  }
  return o.impl.empty() ? run_table(o, argv[0]) : run_one(o);
}
