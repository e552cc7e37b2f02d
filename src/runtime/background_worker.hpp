// A library thread that sleeps until there is work: the background sweeper and the scavenger.
//
// The thread starts on start() or the first wake(), which must come from outside any critical
// section (starting a thread allocates), and registers itself so that stops see it. It waits inside
// a blocking scope, so a stop never waits for a sleeping worker, and it releases the signal's lock
// before that scope ends (leaving it may wait for a stop in progress). Wakes are counted, not
// queued: several wakes during one round of work cause one more round.
//
// After fork() the thread is gone and may have died holding the signal's lock: the child drops the
// signal and starts a new thread at the next wake.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace gc::detail {

class BackgroundWorker {
 public:
  // `work` runs one round on the worker thread each time it is woken.
  BackgroundWorker(const char* name, void (*work)()) : name_(name), work_(work) {}

  // Starts the thread if it is not running (outside critical sections: it allocates).
  void start();
  void wake();
  void forget_after_fork();

 private:
  struct Signal {
    std::mutex mutex;
    std::condition_variable wake;
    std::uint64_t requests = 0;
  };
  void run();
  Signal& signal() { return *signal_.load(std::memory_order_acquire); }

  const char* name_;
  void (*work_)();
  // Never freed: after a fork the old one may still be locked by a thread that no longer exists.
  std::atomic<Signal*> signal_{new Signal};
  std::atomic<bool> started_{false};
};

}  // namespace gc::detail
