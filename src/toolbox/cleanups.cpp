#include "toolbox/cleanups.hpp"

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "gc/destructors.hpp"
#include "gc/hooks.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/background_worker.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "toolbox/special_table.hpp"
#include "toolbox/specials.hpp"
#include "tricolor/cleanup.hpp"

namespace gc::detail {

namespace {

struct CleanupRecord {
  std::uintptr_t base = 0;        // the object's base: the key in the table
  CleanupRecord* next = nullptr;  // in its bucket, then in the ready queue
  std::function<void()> fn;
};

SpecialTable<CleanupRecord> g_records;

struct ReadyQueue {
  std::mutex mutex;  // taken inside critical sections only
  std::condition_variable progress;
  CleanupRecord* head = nullptr;
  CleanupRecord** tail = &head;  // so cleanups run in the order their objects were swept
  std::uint64_t queued = 0;
  std::uint64_t finished = 0;
};
// Made by the first add_cleanup (outside critical sections) and never freed: a detached cleanup
// thread may still use it while the program exits.
std::atomic<ReadyQueue*> g_ready{nullptr};
ReadyQueue& ready() { return *g_ready.load(std::memory_order_acquire); }

void run_cleanup(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tricolor: a cleanup threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "tricolor: a cleanup threw an exception that is not a std::exception\n");
  }
}

// One round of the cleanup thread: run everything queued, until the queue stays empty.
void drain_ready_cleanups() {
  t_runs_user_callbacks = true;
  for (;;) {
    CleanupRecord* batch = nullptr;
    ReadyQueue& q = ready();
    {
      CriticalSection critical;
      std::lock_guard lock(q.mutex);
      batch = q.head;
      q.head = nullptr;
      q.tail = &q.head;
    }
    if (batch == nullptr) return;
    std::uint64_t ran = 0;
    while (batch != nullptr) {
      CleanupRecord* r = batch;
      batch = r->next;
      run_cleanup(r->fn);
      delete r;  // outside any critical section: frees what the function held
      ++ran;
      poll_safepoint();
    }
    {
      CriticalSection critical;
      std::lock_guard lock(q.mutex);
      q.finished += ran;
    }
    q.progress.notify_all();
  }
}

BackgroundWorker g_cleanup_thread("cleanups", drain_ready_cleanups);

}  // namespace

void add_cleanup(const void* object, std::function<void()> fn) {
  ensure_registered();
  ensure_specials_hook();
  g_hooks.collect_waits.add(wait_for_cleanups);
  g_hooks.fork_child.add(restart_cleanup_thread_after_fork);
  auto record = std::make_unique<CleanupRecord>();
  record->fn = std::move(fn);
  if (g_ready.load(std::memory_order_acquire) == nullptr) {
    auto* fresh = new ReadyQueue;
    ReadyQueue* none = nullptr;
    if (!g_ready.compare_exchange_strong(none, fresh, std::memory_order_acq_rel)) delete fresh;
  }
  g_cleanup_thread.start();
  bool linked = false;
  {
    CriticalSection critical;
    ObjectRef ref;
    if (find_object(reinterpret_cast<std::uintptr_t>(object), ref)) {
      record->base = ref.base;
      std::lock_guard lock(g_records.stripe(ref.base));
      // The bit goes up under the lock, so the sweep that reads it finds the record linked.
      ref.span->set_special(ref.index);
      g_records.link(record.release());
      linked = true;
    }
  }
  if (!linked)
    throw std::invalid_argument("gc::add_cleanup: the object is not a live managed object");
}

void queue_cleanups(std::uintptr_t base) {
  CleanupRecord* taken = nullptr;
  CleanupRecord** taken_tail = &taken;
  std::uint64_t count = 0;
  {
    std::lock_guard lock(g_records.stripe(base));
    g_records.take_all(base, [&](CleanupRecord* r) {
      r->next = nullptr;
      *taken_tail = r;
      taken_tail = &r->next;
      ++count;
    });
  }
  if (taken == nullptr) return;
  ReadyQueue& q = ready();  // exists: the object has a record, so add_cleanup ran
  {
    std::lock_guard lock(q.mutex);
    *q.tail = taken;
    q.tail = taken_tail;
    q.queued += count;
  }
  g_cleanup_thread.wake();  // started by add_cleanup: this only signals
}

void wait_for_cleanups() {
  ReadyQueue* q = g_ready.load(std::memory_order_acquire);
  if (q == nullptr || t_runs_user_callbacks) return;  // see t_runs_user_callbacks
  BlockingScope blocked;
  std::unique_lock lock(q->mutex);
  const std::uint64_t target = q->queued;
  q->progress.wait(lock, [&] { return q->finished >= target; });
  lock.unlock();  // before the blocking scope ends: leaving it may wait for a stop
}

void restart_cleanup_thread_after_fork() {
  g_cleanup_thread.forget_after_fork();
  ReadyQueue* old = g_ready.load(std::memory_order_acquire);
  if (old == nullptr) return;
  // The old queue's lock may be held by a thread that does not exist here. Its pending records
  // move to a fresh queue; a batch the old thread had taken is lost with it, and not waited for.
  auto* fresh = new ReadyQueue;
  fresh->head = old->head;
  std::uint64_t pending = 0;
  for (CleanupRecord* r = fresh->head; r != nullptr; r = r->next) {
    fresh->tail = &r->next;
    ++pending;
  }
  fresh->queued = old->queued;
  fresh->finished = old->queued - pending;
  g_ready.store(fresh, std::memory_order_release);
  g_cleanup_thread.wake();  // not only start(): the records moved over must run
}

}  // namespace gc::detail
