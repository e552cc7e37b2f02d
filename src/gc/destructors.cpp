#include "gc/destructors.hpp"

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "heap/central.hpp"
#include "heap/os_memory.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

struct Queue {
  std::mutex mutex;
  std::condition_variable wake;              // the destructor thread waits for work
  std::condition_variable progress;          // waiters for "everything queued so far has run"
  std::vector<std::vector<Zombie>> pending;  // one batch per swept span
  std::uint64_t queued = 0;
  std::uint64_t finished = 0;
  bool thread_started = false;
};

std::atomic<Queue*> g_queue{new Queue};
Queue& queue() { return *g_queue.load(std::memory_order_acquire); }

thread_local bool t_is_destructor_thread = false;
std::atomic<std::uint64_t> g_deferred_slots{0};

void run_destructor(const Zombie& z) {
  try {
    z.destructor(z.object);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p): %s\n", z.object, e.what());
  } catch (...) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p)\n", z.object);
  }
}

// Runs the destructors of one span's zombies, then frees their slots under one lock.
void run_batch(const std::vector<Zombie>& batch, std::vector<std::uint32_t>& indexes) {
  Span* span = batch.front().span;
  std::atomic<std::uintptr_t>* table = span->destructors.load(std::memory_order_acquire);
  indexes.clear();
  for (const Zombie& z : batch) {
    run_destructor(z);
    table[z.index].store(0, std::memory_order_release);
    indexes.push_back(z.index);
    poll_safepoint();
  }
  CriticalSection critical;
  const std::size_t freed =
      central(span->span_class)
          .free_zombie_slots(span, indexes.data(), indexes.size(), batch.front().sweepgen);
  g_deferred_slots.fetch_add(indexes.size() - freed, std::memory_order_relaxed);
}

void destructor_thread() {
  register_current_thread("destructors");
  t_is_destructor_thread = true;
  Queue& q = queue();
  std::vector<std::vector<Zombie>> batches;
  std::vector<std::uint32_t> indexes;
  for (;;) {
    {
      // The lock is released before the blocking scope ends: leaving it may wait for a stop, and
      // a sweeping thread that the stop waits for may need this lock.
      BlockingScope blocked;
      std::unique_lock lock(q.mutex);
      q.wake.wait(lock, [&] { return !q.pending.empty(); });
      batches.swap(q.pending);
      lock.unlock();
    }
    std::uint64_t ran = 0;
    for (const auto& batch : batches) {
      run_batch(batch, indexes);
      ran += batch.size();
    }
    {
      CriticalSection critical;  // never stopped (or forked) while holding the queue's lock
      std::lock_guard lock(q.mutex);
      q.finished += ran;
    }
    q.progress.notify_all();
    batches.clear();
  }
}

}  // namespace

void register_destructor(void* object, DestructorFn fn) {
  const auto addr = reinterpret_cast<std::uintptr_t>(object);
  Span* s = span_of(addr);
  std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
  if (table == nullptr) {
    CriticalSection critical;
    auto* fresh = new std::atomic<std::uintptr_t>[s->nelems]();
    if (s->destructors.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) {
      table = fresh;
    } else {
      delete[] fresh;
    }
  }
  const std::uint32_t index = s->nelems == 1 ? 0 : s->slot_index(addr);
  table[index].store(reinterpret_cast<std::uintptr_t>(fn), std::memory_order_release);
}

void queue_zombies(std::vector<Zombie>&& batch) {
  Queue& q = queue();
  bool start = false;
  {
    std::lock_guard lock(q.mutex);
    q.queued += batch.size();
    q.pending.push_back(std::move(batch));
    start = !q.thread_started;
    q.thread_started = true;
  }
  if (start) std::thread(destructor_thread).detach();
  q.wake.notify_one();
}

void restart_destructor_thread_after_fork() {
  // The destructor thread may have died holding the queue's lock or waiting on its condition
  // variables: move the work to a fresh queue and start a thread for it if there is any.
  Queue& old = queue();
  auto* fresh = new Queue;
  fresh->pending = std::move(old.pending);
  // A batch the old thread had taken but not finished is lost with it: its objects stay zombies
  // (their memory is not reused) and nothing waits for them.
  std::uint64_t waiting = 0;
  for (const auto& batch : fresh->pending) waiting += batch.size();
  fresh->queued = old.queued;
  fresh->finished = old.queued - waiting;
  fresh->thread_started = !fresh->pending.empty();
  g_queue.store(fresh, std::memory_order_release);
  if (fresh->thread_started) std::thread(destructor_thread).detach();
}

std::uint64_t deferred_zombie_slots() { return g_deferred_slots.load(std::memory_order_relaxed); }

std::uint64_t wait_for_destructors() {
  if (t_is_destructor_thread) return 0;  // a destructor that collects must not wait for itself
  Queue& q = queue();
  BlockingScope blocked;
  std::unique_lock lock(q.mutex);
  const std::uint64_t target = q.queued;
  const std::uint64_t before = q.finished;
  q.progress.wait(lock, [&] { return q.finished >= target; });
  const std::uint64_t ran = q.finished - before;
  lock.unlock();  // before the blocking scope ends (see destructor_thread)
  return ran;
}

}  // namespace gc::detail
