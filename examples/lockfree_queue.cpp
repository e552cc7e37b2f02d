// Several threads share a lock-free queue (lockfree_queue.hpp) while the collector runs: four
// producers push 200,000 numbers each, four consumers pop until everything has arrived. Each number
// must come out exactly once, and in order for each producer; no node is ever freed while a thread
// can still read it.
#include "lockfree_queue.hpp"

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

int main() {
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 200000;
  example::LockFreeQueue<long> queue;
  std::atomic<long> received{0};
  std::vector<std::atomic<bool>> seen(kProducers * kPerProducer);
  std::vector<std::vector<long>> last_seen(kConsumers, std::vector<long>(kProducers, -1));
  std::atomic<bool> ok{true};

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p)
    threads.emplace_back([&, p] {
      for (long i = 0; i < kPerProducer; ++i) queue.push(static_cast<long>(p) * kPerProducer + i);
    });
  for (int c = 0; c < kConsumers; ++c)
    threads.emplace_back([&, c] {
      while (received.load() < kProducers * kPerProducer) {
        const std::optional<long> v = queue.pop();
        if (!v) continue;
        const long producer = *v / kPerProducer, index = *v % kPerProducer;
        // One producer's numbers reach any one consumer in increasing order (FIFO).
        if (index <= last_seen[c][producer] || seen[*v].exchange(true)) ok = false;
        last_seen[c][producer] = index;
        received.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();

  const gc::stats s = gc::read_stats();
  std::printf("%ld numbers through the queue, %s; %llu collections ran meanwhile\n",
              received.load(), ok ? "each once and in order" : "LOST, REPEATED OR OUT OF ORDER",
              static_cast<unsigned long long>(s.num_gc));
  return ok && received.load() == kProducers * kPerProducer && !queue.pop() ? 0 : 1;
}
