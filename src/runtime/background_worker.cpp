#include "runtime/background_worker.hpp"

#include <thread>

#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"

namespace gc::detail {

void BackgroundWorker::start() {
  if (started_.exchange(true)) return;
  try {
    std::thread([this] { run(); }).detach();
  } catch (...) {
    started_.store(false);  // the next start() tries again
    throw;
  }
}

void BackgroundWorker::wake() {
  start();
  Signal& s = signal();
  {
    std::lock_guard lock(s.mutex);
    ++s.requests;
  }
  s.wake.notify_one();
}

void BackgroundWorker::forget_after_fork() {
  signal_.store(new Signal, std::memory_order_release);
  started_.store(false);
}

void BackgroundWorker::run() {
  register_current_thread(name_);
  std::uint64_t seen = 0;
  for (;;) {
    {
      BlockingScope blocked;
      Signal& s = signal();
      std::unique_lock lock(s.mutex);
      s.wake.wait(lock, [&] { return s.requests != seen; });
      seen = s.requests;
      lock.unlock();  // before the blocking scope ends: leaving it may wait for a stop
    }
    work_();
  }
}

}  // namespace gc::detail
