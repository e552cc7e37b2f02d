// ctest-env: GOGC=25
// Threads mutate random object graphs while collections run: they link and unlink nodes, hand
// subgraphs to each other through a shared mailbox, keep raw pointers on their stacks, and check
// every node they reach. A node freed while reachable shows up as a broken canary, a wrong id or a
// wrong edge; gccheckmark (on for stress tests) verifies each cycle's mark from scratch. Each node
// also holds a pointer-free leaf, made next to the leaves of the nodes made before it and now and
// then replaced: the marker gathers the mark bits of such objects a word at a time (gc/marker.hpp),
// and a leaf whose bit was gathered but never set is freed while reachable. Each
// gc::collect() of the main thread wakes two idle mark workers, whatever the machine's CPUs, and
// every mark the pacer starts has the spare-CPU workers marking beside the controller (told that
// every CPU is idle, so they never step aside).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "gc/test_hooks.hpp"

namespace {

constexpr int kEdges = 3;
constexpr std::uint64_t kCanary = 0x5A5A5A5AC0DECAFEull;
constexpr std::uint64_t kLeafCanary = 0x1EAF1EAF1EAF1EAFull;

std::atomic<std::uint64_t> g_next_id{1};
std::atomic<long> g_errors{0};
std::atomic<long long> g_checked{0};  // nodes checked, for the summary line

struct Leaf {  // pointer-free: a noscan span
  explicit Leaf(std::uint64_t owner) : owner(owner) {}
  std::uint64_t canary = kLeafCanary;
  std::uint64_t owner;  // the id of the node that holds it
};

// Nodes are shared between threads, so their edges are guarded by a small spin lock: gc::ptr, like
// a raw pointer, needs synchronisation when one thread writes it while another reads it.
struct Node {
  Node() : id(g_next_id.fetch_add(1)), leaf(gc::make<Leaf>(id)) {}
  ~Node() { canary = 0xDEAD; }
  void lock() {
    while (busy.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() { busy.clear(std::memory_order_release); }

  std::uint64_t canary = kCanary;
  std::uint64_t id;
  std::atomic_flag busy;
  gc::ptr<Leaf> leaf;  // guarded by busy, as the edges are
  std::array<gc::ptr<Node>, kEdges> edges;
  std::array<std::uint64_t, kEdges> edge_ids{};  // what edges[k]->id must be
  std::array<char, 32> payload{};
};

void replace_leaf(Node& n) {
  gc::ptr<Leaf> fresh = gc::make<Leaf>(n.id);
  std::lock_guard guard(n);
  n.leaf = std::move(fresh);
}

void link(Node& from, int k, const gc::ptr<Node>& to) {
  const std::uint64_t to_id = to ? to->id : 0;
  std::lock_guard guard(from);
  from.edges[static_cast<std::size_t>(k)] = to;
  from.edge_ids[static_cast<std::size_t>(k)] = to_id;
}

// Walks up to `budget` nodes depth-first and checks each; returns how many it checked. The work
// list holds gc::ptr: raw pointers in malloc memory would not keep the nodes alive.
int check(const gc::ptr<Node>& root, int budget) {
  std::vector<gc::ptr<Node>> todo{root};
  int seen = 0;
  while (!todo.empty() && seen < budget) {
    gc::ptr<Node> n = todo.back();
    todo.pop_back();
    ++seen;
    g_checked.fetch_add(1, std::memory_order_relaxed);
    if (n->canary != kCanary) {
      g_errors.fetch_add(1);
      continue;
    }
    std::array<gc::ptr<Node>, kEdges> edges;
    std::array<std::uint64_t, kEdges> ids;
    gc::ptr<Leaf> leaf;
    {
      std::lock_guard guard(*n);
      edges = n->edges;
      ids = n->edge_ids;
      leaf = n->leaf;
    }
    if (leaf->canary != kLeafCanary || leaf->owner != n->id) g_errors.fetch_add(1);
    for (int k = 0; k < kEdges; ++k) {
      const auto& e = edges[static_cast<std::size_t>(k)];
      if (!e) continue;
      if (e->canary != kCanary || e->id != ids[static_cast<std::size_t>(k)]) {
        g_errors.fetch_add(1);
        continue;
      }
      todo.push_back(e);
    }
  }
  return seen;
}

struct Mailbox {
  std::mutex mutex;
  std::vector<gc::ptr<Node>> parcels;  // a vector in malloc memory: its slots are roots
};
Mailbox g_mailbox;

// Waits for the mailbox inside a blocking region, so that a stop never waits for a thread queued
// on the lock (ThreadSanitizer, for one, does not deliver the stop signal to such a thread).
std::unique_lock<std::mutex> lock_mailbox() {
  std::unique_lock lock(g_mailbox.mutex, std::defer_lock);
  gc::blocking_region waiting;
  lock.lock();
  return lock;
}

void worker(int seed, std::chrono::steady_clock::time_point deadline) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
  std::vector<gc::ptr<Node>> roots;
  std::array<const Node*, 8> raw{};  // raw pointers on this stack keep their targets alive
  std::array<std::uint64_t, 8> raw_ids{};
  for (int op = 0; std::chrono::steady_clock::now() < deadline && op < 400000; ++op) {
    const auto pick = [&]() -> gc::ptr<Node> {
      return roots.empty() ? gc::ptr<Node>() : roots[rng() % roots.size()];
    };
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2: {  // grow: a new node linked to existing ones
        auto n = gc::make<Node>();
        for (int k = 0; k < kEdges; ++k) link(*n, k, pick());
        if (roots.size() < 64)
          roots.push_back(n);
        else
          roots[rng() % roots.size()] = n;
        break;
      }
      case 3: {  // relink an edge inside a reachable node, maybe creating cycles
        auto a = pick();
        if (a) link(*a, static_cast<int>(rng() % kEdges), pick());
        if (a && rng() % 4 == 0) replace_leaf(*a);
        break;
      }
      case 4:  // drop a root
        if (!roots.empty()) {
          roots[rng() % roots.size()] = roots.back();
          roots.pop_back();
        }
        break;
      case 5: {  // hand a subgraph to another thread
        auto a = pick();
        if (!a) break;
        auto lock = lock_mailbox();
        if (g_mailbox.parcels.size() < 32) g_mailbox.parcels.push_back(a);
        break;
      }
      case 6: {  // take one
        gc::ptr<Node> got;
        {
          auto lock = lock_mailbox();
          if (!g_mailbox.parcels.empty()) {
            got = g_mailbox.parcels.back();
            g_mailbox.parcels.pop_back();
          }
        }
        if (got) {
          check(got, 200);
          if (roots.size() < 64) roots.push_back(got);
        }
        break;
      }
      case 7: {  // remember a node by raw pointer only
        auto a = pick();
        const std::size_t slot = rng() % raw.size();
        raw[slot] = a.get();
        raw_ids[slot] = a ? a->id : 0;
        break;
      }
      case 8:  // check the raw-pointer nodes
        for (std::size_t i = 0; i < raw.size(); ++i)
          if (raw[i] != nullptr && (raw[i]->canary != kCanary || raw[i]->id != raw_ids[i]))
            g_errors.fetch_add(1);
        break;
      case 9:
        if (!roots.empty()) check(pick(), 100);
        for (int i = 0; i < 20; ++i) gc::make<std::array<char, 200>>();  // garbage
        break;
    }
  }
  for (auto& r : roots) check(r, 1000);
}

// TRICOLOR_SOAK_SECONDS=N runs it for N seconds instead of 8 (the long soak: 300, with
// GODEBUG=gccheckmark=1, as ctest sets for stress tests).
int run_seconds() {
  const char* v = std::getenv("TRICOLOR_SOAK_SECONDS");
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : 8;
}

TEST(GraphStress, MutatingThreadsNeverSeeAFreedNode) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(run_seconds());
  const auto before = gc::read_stats();
  gc::detail::g_idle_mark_workers_for_test.store(2);
  gc::detail::g_spare_cpu_for_test.store(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t + 1, deadline);
  // The main thread collects now and then, as a program calling gc::collect() would.
  while (std::chrono::steady_clock::now() < deadline - std::chrono::milliseconds(500)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gc::collect();
  }
  for (auto& t : threads) t.join();
  gc::detail::g_idle_mark_workers_for_test.store(-1);
  gc::detail::g_spare_cpu_for_test.store(-1);
  const auto after = gc::read_stats();
  std::printf(
      "%d s, 4 threads: cycles: %llu, max pause %.3f ms, objects allocated %llu, nodes "
      "checked %lld, bad %ld\n",
      run_seconds(), static_cast<unsigned long long>(after.num_gc - before.num_gc),
      static_cast<double>(after.pause_max_ns) / 1e6,
      static_cast<unsigned long long>(after.mallocs - before.mallocs), g_checked.load(),
      g_errors.load());
  EXPECT_EQ(g_errors.load(), 0);
  EXPECT_GE(after.num_gc - before.num_gc, 10u);
  {
    auto lock = lock_mailbox();
    for (auto& p : g_mailbox.parcels) check(p, 1000);
  }
  EXPECT_EQ(g_errors.load(), 0);
}

}  // namespace
