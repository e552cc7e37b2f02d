// bench_binary_trees — the Benchmarks Game "binary-trees" program, four ways.
//
// Workload
// (https://benchmarksgame-team.pages.debian.net/benchmarksgame/description/binarytrees.html): with
// max = max(6, --depth) (default 16):
//   1. build a "stretch" tree of depth max+1 top-down, walk it to count its nodes, drop it;
//   2. build a long-lived tree of depth max, kept until the end;
//   3. for d = 4, 6, ..., max: build 2^(max-d+4) trees of depth d (top-down: a node is allocated
//      before its children), count the nodes of each and drop it;
//   4. count the long-lived tree's nodes.
// A tree of depth d has 2^(d+1)-1 nodes; every count is verified (a mismatch prints the difference
// on stderr and the process exits 1). The output lines are exactly the reference program's:
//   stretch tree of depth 17	 check: 262143
//   65536	 trees of depth 4	 check: 2031616
//   ...
//   long lived tree of depth 16	 check: 131071
// It is an allocation-bound workload: ~15M small objects at depth 16, almost all short-lived, with
// a 2^17-node tree alive throughout.
//
// Implementations of the node (one per child process):
//   tricolor    struct Node { gc::ptr<Node> left, right; } made by gc::make; trees are dropped and
//               the collector reclaims them (a scanned 16-byte object with a registered destructor,
//               because gc::ptr is not trivially destructible);
//   boehm       struct Node { Node* left, *right; } from GC_MALLOC (only with libgc-dev);
//   shared_ptr  struct Node { std::shared_ptr<Node> left, right; } from std::make_shared;
//               dropping the root frees the tree recursively;
//   new_delete  struct Node { Node* left, *right; } from new, freed by an explicit recursive
//   delete;
//   go          bench/go/binary_trees, the same program in Go (struct { left, right *node }),
//               built with the bench when a go tool was found (TRICOLOR_BINARY_TREES_GO) and exec'd
//               as the child; its output must match the C++ children's.
//
// --threads=T (1..16; 1 and 2 are the intended values): the iterations of each depth are split
// between T threads, each building and checking its own trees; the long-lived tree is shared: every
// worker also walks it once per depth and verifies its count. The stretch tree and the long-lived
// tree are built by the main thread. Output is unchanged.
//
// Usage (see bench/driver.hpp for the two modes):
//   bench_binary_trees                         driver: every implementation, 3 processes each
//   bench_binary_trees --depth=18 --threads=2 --repeat=5
//   bench_binary_trees --impl=tricolor         one run in this process, prints a RESULT line
// How to read the driver's table: median_s is the median wall time of the workload in seconds
// (lower is better), min_s/max_s show the noise, peak_rss_MiB is the median of the children's
// ru_maxrss (what the heap strategy costs in memory), vs_best is median_s over the fastest median.
// The tricolor child honours GOGC / GOMEMLIMIT / GODEBUG=gctrace=1 from the environment.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <tricolor/gc.hpp>
#include <vector>

#include "boehm_peer.hpp"
#include "driver.hpp"

namespace {

constexpr int kMinDepth = 4;

constexpr long tree_nodes(int depth) { return (2L << depth) - 1; }

struct NoScope {};

// --- the four node implementations ---------------------------------------------------------------
// Each provides: Ref (what holds a tree), new_node() (a node without children), raw(const Ref&),
// release(Ref&), and Scope / Wait for run_parallel. Construction and the walk are shared below.

// SkipDestructor: the node is marked gc::collect_without_destructor (it only holds gc::ptr), which
// spares it the destructor queue; "tricolor" runs the default, "tricolor_nodtor" the marked one.
template <bool SkipDestructor>
struct Tricolor {
  struct Node {
    gc::ptr<Node> left, right;
  };
  using Ref = gc::ptr<Node>;
  using Scope = NoScope;
  using Wait = gc::blocking_region;

  static Ref new_node() { return gc::make<Node>(); }
  static const Node* raw(const Ref& r) { return r.get(); }
  static void release(Ref& r) { r.reset(); }
};

}  // namespace
template <>
inline constexpr bool gc::collect_without_destructor<Tricolor<true>::Node> = true;
namespace {

#if TRICOLOR_HAVE_BOEHM
struct Boehm {
  struct Node {
    Node* left;
    Node* right;
  };
  using Ref = Node*;
  using Scope = bench::BoehmThreadScope;
  using Wait = NoScope;

  static Ref new_node() {
    void* p = GC_MALLOC(sizeof(Node));  // zeroed
    if (p == nullptr) throw std::bad_alloc();
    return ::new (p) Node{nullptr, nullptr};
  }
  static const Node* raw(Ref r) { return r; }
  static void release(Ref& r) { r = nullptr; }
  static void setup(const bench::Options&) { bench::boehm_setup(); }
};
#endif

struct SharedPtr {
  struct Node {
    std::shared_ptr<Node> left, right;
  };
  using Ref = std::shared_ptr<Node>;
  using Scope = NoScope;
  using Wait = NoScope;

  static Ref new_node() { return std::make_shared<Node>(); }
  static const Node* raw(const Ref& r) { return r.get(); }
  static void release(Ref& r) { r.reset(); }
};

struct NewDelete {
  struct Node {
    Node* left = nullptr;
    Node* right = nullptr;
  };
  using Ref = Node*;
  using Scope = NoScope;
  using Wait = NoScope;

  static Ref new_node() { return new Node; }
  static const Node* raw(Ref r) { return r; }
  static void destroy(Node* n) {
    if (n->left != nullptr) {
      destroy(n->left);
      destroy(n->right);
    }
    delete n;
  }
  static void release(Ref& r) {
    destroy(r);
    r = nullptr;
  }
};

// --- construction and walk, the same for every implementation ---------------------------------

template <class T>
const T* raw_child(const T* p) {
  return p;
}
template <class T>
const T* raw_child(const gc::ptr<T>& p) {
  return p.get();
}
template <class T>
const T* raw_child(const std::shared_ptr<T>& p) {
  return p.get();
}

// Top-down, as the benchmark prescribes.
template <class I>
typename I::Ref make_tree(int depth) {
  typename I::Ref n = I::new_node();
  if (depth > 0) {
    n->left = make_tree<I>(depth - 1);
    n->right = make_tree<I>(depth - 1);
  }
  return n;
}

// Raw pointers on the stack keep their targets alive (tricolor scans stacks, Boehm too), so the
// walk needs no handle copies.
template <class Node>
long count_tree(const Node* n) {
  return n->left ? 1 + count_tree(raw_child(n->left)) + count_tree(raw_child(n->right)) : 1;
}

// --- the program ---------------------------------------------------------------------------------

bool expect(const char* what, int depth, long got, long want) {
  if (got == want) return true;
  std::fprintf(stderr, "binary_trees: WRONG COUNT: %s of depth %d: got %ld nodes, want %ld\n", what,
               depth, got, want);
  return false;
}

template <class I>
bool run(const bench::Options& o) {
  const int max_depth = o.depth < kMinDepth + 2 ? kMinDepth + 2 : o.depth;
  const int threads = o.threads;
  bool ok = true;

  {
    const int stretch_depth = max_depth + 1;
    typename I::Ref stretch = make_tree<I>(stretch_depth);
    const long c = count_tree(I::raw(stretch));
    I::release(stretch);
    std::printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, c);
    ok &= expect("stretch tree", stretch_depth, c, tree_nodes(stretch_depth));
  }

  typename I::Ref long_lived = make_tree<I>(max_depth);
  const auto* long_lived_raw = I::raw(long_lived);

  for (int d = kMinDepth; d <= max_depth; d += 2) {
    const long iterations = 1L << (max_depth - d + kMinDepth);
    std::vector<long> partial(static_cast<std::size_t>(threads), 0);
    std::vector<char> long_lived_ok(static_cast<std::size_t>(threads), 1);
    bench::run_parallel<typename I::Scope, typename I::Wait>(threads, [&](int t) {
      const long begin = iterations * t / threads;
      const long end = iterations * (t + 1) / threads;
      long check = 0;
      for (long i = begin; i < end; ++i) {
        typename I::Ref tree = make_tree<I>(d);
        check += count_tree(I::raw(tree));
        I::release(tree);
      }
      partial[static_cast<std::size_t>(t)] = check;
      if (threads > 1 && count_tree(long_lived_raw) != tree_nodes(max_depth))
        long_lived_ok[static_cast<std::size_t>(t)] = 0;
    });
    long check = 0;
    for (long c : partial) check += c;
    std::printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
    ok &= expect("trees (sum)", d, check, iterations * tree_nodes(d));
    for (int t = 0; t < threads; ++t)
      if (long_lived_ok[static_cast<std::size_t>(t)] == 0) {
        std::fprintf(stderr,
                     "binary_trees: WRONG COUNT: worker %d's walk of the long-lived tree after "
                     "depth %d\n",
                     t, d);
        ok = false;
      }
  }

  const long c = count_tree(long_lived_raw);
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
  ok &= expect("long lived tree", max_depth, c, tree_nodes(max_depth));
  I::release(long_lived);
  return ok;
}

// The Go twin's path, if it was built and is still there.
const char* go_program() {
  static const char* const path = TRICOLOR_BINARY_TREES_GO;
  return path[0] != '\0' && ::access(path, X_OK) == 0 ? path : nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Program program{"binary_trees",
                         "maximum tree depth (values below 6 mean 6)",
                         16,
                         1,
                         24,
                         /*same_output=*/true,
                         {
                             {"tricolor", true, "", nullptr, &run<Tricolor<false>>},
                             {"tricolor_nodtor", true, "", nullptr, &run<Tricolor<true>>},
#if TRICOLOR_HAVE_BOEHM
                             {"boehm", true, "", &Boehm::setup, &run<Boehm>},
#else
                             {"boehm", false, "libgc-dev not found at build time", nullptr,
                              nullptr},
#endif
                             {"shared_ptr", true, "", nullptr, &run<SharedPtr>},
                             {"new_delete", true, "", nullptr, &run<NewDelete>},
                             {"go", go_program() != nullptr,
                              TRICOLOR_BINARY_TREES_GO[0] == '\0'
                                  ? "no go tool was found when the bench was configured"
                                  : "the Go program " TRICOLOR_BINARY_TREES_GO " is missing",
                              nullptr, nullptr, go_program()},
                         }};
  return bench::main(program, argc, argv);
}
