// A queue of user code for a library thread: the spans with zombies for the destructor thread
// (destructors.cpp) and the cleanup thread's records (toolbox/cleanups.cpp).
//
// The sweep pushes work inside critical sections, so a push neither allocates nor runs user code:
// items are intrusive (a link, a sequence number and a "queued" flag, named by the member pointers
// the queue is instantiated with), and the queue's state is made beforehand, by prepare(), outside
// any critical section. An item may be pushed again while it is queued: the push then only counts
// (a span that one sweep queued and another finds more zombies in is queued once, and its
// destructors run together). The thread pops one item at a time, runs it outside the lock, and
// wakes whoever waits, until the queue stays empty. Between two callbacks of an item it may run
// the items queued since (run_queued), to keep up with the garbage that its own callbacks make.
//
// wait() blocks until everything pushed so far has run. Every push takes the next sequence number;
// an item keeps the number of the push that linked it, and a push into an item already queued
// is covered by that item. Items pop in the order of their numbers, and what runs in between
// (run_queued) was linked later, so a push numbered t has run once no queued item and no item in
// progress has a number up to t. On a thread that runs user callbacks wait() returns at once,
// since the destructor and cleanup threads may be waiting for each other (a destructor that calls
// gc::collect(), a cleanup that does).
//
// wait() never gives up: collect() promises that the destructors and cleanups of what it found dead
// have run when it returns. A callback that waits for something the waiting thread holds (a lock
// held around gc::collect(), a thread it must join) therefore never finishes; so that this is never
// a silent hang, wait() reports on stderr when the thread has made no progress for
// kStallReport, naming the object and the function it is running, and again every kStallRepeat.
//
// After fork() the thread is gone and may have died holding the lock: the queued items move to a
// fresh state and a new thread starts (if none can start in the fork handler, the next prepare()
// or wait() starts it); the item the old thread was running is lost with it (the callbacks it had
// not run are not run unless the item is pushed again; nothing waits for them).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "base/check.hpp"
#include "base/mutex.hpp"
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

template <class Item, Item* Item::*Next, std::uint64_t Item::*Seq, bool Item::*Queued>
class CallbackQueue {
 public:
  // `drain` runs on the thread, once per wake: it calls run_all() with the function that runs one
  // item (and disposes of it, unless it may be pushed again).
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

  // Links the chain first..last (through Next; none of them queued), or, with first == last, one
  // item that may be queued already, in which case nothing is linked. Returns whether anything was
  // linked. Anywhere, critical sections included; after prepare().
  bool push(Item* first, Item* last) {
    State* s = state_.load(std::memory_order_acquire);
    TRICOLOR_CHECK(s != nullptr, "the %s queue is used before it was prepared", thread_.name());
    bool was_empty = false;
    {
      lock_spinning(s->mutex);
      std::lock_guard lock(s->mutex, std::adopt_lock);
      const std::uint64_t seq = ++s->pushed;
      if (first->*Queued) {
        TRICOLOR_DCHECK(first == last, "a chain pushed with a queued item");
        return false;
      }
      for (Item* i = first;; i = i->*Next) {
        i->*Seq = seq;
        i->*Queued = true;
        if (i == last) break;
      }
      last->*Next = nullptr;
      was_empty = s->head == nullptr;
      *s->tail = first;
      s->tail = &(last->*Next);
    }
    // A queue that was not empty has a thread on its way to these items already.
    if (was_empty) thread_.notify();  // no thread is started inside a critical section
    return true;
  }

  // On the thread: runs every item queued, one at a time, until the queue stays empty. `run(item)`
  // runs the item's callbacks; the item is unlinked (not queued) by then.
  template <class Run>
  void run_all(Run&& run) {
    t_runs_user_callbacks = true;
    run_items(run);
  }

  // On the thread, between two callbacks of an item that run_all() runs: runs the items queued
  // since, unless `kMaxDepth` items are in progress already. Returns whether any ran.
  template <class Run>
  bool run_queued(Run&& run) {
    if (depth_ >= kMaxDepth) return false;
    return run_items(run);
  }

  // On the thread, before each callback: what a stall report names. One writer: plain stores.
  void note_running(const void* object, const void* function) {
    running_object_.store(object, std::memory_order_relaxed);
    running_function_.store(function, std::memory_order_relaxed);
    started_.store(started_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // The same for callbacks run in a batch (detail/dying_objects.hpp): the function before the
  // batch, and each object, with the count, through these, in the batch's loop.
  void note_running_function(const void* function) {
    running_function_.store(function, std::memory_order_relaxed);
  }
  std::atomic<const void*>* running_object() { return &running_object_; }
  std::atomic<std::uint64_t>* started_count() { return &started_; }

  // Blocks until every item pushed so far has run.
  void wait() {
    State* s = state_.load(std::memory_order_acquire);
    if (s == nullptr || t_runs_user_callbacks) return;
    thread_.start();  // if a fork's child could not start it, now (outside critical sections)
    BlockingScope blocked;
    std::unique_lock lock(s->mutex);
    const std::uint64_t target = s->pushed;
    auto progress_at = std::chrono::steady_clock::now();
    auto next_report = progress_at + kStallReport;
    std::uint64_t started = started_.load(std::memory_order_acquire);
    std::uint64_t completed = s->completed;
    while (!s->ran_through(target)) {
      s->progress.wait_for(lock, std::chrono::seconds(1));
      const auto now = std::chrono::steady_clock::now();
      const std::uint64_t started_now = started_.load(std::memory_order_acquire);
      if (started_now != started || s->completed != completed) {
        started = started_now;
        completed = s->completed;
        progress_at = now;
        next_report = now + kStallReport;
      } else if (!s->ran_through(target) && now >= next_report) {
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
    lock.unlock();  // before the blocking scope ends: leaving it may wait for a stop
  }

  // In the child after fork(): see above.
  void restart_after_fork() {
    thread_.forget_after_fork();
    depth_ = 0;
    State* old = state_.load(std::memory_order_acquire);
    if (old == nullptr) return;
    auto* fresh = new State;
    fresh->head = old->head;
    for (Item* i = fresh->head; i != nullptr; i = i->*Next) fresh->tail = &(i->*Next);
    fresh->pushed = old->pushed;
    fresh->completed = old->completed;
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
  static constexpr int kMaxDepth = 4;

  struct State {
    std::mutex mutex;  // taken inside critical sections, or in blocking scopes
    std::condition_variable progress;
    Item* head = nullptr;
    Item** tail = &head;
    std::uint64_t pushed = 0;       // pushes so far: the last sequence number given
    std::uint64_t in_progress = 0;  // the number of the outermost item running, 0 if none
    std::uint64_t completed = 0;    // items run, for the stall report
    // Whether every push numbered up to `seq` has run (see the header).
    bool ran_through(std::uint64_t seq) const {
      return (head == nullptr || head->*Seq > seq) && (in_progress == 0 || in_progress > seq);
    }
  };

  // Pops and runs items until the queue is empty; returns whether any ran. One lock per item: an
  // item is counted done under the lock that pops the next.
  template <class Run>
  bool run_items(Run& run) {
    State& s = *state_.load(std::memory_order_acquire);
    bool ran = false;
    bool done = false;  // an item ran that is not counted yet
    for (;;) {
      Item* item = nullptr;
      {
        CriticalSection critical;  // never stopped (or forked) while holding the lock
        lock_spinning(s.mutex);
        std::lock_guard lock(s.mutex, std::adopt_lock);
        if (done) {
          ++s.completed;
          if (depth_ == 0) s.in_progress = 0;
        }
        item = s.head;
        if (item != nullptr) {
          s.head = item->*Next;
          if (s.head == nullptr) s.tail = &s.head;
          item->*Queued = false;
          if (depth_ == 0) s.in_progress = item->*Seq;
        }
      }
      if (done) s.progress.notify_all();
      if (item == nullptr) return ran;
      ++depth_;
      run(item);
      --depth_;
      ran = done = true;
      poll_safepoint();
    }
  }

  // Never freed: a detached thread may still use it while the program exits, and after a fork
  // the old one may be locked by a thread that no longer exists.
  std::atomic<State*> state_{nullptr};
  const char* kind_;
  int depth_ = 0;  // items in progress, nested by run_queued; the thread's alone
  std::atomic<const void*> running_object_{nullptr};
  std::atomic<const void*> running_function_{nullptr};
  std::atomic<std::uint64_t> started_{0};  // callbacks begun, for the stall report
  LibraryThread thread_;
};

}  // namespace gc::detail
