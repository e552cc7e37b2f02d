#include "gc/destructors.hpp"

#include <cstdio>
#include <exception>

#include "base/check.hpp"
#include "base/fixed_pool.hpp"
#include "base/os_memory.hpp"
#include "gc/callback_queue.hpp"
#include "gc/sweeper.hpp"
#include "heap/central.hpp"
#include "heap/destructor_table.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

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

void drain_destructors();
constinit CallbackQueue<ZombieBatch> g_queue("destructors", "destructor", drain_destructors);

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
    g_queue.note_running(z.object, reinterpret_cast<const void*>(z.destructor));
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

// One round of the destructor thread: every batch queued, until the queue stays empty.
void drain_destructors() {
  g_queue.run_all([](ZombieBatch* batch) -> std::uint64_t {
    run_batch(batch);
    const std::uint64_t ran = batch->count;
    CriticalSection critical;
    free_zombie_batch(batch);
    return ran;
  });
}

std::uint64_t batch_callbacks(const ZombieBatch* batch) { return batch->count; }

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

DestructorFn registered_destructor(const Span* s, std::uint32_t index) {
  const std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
  if (table == nullptr) return nullptr;
  return reinterpret_cast<DestructorFn>(table[index].load(std::memory_order_acquire));
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

void queue_zombies(ZombieBatch* batch) { g_queue.push(batch, batch, batch->count); }

void start_destructor_thread() { g_queue.prepare(); }

void restart_destructor_thread_after_fork() { g_queue.restart_after_fork(batch_callbacks); }

std::uint64_t deferred_zombie_slots() { return g_deferred_slots.load(std::memory_order_relaxed); }

std::uint64_t wait_for_destructors() { return g_queue.wait(); }

}  // namespace gc::detail
