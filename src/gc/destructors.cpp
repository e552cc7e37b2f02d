#include "gc/destructors.hpp"

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "base/check.hpp"
#include "base/fixed_pool.hpp"
#include "base/os_memory.hpp"
#include "gc/sweeper.hpp"
#include "heap/central.hpp"
#include "heap/destructor_table.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

struct Queue {
  std::mutex mutex;
  std::condition_variable wake;      // the destructor thread waits for work
  std::condition_variable progress;  // waiters for "everything queued so far has run"
  ZombieBatch* pending = nullptr;    // a list of batches, one per swept span
  std::uint64_t queued = 0;
  std::uint64_t finished = 0;
};

std::atomic<Queue*> g_queue{new Queue};
Queue& queue() { return *g_queue.load(std::memory_order_acquire); }

std::size_t zombie_batch_bytes(const Span* span) {
  return sizeof(ZombieBatch) + span->nelems * sizeof(ZombieBatch::Entry);
}

void free_zombie_batch(ZombieBatch* batch) {
  const std::size_t bytes = batch->bytes;
  batch->~ZombieBatch();
  SizedPool::deallocate(batch, bytes);
}
std::atomic<std::uint64_t> g_deferred_slots{0};

void run_destructor(void* object, DestructorFn destructor) {
  try {
    destructor(object);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p): %s\n", object, e.what());
  } catch (...) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p)\n", object);
  }
}

// Runs the destructors of one span's zombies, then frees their slots under one lock.
void run_batch(ZombieBatch* batch) {
  Span* span = batch->span;
  std::atomic<std::uintptr_t>* table = span->destructors.load(std::memory_order_acquire);
  std::uint32_t indexes[kMaxSpanObjects];
  for (std::uint32_t i = 0; i < batch->count; ++i) {
    const ZombieBatch::Entry& z = batch->entries()[i];
    TRICOLOR_DCHECK(table != nullptr && table[z.index].load(std::memory_order_relaxed) ==
                                            reinterpret_cast<std::uintptr_t>(z.destructor),
                    "zombie %p lost its destructor entry before it ran", z.object);
    TRICOLOR_DCHECK(
        span->zombie_bits[z.index / 64].load(std::memory_order_relaxed) >> (z.index % 64) & 1,
        "zombie %p is not marked queued in its span", z.object);
    run_destructor(z.object, z.destructor);
    table[z.index].store(0, std::memory_order_release);
    indexes[i] = z.index;
    poll_safepoint();
  }
  CriticalSection critical;
  // A destructor may have made a gc::weak or cleanup of its own object.
  for (std::uint32_t i = 0; i < batch->count; ++i) process_specials(span, indexes[i]);
  const std::size_t freed =
      central(span->span_class).free_zombie_slots(span, indexes, batch->count, batch->sweepgen);
  g_deferred_slots.fetch_add(batch->count - freed, std::memory_order_relaxed);
}

void destructor_thread() {
  register_current_thread("destructors");
  t_runs_user_callbacks = true;
  for (;;) {
    Queue& q = queue();
    ZombieBatch* batches = nullptr;
    {
      // The lock is released before the blocking scope ends: leaving it may wait for a stop, and
      // a sweeping thread that the stop waits for may need this lock.
      BlockingScope blocked;
      std::unique_lock lock(q.mutex);
      q.wake.wait(lock, [&] { return q.pending != nullptr; });
      batches = q.pending;
      q.pending = nullptr;
      lock.unlock();
    }
    std::uint64_t ran = 0;
    while (batches != nullptr) {
      ZombieBatch* batch = batches;
      batches = batch->next;
      run_batch(batch);
      ran += batch->count;
      CriticalSection critical;
      free_zombie_batch(batch);
    }
    {
      CriticalSection critical;  // never stopped (or forked) while holding the queue's lock
      std::lock_guard lock(q.mutex);
      q.finished += ran;
    }
    q.progress.notify_all();
  }
}

std::atomic<bool> g_thread_started{false};

}  // namespace

void register_destructor(void* object, DestructorFn fn) {
  const auto addr = reinterpret_cast<std::uintptr_t>(object);
  Span* s = span_of(addr);
  std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
  if (table == nullptr) {
    auto* fresh = new_destructor_table(s->nelems);
    if (s->destructors.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) {
      table = fresh;
    } else {
      free_destructor_table(fresh, s->nelems);
    }
  }
  const std::uint32_t index = s->nelems == 1 ? 0 : s->slot_index(addr);
  TRICOLOR_DCHECK(index < s->nelems && s->slot_base(index) == addr,
                  "destructor registered for %p, which is not the start of a slot", object);
  TRICOLOR_DCHECK(table[index].load(std::memory_order_relaxed) == 0,
                  "slot %u of span %p already has a destructor", index,
                  reinterpret_cast<void*>(s->base));
  table[index].store(reinterpret_cast<std::uintptr_t>(fn), std::memory_order_release);
}

ZombieBatch* new_zombie_batch(Span* span, std::uint32_t sweepgen) {
  TRICOLOR_DCHECK(span->nelems <= kMaxSpanObjects, "a span of %u objects", span->nelems);
  const std::size_t bytes = zombie_batch_bytes(span);
  auto* batch = ::new (SizedPool::allocate(bytes)) ZombieBatch;
  batch->bytes = bytes;
  batch->span = span;
  batch->sweepgen = sweepgen;
  return batch;
}

void queue_zombies(ZombieBatch* batch) {
  Queue& q = queue();
  {
    std::lock_guard lock(q.mutex);
    q.queued += batch->count;
    batch->next = q.pending;
    q.pending = batch;
  }
  q.wake.notify_one();
}

void start_destructor_thread() {
  if (!g_thread_started.exchange(true)) std::thread(destructor_thread).detach();
}

void restart_destructor_thread_after_fork() {
  // The destructor thread may have died holding the queue's lock or waiting on its condition
  // variables: move the work to a fresh queue and start a thread for it if there is any.
  Queue& old = queue();
  auto* fresh = new Queue;
  fresh->pending = old.pending;
  // A batch the old thread had taken but not finished is lost with it: its objects stay zombies
  // (their memory is not reused) and nothing waits for them.
  std::uint64_t waiting = 0;
  for (ZombieBatch* b = fresh->pending; b != nullptr; b = b->next) waiting += b->count;
  fresh->queued = old.queued;
  fresh->finished = old.queued - waiting;
  g_queue.store(fresh, std::memory_order_release);
  g_thread_started.store(false);
  if (fresh->pending != nullptr) start_destructor_thread();
}

std::uint64_t deferred_zombie_slots() { return g_deferred_slots.load(std::memory_order_relaxed); }

std::uint64_t wait_for_destructors() {
  if (t_runs_user_callbacks) return 0;  // see t_runs_user_callbacks
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
