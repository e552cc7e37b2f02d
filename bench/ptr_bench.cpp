// bench_ptr_bench — what a gc::ptr costs next to a raw pointer and a std::shared_ptr (Google
// Benchmark, nanoseconds per operation). tools/bench_suite.py runs it for docs/benchmarks.md.
//   *_store       assignment into a slot inside a heap object: the write barrier's path. For
//                 gc::ptr twice, with no mark in progress (one load and branch on each side of the
//                 store) and during a mark, held open by a test hook (the overwritten and the
//                 stored value go to the thread's barrier buffer, flushed every 128 stores);
//   *_copy        copy construction and destruction on the stack. For gc::ptr: no registration on
//                 a stack slot, and with no mark in progress no barrier work either; during a
//                 held-open mark a new slot shades the value it is born with and a dying slot its
//                 last value (detail/barrier.hpp), so barrier_on shows that price. For shared_ptr:
//                 two atomic count updates. For a raw pointer: a register move, the floor.
// Two values alternate in a store slot, so every store changes it.
#include <benchmark/benchmark.h>

#include <memory>
#include <tricolor/gc.hpp>

#include "gc/cycle.hpp"
#include "gc/mark_workers.hpp"
#include "gc/test_hooks.hpp"

namespace {

struct GcNode {
  gc::ptr<GcNode> slot;
};
struct RawNode {
  RawNode* slot = nullptr;
};
struct SharedNode {
  std::shared_ptr<SharedNode> slot;
};

// Runs body(state) inside a mark held open after its roots, so that the write barrier is on for
// the whole measurement; the mark is let go (and its cycle finished) afterwards.
template <class Body>
void with_barrier_on(benchmark::State& state, Body&& body) {
  gc::detail::set_mark_hold(gc::detail::MarkHold::kAfterRoots);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(gc::detail::MarkHold::kAfterRoots);
  gc::safepoint();  // this thread's stack scan, before the timing starts
  body(state);
  gc::detail::set_mark_hold(gc::detail::MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
}

// --- stores into a heap slot ---------------------------------------------------------------------

void raw_store(benchmark::State& state) {
  auto holder = std::make_unique<RawNode>();
  RawNode a, b;
  RawNode* values[2] = {&a, &b};
  std::size_t i = 0;
  for (auto _ : state) {
    holder->slot = values[i++ & 1];
    benchmark::ClobberMemory();
  }
}

void shared_ptr_store(benchmark::State& state) {
  auto holder = std::make_shared<SharedNode>();
  std::shared_ptr<SharedNode> values[2] = {std::make_shared<SharedNode>(),
                                           std::make_shared<SharedNode>()};
  std::size_t i = 0;
  for (auto _ : state) {
    holder->slot = values[i++ & 1];
    benchmark::ClobberMemory();
  }
}

void gc_ptr_store_loop(benchmark::State& state) {
  auto holder = gc::make<GcNode>();
  gc::ptr<GcNode> values[2] = {gc::make<GcNode>(), gc::make<GcNode>()};
  std::size_t i = 0;
  for (auto _ : state) {
    holder->slot = values[i++ & 1];
    benchmark::ClobberMemory();
  }
}

void gc_ptr_store_barrier_off(benchmark::State& state) { gc_ptr_store_loop(state); }

void gc_ptr_store_barrier_on(benchmark::State& state) { with_barrier_on(state, gc_ptr_store_loop); }

// --- copies on the stack -------------------------------------------------------------------------

void raw_copy(benchmark::State& state) {
  auto value = std::make_unique<RawNode>();
  RawNode* source = value.get();
  for (auto _ : state) {
    RawNode* copy = source;
    benchmark::DoNotOptimize(copy);
  }
}

void shared_ptr_copy(benchmark::State& state) {
  auto value = std::make_shared<SharedNode>();
  for (auto _ : state) {
    std::shared_ptr<SharedNode> copy = value;
    benchmark::DoNotOptimize(copy);
  }
}

void gc_ptr_copy_loop(benchmark::State& state) {
  auto value = gc::make<GcNode>();
  for (auto _ : state) {
    gc::ptr<GcNode> copy = value;
    benchmark::DoNotOptimize(copy);
  }
}

void gc_ptr_copy_barrier_off(benchmark::State& state) { gc_ptr_copy_loop(state); }

void gc_ptr_copy_barrier_on(benchmark::State& state) { with_barrier_on(state, gc_ptr_copy_loop); }

}  // namespace

BENCHMARK(raw_store)->Name("raw_store");
BENCHMARK(shared_ptr_store)->Name("shared_ptr_store");
BENCHMARK(gc_ptr_store_barrier_off)->Name("gc_ptr_store/barrier_off");
BENCHMARK(gc_ptr_store_barrier_on)->Name("gc_ptr_store/barrier_on");
BENCHMARK(raw_copy)->Name("raw_copy");
BENCHMARK(shared_ptr_copy)->Name("shared_ptr_copy");
BENCHMARK(gc_ptr_copy_barrier_off)->Name("gc_ptr_copy/barrier_off");
BENCHMARK(gc_ptr_copy_barrier_on)->Name("gc_ptr_copy/barrier_on");

BENCHMARK_MAIN();
