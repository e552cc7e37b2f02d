// bench_ptr_bench — what a gc::ptr costs next to a raw pointer and a std::shared_ptr (Google
// Benchmark, nanoseconds per operation):
//   *_store       assignment into a slot inside a heap object: the write barrier's path. For
//                 gc::ptr twice, with no mark in progress (one load and branch on each side of the
//                 store) and during a mark, held open by a test hook (the overwritten and the
//                 stored value go to the thread's barrier buffer, flushed every 128 stores);
//   *_copy        copy construction and destruction on the stack (for gc::ptr: no registration
//                 and no barrier on a stack slot; for shared_ptr: two atomic count updates).
// Two values alternate in the slot, so every store changes it.
#include <benchmark/benchmark.h>

#include <memory>
#include <tricolor/gc.hpp>

#include "gc/cycle.hpp"
#include "gc/mark_workers.hpp"

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

void gc_ptr_store_barrier_on(benchmark::State& state) {
  // A mark held open after its roots: the barrier is on for the whole measurement.
  gc::detail::set_mark_hold(gc::detail::MarkHold::kAfterRoots);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(gc::detail::MarkHold::kAfterRoots);
  gc::safepoint();  // this thread's stack scan, before the timing starts
  gc_ptr_store_loop(state);
  gc::detail::set_mark_hold(gc::detail::MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
}

void shared_ptr_copy(benchmark::State& state) {
  auto value = std::make_shared<SharedNode>();
  for (auto _ : state) {
    std::shared_ptr<SharedNode> copy = value;
    benchmark::DoNotOptimize(copy);
  }
}

void gc_ptr_copy(benchmark::State& state) {
  auto value = gc::make<GcNode>();
  for (auto _ : state) {
    gc::ptr<GcNode> copy = value;
    benchmark::DoNotOptimize(copy);
  }
}

}  // namespace

BENCHMARK(raw_store)->Name("raw_store");
BENCHMARK(shared_ptr_store)->Name("shared_ptr_store");
BENCHMARK(gc_ptr_store_barrier_off)->Name("gc_ptr_store/barrier_off");
BENCHMARK(gc_ptr_store_barrier_on)->Name("gc_ptr_store/barrier_on");
BENCHMARK(shared_ptr_copy)->Name("shared_ptr_copy");
BENCHMARK(gc_ptr_copy)->Name("gc_ptr_copy");

BENCHMARK_MAIN();
