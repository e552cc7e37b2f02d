// A queue of user code for a library thread: the destructor thread's zombie batches
// (destructors.cpp) and the cleanup thread's records (toolbox/cleanups.cpp).
//
// The sweep pushes work inside critical sections, so a push neither allocates nor runs user code:
// items are intrusive (an `Item* next` member), and the queue's state is made beforehand, by
// prepare(), outside any critical section. The thread takes everything queued, runs it outside the
// lock, counts what it ran as finished and wakes whoever waits, until the queue stays empty. wait()
// blocks until everything queued so far has run; on a thread that runs user callbacks it returns
// at once, since the destructor and cleanup threads may be waiting for each other (a destructor
// that calls gc::collect(), a cleanup that does).
//
// wait() never gives up: collect() promises that the destructors and cleanups of what it found dead
// have run when it returns. A callback that waits for something the waiting thread holds (a lock
// held around gc::collect(), a thread it must join) therefore never finishes; so that this is never
// a silent hang, wait() reports on stderr when the thread has made no progress for
// kStallReport, naming the object and the function it is running, and again every kStallRepeat.
//
// Items run in the order they were pushed. After fork() the thread is gone and may have died
// holding the lock: the pending items move to a fresh state and a new thread starts (if none can
// start in the fork handler, the next prepare() or wait() starts it); a batch the old
// thread had taken is lost with it (its objects stay allocated; nothing waits for them).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "base/check.hpp"
#include "runtime/library_thread.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

// True on the destructor and cleanup threads, which run user code (see above).
inline thread_local bool t_runs_user_callbacks = false;

inline constexpr std::chrono::seconds kStallReport{3};
inline constexpr std::chrono::seconds kStallRepeat{30};

// Prints the stall report: `waited` seconds without progress on the `kind` thread, which runs the
// `kind` of `object` (`function`, symbolised where the program's symbols allow).
void report_callback_stall(const char* kind, long long waited, const void* object,
                           const void* function);

template <class Item>
class CallbackQueue {
 public:
  // `drain` runs on the thread, once per wake: it calls run_all() with the function that runs one
  // item (and disposes of it) and returns the number of callbacks it ran.
  // `kind` names one callback in a stall report ("destructor", "cleanup").
  constexpr CallbackQueue(const char* name, const char* kind, void (*drain)())
      : kind_(kind), thread_(name, drain) {}

  // Makes the state and starts the thread. Outside critical sections; idempotent.
  void prepare() {
    if (state_.load(std::memory_order_acquire) == nullptr) {
      auto* fresh = new State;
      State* none = nullptr;
      if (!state_.compare_exchange_strong(none, fresh, std::memory_order_acq_rel)) delete fresh;
    }
    thread_.start();
  }
  bool prepared() const { return state_.load(std::memory_order_acquire) != nullptr; }

  // Appends the chain first..last (linked through `next`) holding `callbacks` callbacks, and wakes
  // the thread. Anywhere, critical sections included; after prepare().
  void push(Item* first, Item* last, std::uint64_t callbacks) {
    State* s = state_.load(std::memory_order_acquire);
    TRICOLOR_CHECK(s != nullptr, "the %s queue is used before it was prepared", thread_.name());
    last->next = nullptr;
    {
      std::lock_guard lock(s->mutex);
      *s->tail = first;
      s->tail = &last->next;
      s->queued += callbacks;
    }
    thread_.notify();  // no thread is started inside a critical section
  }

  // On the thread: runs every item queued, until the queue stays empty. `run(item)` returns the
  // number of callbacks it ran and disposes of the item.
  template <class Run>
  void run_all(Run&& run) {
    t_runs_user_callbacks = true;
    for (;;) {
      State& s = *state_.load(std::memory_order_acquire);
      Item* batch = nullptr;
      {
        CriticalSection critical;  // never stopped (or forked) while holding the lock
        std::lock_guard lock(s.mutex);
        batch = s.head;
        s.head = nullptr;
        s.tail = &s.head;
      }
      if (batch == nullptr) return;
      std::uint64_t ran = 0;
      while (batch != nullptr) {
        Item* item = batch;
        batch = item->next;
        ran += run(item);
        poll_safepoint();
      }
      {
        CriticalSection critical;
        std::lock_guard lock(s.mutex);
        s.finished += ran;
      }
      s.progress.notify_all();
    }
  }

  // On the thread, before each callback: what a stall report names.
  void note_running(const void* object, const void* function) {
    running_object_.store(object, std::memory_order_relaxed);
    running_function_.store(function, std::memory_order_relaxed);
    started_.fetch_add(1, std::memory_order_release);
  }

  // Blocks until every callback queued so far has run; returns how many ran meanwhile.
  std::uint64_t wait() {
    State* s = state_.load(std::memory_order_acquire);
    if (s == nullptr || t_runs_user_callbacks) return 0;
    thread_.start();  // if a fork's child could not start it, now (outside critical sections)
    BlockingScope blocked;
    std::unique_lock lock(s->mutex);
    const std::uint64_t target = s->queued;
    const std::uint64_t before = s->finished;
    auto progress_at = std::chrono::steady_clock::now();
    auto next_report = progress_at + kStallReport;
    std::uint64_t started = started_.load(std::memory_order_acquire);
    std::uint64_t finished = s->finished;
    while (s->finished < target) {
      s->progress.wait_for(lock, std::chrono::seconds(1));
      const auto now = std::chrono::steady_clock::now();
      const std::uint64_t started_now = started_.load(std::memory_order_acquire);
      if (started_now != started || s->finished != finished) {
        started = started_now;
        finished = s->finished;
        progress_at = now;
        next_report = now + kStallReport;
      } else if (s->finished < target && now >= next_report) {
        next_report = now + kStallRepeat;
        // Not under the lock: pushes take it inside critical sections, and stderr may block.
        lock.unlock();
        report_callback_stall(
            kind_, std::chrono::duration_cast<std::chrono::seconds>(now - progress_at).count(),
            running_object_.load(std::memory_order_relaxed),
            running_function_.load(std::memory_order_relaxed));
        lock.lock();
      }
    }
    const std::uint64_t ran = s->finished - before;
    lock.unlock();  // before the blocking scope ends: leaving it may wait for a stop
    return ran;
  }

  // In the child after fork(): see above. `callbacks(item)` counts an item's callbacks.
  void restart_after_fork(std::uint64_t (*callbacks)(const Item*)) {
    thread_.forget_after_fork();
    State* old = state_.load(std::memory_order_acquire);
    if (old == nullptr) return;
    auto* fresh = new State;
    fresh->head = old->head;
    std::uint64_t pending = 0;
    for (Item* i = fresh->head; i != nullptr; i = i->next) {
      fresh->tail = &i->next;
      pending += callbacks(i);
    }
    fresh->queued = old->queued;
    fresh->finished = old->queued - pending;
    state_.store(fresh, std::memory_order_release);
    // A thread now, so that what sweeps in the child push is run without waiting for a waiter.
    try {
      thread_.wake();  // not only start: the moved items must run
    } catch (...) {
      // No thread now (the fork handler must not throw, or the child keeps the library's locks):
      // the wake is counted, and the next prepare() or wait() starts the thread.
      thread_.notify();
    }
  }

 private:
  struct State {
    std::mutex mutex;  // taken inside critical sections, or in blocking scopes
    std::condition_variable progress;
    Item* head = nullptr;
    Item** tail = &head;
    std::uint64_t queued = 0;
    std::uint64_t finished = 0;
  };
  // Never freed: a detached thread may still use it while the program exits, and after a fork
  // the old one may be locked by a thread that no longer exists.
  std::atomic<State*> state_{nullptr};
  const char* kind_;
  std::atomic<const void*> running_object_{nullptr};
  std::atomic<const void*> running_function_{nullptr};
  std::atomic<std::uint64_t> started_{0};  // callbacks begun, for the stall report
  LibraryThread thread_;
};

}  // namespace gc::detail
