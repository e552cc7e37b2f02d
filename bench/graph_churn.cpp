// bench_graph_churn — several threads build object graphs, walk them, keep a few and drop the rest:
// the multi-threaded allocation workload of docs/benchmarks.md, four ways.
//
// Why: binary-trees and GCBench allocate trees, where every object has one owner. Real object
// graphs share nodes (several pointers to one object), which is where reference counting pays an
// update per pointer and where manual memory management needs an owner list; and several threads
// allocate at once, which is what per-thread allocation caches and a concurrent collector are for.
//
// Workload, per thread (--threads=T; docs/benchmarks.md runs 2; each thread loops on its own data):
//   until the thread has allocated its share 2^depth / T of the nodes (--depth=N, default 22):
//     1. pick a graph size n = 2^(7 + r % 7) (128 to 8,192 nodes) from the thread's own generator
//        (std::mt19937_64 seeded with the thread's number, so every implementation builds the very
//        same graphs);
//     2. build it from node n-1 down to node 0: node i points to nodes 2i+1 and 2i+2 (a heap-shaped
//        backbone, so node 0 reaches every node) and to one random node j > i (sharing: a node has
//        two parents on average). The nodes under construction are kept in a per-thread scratch
//        array that is cleared afterwards, so only node 0 holds the graph;
//     3. walk it from node 0 (an iterative depth-first search with a visit stamp per node), and
//        check that it reaches exactly n nodes whose values sum to what was stored;
//     4. keep every graph in a window of the thread's 16 most recent ones: the graph it replaces is
//        walked and checked once more (it has lived through the collections since it was built)
//        and then dropped.
//   Edges only point from a lower to a higher index, so the graphs are acyclic: that is what lets
//   std::shared_ptr free them (reference counting never frees a cycle; the collectors would collect
//   cyclic graphs the same way, see tests/ and examples/demo.cpp). A node is 3 pointers + 2 x
//   32-bit words (32 bytes with raw pointers and gc::ptr, 56 + a 16-byte control block with
//   shared_ptr). The program prints the number of graphs and nodes and a checksum of all walks;
//   every implementation must print the same lines (the driver compares them). A failed check
//   prints what the walk found on stderr and exits 1.
//
// Implementations (one per child process):
//   tricolor    gc::ptr edges, gc::make nodes, the scratch array a gc::make<gc::ptr<Node>[]>; a
//               dropped graph is left to the collector (the node is collect_without_destructor:
//               it holds nothing but gc::ptr and integers);
//   boehm       raw edges, GC_MALLOC nodes and scratch (only with libgc-dev);
//   shared_ptr  std::shared_ptr edges, std::make_shared nodes; dropping node 0 frees the graph;
//   new_delete  raw edges, new nodes; a graph owns a std::vector of its nodes and deletes them all
//               when it is dropped (the bookkeeping a program without a collector needs for
//               shared nodes).
// tools/bench_suite.py also runs new_delete with mimalloc preloaded (LD_PRELOAD).
//
// Usage (see bench/driver.hpp for the two modes):
//   bench_graph_churn --threads=2                  driver: every implementation, 3 processes each
//   bench_graph_churn --depth=24 --threads=2 --repeat=5
//   bench_graph_churn --impl=tricolor              one run in this process, prints a RESULT line
// The driver's table: median_s = median wall time of the whole workload (all threads; lower is
// better), min_s/max_s, peak_rss_MiB = median ru_maxrss of the children, vs_best.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <tricolor/gc.hpp>
#include <vector>

#include "boehm_peer.hpp"
#include "driver.hpp"

namespace {

constexpr int kMinLogSize = 7;  // smallest graph: 128 nodes
constexpr int kLogSizes = 7;    // ... up to 2^(7+6) = 8,192 nodes
constexpr std::size_t kMaxSize = std::size_t{1} << (kMinLogSize + kLogSizes - 1);
constexpr std::size_t kWindow = 16;  // graphs a thread keeps

struct NoScope {};

// --- the four implementations --------------------------------------------------------------------
// Each provides Node (edge[3] of type Ref, std::uint32_t value and stamp), Ref, Graph (what holds a
// built graph: its root, and for new_delete its nodes), Scratch (one per thread: slots for kMaxSize
// nodes under construction) with set(i, ref) / get(i) / clear(n), new_node(), root(graph),
// make_graph(scratch, n), add_roots / remove_roots(begin, end) (malloc memory that holds graphs:
// the window) and Scope / Wait for run_parallel.

// Declared (and marked collect_without_destructor) before anything makes one.
struct TricolorNode {
  gc::ptr<TricolorNode> edge[3];
  std::uint32_t value = 0, stamp = 0;
};

}  // namespace
template <>
inline constexpr bool gc::collect_without_destructor<TricolorNode> = true;
namespace {

struct Tricolor {
  using Node = TricolorNode;
  using Ref = gc::ptr<Node>;
  using Scope = NoScope;
  using Wait = gc::blocking_region;
  using Graph = gc::ptr<Node>;

  class Scratch {
   public:
    Scratch() : slots_(gc::make<gc::ptr<Node>[]>(kMaxSize)) {}
    void set(std::size_t i, Ref r) { slots_[i] = std::move(r); }
    const Ref& get(std::size_t i) const { return slots_[i]; }
    void clear(std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) slots_[i] = nullptr;
    }

   private:
    gc::ptr<gc::ptr<Node>[]> slots_;
  };

  static Ref new_node() { return gc::make<Node>(); }
  static Graph make_graph(Scratch& s, std::size_t) { return s.get(0); }
  static const Node* root(const Graph& g) { return g.get(); }
  static void add_roots(void*, void*) {}  // gc::ptr slots register themselves
  static void remove_roots(void*, void*) {}
};

#if TRICOLOR_HAVE_BOEHM
struct Boehm {
  struct Node {
    Node* edge[3];
    std::uint32_t value, stamp;
  };
  using Ref = Node*;
  using Scope = bench::BoehmThreadScope;
  using Wait = NoScope;
  using Graph = Node*;

  class Scratch {
   public:
    Scratch() : slots_(static_cast<Node**>(GC_MALLOC(kMaxSize * sizeof(Node*)))) {
      if (slots_ == nullptr) throw std::bad_alloc();
    }
    ~Scratch() { GC_FREE(slots_); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    void set(std::size_t i, Ref r) { slots_[i] = r; }
    Ref get(std::size_t i) const { return slots_[i]; }
    void clear(std::size_t n) { std::memset(slots_, 0, n * sizeof(Node*)); }

   private:
    Node** slots_;  // in Boehm's heap, so that it is scanned
  };

  static Ref new_node() {
    void* p = GC_MALLOC(sizeof(Node));  // zeroed
    if (p == nullptr) throw std::bad_alloc();
    return ::new (p) Node{{nullptr, nullptr, nullptr}, 0, 0};
  }
  static Graph make_graph(Scratch& s, std::size_t) { return s.get(0); }
  static const Node* root(Graph g) { return g; }
  static void setup(const bench::Options&) { bench::boehm_setup(); }
  // Boehm does not scan malloc memory: the window of kept graphs is registered as a root range.
  static void add_roots(void* begin, void* end) { GC_add_roots(begin, end); }
  static void remove_roots(void* begin, void* end) { GC_remove_roots(begin, end); }
};
#endif

struct SharedPtr {
  struct Node {
    std::shared_ptr<Node> edge[3];
    std::uint32_t value = 0, stamp = 0;
  };
  using Ref = std::shared_ptr<Node>;
  using Scope = NoScope;
  using Wait = NoScope;
  using Graph = std::shared_ptr<Node>;

  class Scratch {
   public:
    Scratch() : slots_(kMaxSize) {}
    void set(std::size_t i, Ref r) { slots_[i] = std::move(r); }
    const Ref& get(std::size_t i) const { return slots_[i]; }
    void clear(std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) slots_[i].reset();
    }

   private:
    std::vector<std::shared_ptr<Node>> slots_;
  };

  static Ref new_node() { return std::make_shared<Node>(); }
  static Graph make_graph(Scratch& s, std::size_t) { return s.get(0); }
  static const Node* root(const Graph& g) { return g.get(); }
  static void add_roots(void*, void*) {}
  static void remove_roots(void*, void*) {}
};

struct NewDelete {
  struct Node {
    Node* edge[3] = {nullptr, nullptr, nullptr};
    std::uint32_t value = 0, stamp = 0;
  };
  using Ref = Node*;
  using Scope = NoScope;
  using Wait = NoScope;

  // Owns its nodes: the only way to free a graph whose nodes have several parents without counts.
  class Graph {
   public:
    Graph() = default;
    explicit Graph(std::vector<Node*> nodes) : nodes_(std::move(nodes)) {}
    Graph(Graph&& other) noexcept : nodes_(std::move(other.nodes_)) {}
    Graph& operator=(Graph&& other) noexcept {
      if (this != &other) {
        release();
        nodes_ = std::move(other.nodes_);
      }
      return *this;
    }
    ~Graph() { release(); }
    const Node* root() const { return nodes_.empty() ? nullptr : nodes_[0]; }

   private:
    void release() {
      for (Node* n : nodes_) delete n;
      nodes_.clear();
    }
    std::vector<Node*> nodes_;
  };

  class Scratch {
   public:
    Scratch() : slots_(kMaxSize, nullptr) {}
    void set(std::size_t i, Ref r) { slots_[i] = r; }
    Ref get(std::size_t i) const { return slots_[i]; }
    void clear(std::size_t) {}  // make_graph moved the nodes out
    std::vector<Node*> take(std::size_t n) {
      std::vector<Node*> nodes(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(n));
      return nodes;
    }

   private:
    std::vector<Node*> slots_;
  };

  static Ref new_node() { return new Node; }
  static Graph make_graph(Scratch& s, std::size_t n) { return Graph(s.take(n)); }
  static const Node* root(const Graph& g) { return g.root(); }
  static void add_roots(void*, void*) {}
  static void remove_roots(void*, void*) {}
};

// --- building and walking, the same for every implementation -----------------------------------

template <class T>
T* raw_edge(T* p) {
  return p;
}
template <class T>
T* raw_edge(const gc::ptr<T>& p) {
  return p.get();
}
template <class T>
T* raw_edge(const std::shared_ptr<T>& p) {
  return p.get();
}

struct Expected {
  std::size_t nodes = 0;
  std::uint64_t sum = 0;
};

// Builds a graph of n nodes into `scratch` (see the workload above) and returns what holds it.
template <class I>
typename I::Graph build(typename I::Scratch& scratch, std::size_t n, std::mt19937_64& random,
                        Expected& expected) {
  expected = Expected{n, 0};
  for (std::size_t k = n; k-- > 0;) {
    typename I::Ref node = I::new_node();
    const auto value = static_cast<std::uint32_t>(random());
    node->value = value;
    expected.sum += value;
    if (2 * k + 1 < n) node->edge[0] = scratch.get(2 * k + 1);
    if (2 * k + 2 < n) node->edge[1] = scratch.get(2 * k + 2);
    if (k + 1 < n) node->edge[2] = scratch.get(k + 1 + random() % (n - k - 1));
    scratch.set(k, std::move(node));
  }
  typename I::Graph graph = I::make_graph(scratch, n);
  scratch.clear(n);
  return graph;
}

// Visits every node reachable from `root` once (stamp != `stamp` means not yet visited); `stack`
// is the thread's reusable work list. Raw pointers on the stack and in `stack` are enough: the
// graph is held by its Graph for the whole walk.
template <class Node>
Expected walk(const Node* root, std::uint32_t stamp, std::vector<Node*>& stack) {
  Expected seen;
  stack.clear();
  Node* start = const_cast<Node*>(root);
  start->stamp = stamp;
  stack.push_back(start);
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    ++seen.nodes;
    seen.sum += n->value;
    for (const auto& e : n->edge) {
      Node* next = raw_edge(e);
      if (next != nullptr && next->stamp != stamp) {
        next->stamp = stamp;
        stack.push_back(next);
      }
    }
  }
  return seen;
}

bool check(const char* when, int thread, std::uint64_t graph, const Expected& want,
           const Expected& got) {
  if (want.nodes == got.nodes && want.sum == got.sum) return true;
  std::fprintf(stderr,
               "graph_churn: WRONG WALK %s: thread %d, graph %" PRIu64
               ": reached %zu nodes with sum %" PRIu64 ", want %zu nodes with sum %" PRIu64 "\n",
               when, thread, graph, got.nodes, got.sum, want.nodes, want.sum);
  return false;
}

struct ThreadResult {
  std::uint64_t graphs = 0, nodes = 0, checksum = 0;
  bool ok = true;
};

template <class I>
ThreadResult churn(int thread, std::uint64_t share) {
  using Node = typename I::Node;
  ThreadResult r;
  std::mt19937_64 random(static_cast<std::uint64_t>(thread) + 1);
  typename I::Scratch scratch;
  std::vector<Node*> stack;
  stack.reserve(kMaxSize);
  struct Kept {
    typename I::Graph graph{};
    Expected expected;
    std::uint64_t number = 0;
  };
  std::vector<Kept> window(kWindow);
  I::add_roots(window.data(), window.data() + window.size());
  while (r.nodes < share) {
    const std::size_t n = std::size_t{1} << (kMinLogSize + random() % kLogSizes);
    Expected expected;
    typename I::Graph graph = build<I>(scratch, n, random, expected);
    r.ok &= check("after building", thread, r.graphs, expected, walk(I::root(graph), 1, stack));
    r.checksum += expected.sum * n;

    Kept& slot = window[r.graphs % kWindow];
    if (I::root(slot.graph) != nullptr)
      r.ok &= check("before dropping", thread, slot.number, slot.expected,
                    walk(I::root(slot.graph), 2, stack));
    slot = Kept{std::move(graph), expected, r.graphs};  // the old graph is dropped here
    ++r.graphs;
    r.nodes += n;
  }
  for (Kept& k : window) k = Kept{};
  I::remove_roots(window.data(), window.data() + window.size());
  return r;
}

template <class I>
bool run(const bench::Options& o) {
  const std::uint64_t total = std::uint64_t{1} << o.depth;
  const int threads = o.threads;
  std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
  bench::run_parallel<typename I::Scope, typename I::Wait>(threads, [&](int t) {
    results[static_cast<std::size_t>(t)] = churn<I>(t, total / static_cast<std::uint64_t>(threads));
  });
  ThreadResult sum;
  for (const ThreadResult& r : results) {
    sum.graphs += r.graphs;
    sum.nodes += r.nodes;
    sum.checksum += r.checksum;
    sum.ok &= r.ok;
  }
  std::printf("%d threads built, walked and dropped %" PRIu64 " graphs of %" PRIu64
              " nodes in all\n",
              threads, sum.graphs, sum.nodes);
  std::printf("checksum %016" PRIx64 "\n", sum.checksum);
  return sum.ok;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Program program{"graph_churn",
                         "log2 of the nodes allocated in all (split between the threads)",
                         22,
                         14,
                         30,
                         /*same_output=*/true,
                         {
                             {"tricolor", true, "", nullptr, &run<Tricolor>},
#if TRICOLOR_HAVE_BOEHM
                             {"boehm", true, "", &Boehm::setup, &run<Boehm>},
#else
                             {"boehm", false, "libgc-dev not found at build time", nullptr,
                              nullptr},
#endif
                             {"shared_ptr", true, "", nullptr, &run<SharedPtr>},
                             {"new_delete", true, "", nullptr, &run<NewDelete>},
                         }};
  return bench::main(program, argc, argv);
}
