// bench_gcbench — Hans Boehm's GCBench (John Ellis and Pete Kovac's benchmark, C++ port by Boehm),
// four ways.
//
// Workload (the classic constants; --depth=N sets kLongLivedTreeDepth = kMaxTreeDepth = N and
// kStretchTreeDepth = N + 2, so the default --depth=16 is exactly the original):
//   kStretchTreeDepth 18, kLongLivedTreeDepth 16, kArraySize 500000 doubles, kMinTreeDepth 4,
//   kMaxTreeDepth 16. A node is { left, right, int i, j } (24 bytes with 8-byte pointers).
//   1. "stretch" the heap: build a tree of depth 18 bottom-up and drop it;
//   2. build a long-lived tree of depth 16 top-down (Populate) and a long-lived array of 500000
//      doubles (pointer-free), half of it filled with 1.0/i; both stay alive to the end;
//   3. for d = 4, 6, ..., 16: NumIters(d) = 2 * TreeSize(18) / TreeSize(d) trees of depth d are
//      built top-down (Populate: the parent exists before its children, so the young children are
//      stored into older objects — the write-barrier case) and dropped, then as many bottom-up
//      (MakeTree: children first) and dropped; each phase's time is printed;
//   4. the long-lived tree (node count) and the array (array[1000] == 1.0/1000, size) are checked.
// Every phase also counts the nodes of its first tree (per thread) and checks TreeSize(d); a
// mismatch is printed on stderr and the process exits 1. The original only checks that the
// long-lived objects still exist.
//
// Implementations (one per child process):
//   tricolor    struct Node { gc::ptr<Node> left, right; int i, j; }, gc::make; the array is
//               gc::make<double[]>(kArraySize); trees are dropped and the collector reclaims them;
//   boehm       GC_MALLOC nodes, GC_MALLOC_ATOMIC array (only with libgc-dev);
//   shared_ptr  std::make_shared nodes, std::make_shared<double[]> array; dropping frees;
//   new_delete  new / explicit recursive delete (the original's non-GC variant), new double[].
//
// --threads=T (1..16; 1 and 2 are the intended values): each phase's iterations are split between T
// threads, each building its own trees; the long-lived tree and array are shared, and every worker
// also walks the long-lived tree once per depth and verifies its count.
//
// Usage (see bench/driver.hpp for the two modes):
//   bench_gcbench                        driver: every implementation, 3 processes each
//   bench_gcbench --threads=2 --repeat=5
//   bench_gcbench --impl=boehm           one run in this process: the classic output + RESULT line
// Output: the classic GCBench lines (with per-phase "construction took N msec"); the driver shows
// the first child's output, then a table: median_s = median wall time of the whole benchmark
// (from the stretch tree to the final check; lower is better), min_s/max_s, peak_rss_MiB = median
// ru_maxrss of the children, vs_best = median_s over the fastest median. Live data peaks at about
// 2 * 24 * TreeSize(16) + 8 * 500000 bytes = 10.3 MB, so peak RSS above that is the heap
// strategy's overhead (heap growth policy, fragmentation, allocator caches).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <tricolor/gc.hpp>
#include <vector>

#include "boehm_peer.hpp"
#include "driver.hpp"

namespace {

constexpr int kArraySize = 500000;
constexpr int kMinTreeDepth = 4;

struct Params {
  int stretch_depth;
  int long_lived_depth;
  int max_depth;
};

Params params_for(int depth) { return {depth + 2, depth, depth}; }

constexpr long tree_size(int depth) { return (2L << depth) - 1; }
long num_iters(const Params& p, int depth) {
  return 2 * tree_size(p.stretch_depth) / tree_size(depth);
}

struct NoScope {};

// --- the four implementations -------------------------------------------------------------------
// Each provides Node (with left, right of type Ref, and int i, j), Ref, Array, new_node(),
// new_array(n), raw(ref), array_data(array), drop(ref), Scope / Wait for run_parallel, and
// diagnostics() (the original's PrintDiagnostics).

struct Tricolor {
  struct Node {
    gc::ptr<Node> left, right;
    int i = 0, j = 0;
  };
  using Ref = gc::ptr<Node>;
  using Array = gc::ptr<double[]>;
  using Scope = NoScope;
  using Wait = gc::blocking_region;

  static Ref new_node() { return gc::make<Node>(); }
  static Array new_array(std::size_t n) { return gc::make<double[]>(n); }
  static std::size_t array_size(const Array& a) { return a.size(); }
  static double* array_data(const Array& a) { return a.get(); }
  static Node* raw(const Ref& r) { return r.get(); }
  static void drop(Ref& r) { r.reset(); }
  static void diagnostics() {
    const gc::stats s = gc::read_stats();
    std::printf(
        " Total memory available=%llu bytes  Free memory=%llu bytes  (tricolor heap_sys, "
        "heap_sys-heap_alloc)\n",
        static_cast<unsigned long long>(s.heap_sys),
        static_cast<unsigned long long>(s.heap_sys - std::min(s.heap_sys, s.heap_alloc)));
  }
};

#if TRICOLOR_HAVE_BOEHM
struct Boehm {
  struct Node {
    Node* left;
    Node* right;
    int i, j;
  };
  using Ref = Node*;
  using Array = double*;
  using Scope = bench::BoehmThreadScope;
  using Wait = NoScope;

  static Ref new_node() {
    void* p = GC_MALLOC(sizeof(Node));  // zeroed
    if (p == nullptr) throw std::bad_alloc();
    return ::new (p) Node{nullptr, nullptr, 0, 0};
  }
  static Array new_array(std::size_t n) {
    void* p = GC_MALLOC_ATOMIC(sizeof(double) * n);  // not zeroed
    if (p == nullptr) throw std::bad_alloc();
    double* a = static_cast<double*>(p);
    for (std::size_t k = 0; k < n; ++k) a[k] = 0.0;
    return a;
  }
  static std::size_t array_size(const Array&) { return kArraySize; }
  static double* array_data(Array a) { return a; }
  static Node* raw(Ref r) { return r; }
  static void drop(Ref& r) { r = nullptr; }
  static void diagnostics() {
    std::printf(
        " Total memory available=%zu bytes  Free memory=%zu bytes  (GC_get_heap_size, "
        "GC_get_free_bytes; %zu collections)\n",
        GC_get_heap_size(), GC_get_free_bytes(), static_cast<std::size_t>(GC_get_gc_no()));
  }
  static void setup(const bench::Options&) { bench::boehm_setup(); }
};
#endif

struct SharedPtr {
  struct Node {
    std::shared_ptr<Node> left, right;
    int i = 0, j = 0;
  };
  using Ref = std::shared_ptr<Node>;
  using Array = std::shared_ptr<double[]>;
  using Scope = NoScope;
  using Wait = NoScope;

  static Ref new_node() { return std::make_shared<Node>(); }
  static Array new_array(std::size_t n) { return std::make_shared<double[]>(n); }
  static std::size_t array_size(const Array&) { return kArraySize; }
  static double* array_data(const Array& a) { return a.get(); }
  static Node* raw(const Ref& r) { return r.get(); }
  static void drop(Ref& r) { r.reset(); }
  static void diagnostics() {}
};

struct NewDelete {
  struct Node {
    Node* left = nullptr;
    Node* right = nullptr;
    int i = 0, j = 0;
  };
  using Ref = Node*;
  struct Array {
    std::unique_ptr<double[]> p;
  };
  using Scope = NoScope;
  using Wait = NoScope;

  static Ref new_node() { return new Node; }
  static Array new_array(std::size_t n) { return Array{std::make_unique<double[]>(n)}; }
  static std::size_t array_size(const Array&) { return kArraySize; }
  static double* array_data(const Array& a) { return a.p.get(); }
  static Node* raw(Ref r) { return r; }
  static void destroy(Node* n) {
    if (n == nullptr) return;
    destroy(n->left);
    destroy(n->right);
    delete n;
  }
  static void drop(Ref& r) {
    destroy(r);
    r = nullptr;
  }
  static void diagnostics() {}
};

// --- GCBench -------------------------------------------------------------------------------------

template <class I>
long count(const typename I::Node* n) {
  return n == nullptr ? 0 : 1 + count<I>(I::raw(n->left)) + count<I>(I::raw(n->right));
}

// Build tree top down, assigning to older objects.
template <class I>
void populate(int depth, typename I::Node* node) {
  if (depth <= 0) return;
  --depth;
  node->left = I::new_node();
  node->right = I::new_node();
  populate<I>(depth, I::raw(node->left));
  populate<I>(depth, I::raw(node->right));
}

// Build tree bottom up.
template <class I>
typename I::Ref make_tree(int depth) {
  if (depth <= 0) return I::new_node();
  typename I::Ref left = make_tree<I>(depth - 1);
  typename I::Ref right = make_tree<I>(depth - 1);
  typename I::Ref result = I::new_node();
  result->left = std::move(left);
  result->right = std::move(right);
  return result;
}

bool expect(const char* what, int depth, long got, long want) {
  if (got == want) return true;
  std::fprintf(stderr, "gcbench: WRONG COUNT: %s of depth %d: got %ld nodes, want %ld\n", what,
               depth, got, want);
  return false;
}

long msec_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

// One phase (top-down or bottom-up construction of NumIters trees of one depth), split between
// the threads. Returns false when a count is wrong.
template <class I>
bool phase(const Params& p, int depth, int threads, bool top_down,
           const typename I::Node* long_lived) {
  const long iters = num_iters(p, depth);
  std::vector<char> ok(static_cast<std::size_t>(threads), 1);
  bench::run_parallel<typename I::Scope, typename I::Wait>(threads, [&](int t) {
    const long begin = iters * t / threads;
    const long end = iters * (t + 1) / threads;
    bool good = true;
    for (long i = begin; i < end; ++i) {
      typename I::Ref temp;
      if (top_down) {
        temp = I::new_node();
        populate<I>(depth, I::raw(temp));
      } else {
        temp = make_tree<I>(depth);
      }
      if (i == begin)
        good &= expect(top_down ? "top-down tree" : "bottom-up tree", depth, count<I>(I::raw(temp)),
                       tree_size(depth));
      I::drop(temp);
    }
    if (threads > 1 && !top_down)  // every worker reads the shared long-lived tree once per depth
      good &= expect("long-lived tree (worker walk)", p.long_lived_depth, count<I>(long_lived),
                     tree_size(p.long_lived_depth));
    ok[static_cast<std::size_t>(t)] = good;
  });
  for (char c : ok)
    if (c == 0) return false;
  return true;
}

template <class I>
bool run(const bench::Options& o) {
  const Params p = params_for(o.depth);
  bool ok = true;

  std::printf("Garbage Collector Test\n");
  std::printf(" Live storage will peak at %ld bytes.\n\n",
              static_cast<long>(2 * sizeof(typename I::Node) *
                                    static_cast<std::size_t>(tree_size(p.long_lived_depth)) +
                                sizeof(double) * kArraySize));
  std::printf(" Stretching memory with a binary tree of depth %d\n", p.stretch_depth);
  I::diagnostics();
  const auto t_start = std::chrono::steady_clock::now();

  // Stretch the memory space quickly.
  {
    typename I::Ref temp = make_tree<I>(p.stretch_depth);
    ok &=
        expect("stretch tree", p.stretch_depth, count<I>(I::raw(temp)), tree_size(p.stretch_depth));
    I::drop(temp);
  }

  // Create a long-lived object.
  std::printf(" Creating a long-lived binary tree of depth %d\n", p.long_lived_depth);
  typename I::Ref long_lived = I::new_node();
  populate<I>(p.long_lived_depth, I::raw(long_lived));

  // Create a long-lived array, filling half of it.
  std::printf(" Creating a long-lived array of %d doubles\n", kArraySize);
  typename I::Array array = I::new_array(kArraySize);
  double* a = I::array_data(array);
  for (int i = 0; i < kArraySize / 2; ++i) a[i] = 1.0 / i;
  I::diagnostics();

  for (int d = kMinTreeDepth; d <= p.max_depth; d += 2) {
    std::printf("Creating %ld trees of depth %d\n", num_iters(p, d), d);
    auto t0 = std::chrono::steady_clock::now();
    ok &= phase<I>(p, d, o.threads, /*top_down=*/true, I::raw(long_lived));
    std::printf("\tTop down construction took %ld msec\n", msec_since(t0));
    t0 = std::chrono::steady_clock::now();
    ok &= phase<I>(p, d, o.threads, /*top_down=*/false, I::raw(long_lived));
    std::printf("\tBottom up construction took %ld msec\n", msec_since(t0));
  }

  // The original: "fake reference to LongLivedTree and array to keep them from being optimized
  // away". Here both are verified.
  const long c = count<I>(I::raw(long_lived));
  ok &= expect("long-lived tree", p.long_lived_depth, c, tree_size(p.long_lived_depth));
  if (I::array_size(array) != static_cast<std::size_t>(kArraySize) || a[1000] != 1.0 / 1000 ||
      a[kArraySize / 2 - 1] != 1.0 / (kArraySize / 2 - 1) || a[kArraySize / 2] != 0.0) {
    std::fprintf(stderr, "gcbench: long-lived array corrupted (size %zu, a[1000]=%g)\n",
                 I::array_size(array), a[1000]);
    ok = false;
  }
  if (!ok) std::fprintf(stderr, "Failed\n");

  const long elapsed = msec_since(t_start);
  I::diagnostics();
  std::printf("Completed in %ld msec\n", elapsed);
  I::drop(long_lived);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Program program{
      "gcbench",
      "long-lived and maximum tree depth; the stretch tree is depth+2 (16 = the original)",
      16,
      kMinTreeDepth,
      22,
      /*same_output=*/false,  // the output contains timings
      {
          {"tricolor", true, "", nullptr, &run<Tricolor>},
#if TRICOLOR_HAVE_BOEHM
          {"boehm", true, "", &Boehm::setup, &run<Boehm>},
#else
          {"boehm", false, "libgc-dev not found at build time", nullptr, nullptr},
#endif
          {"shared_ptr", true, "", nullptr, &run<SharedPtr>},
          {"new_delete", true, "", nullptr, &run<NewDelete>},
      }};
  return bench::main(program, argc, argv);
}
