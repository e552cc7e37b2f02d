// bench_queue_bench — a lock-free queue with its memory management done three ways (Google
// Benchmark, time per push+pop pair, 1 to 4 threads sharing one queue):
//   gc_atomic_ptr       the Michael–Scott queue of examples/lockfree_queue.hpp on gc::atomic_ptr:
//                       nodes are reclaimed by the collector;
//   atomic_shared_ptr   the same algorithm on std::atomic<std::shared_ptr> (libstdc++ guards each
//                       one with a lock bit in the control-block pointer);
//   mutex_queue         std::queue<long> behind a std::mutex.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <queue>

#include "../examples/lockfree_queue.hpp"

namespace {

struct SharedPointers {
  template <class T>
  using ptr = std::shared_ptr<T>;
  template <class T>
  using atomic = std::atomic<std::shared_ptr<T>>;
  template <class T, class... Args>
  static ptr<T> make(Args&&... args) {
    return std::make_shared<T>(std::forward<Args>(args)...);
  }
};

class MutexQueue {
 public:
  void push(long v) {
    std::lock_guard lock(mutex_);
    queue_.push(v);
  }
  std::optional<long> pop() {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return std::nullopt;
    const long v = queue_.front();
    queue_.pop();
    return v;
  }

 private:
  std::mutex mutex_;
  std::queue<long> queue_;
};

template <class Queue>
void push_pop(benchmark::State& state) {
  static Queue* queue = nullptr;  // shared by the benchmark's threads
  if (state.thread_index() == 0) queue = new Queue;
  long v = 0;
  for (auto _ : state) {
    queue->push(v++);
    benchmark::DoNotOptimize(queue->pop());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(push_pop<example::LockFreeQueue<long>>)
    ->Name("gc_atomic_ptr")
    ->UseRealTime()
    ->ThreadRange(1, 4);
BENCHMARK(push_pop<example::LockFreeQueue<long, SharedPointers>>)
    ->Name("atomic_shared_ptr")
    ->UseRealTime()
    ->ThreadRange(1, 4);
BENCHMARK(push_pop<MutexQueue>)->Name("mutex_queue")->UseRealTime()->ThreadRange(1, 4);

BENCHMARK_MAIN();
