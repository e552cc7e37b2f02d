#include "toolbox/pools.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/cpus.hpp"
#include "base/mutex.hpp"
#include "gc/hooks.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/pool.hpp"

namespace gc::detail {

struct PoolChunk {
  static constexpr std::uint32_t kSlots = 30;
  gc::ptr<PoolChunk> next;
  std::uint32_t count = 0;
  gc::ptr<std::byte> slots[kSlots];
};

}  // namespace gc::detail

// A chunk holds nothing but gc::ptrs and a count: the sweep may free it without a destructor.
template <>
inline constexpr bool gc::collect_without_destructor<gc::detail::PoolChunk> = true;

namespace gc::detail {

namespace {

// Cache-line sized, so that threads on different shards do not share a line.
struct alignas(64) Shard {
  std::atomic<bool> busy{false};
  gc::ptr<PoolChunk> primary;
  gc::ptr<PoolChunk> victim;

  // Only inside a critical section (see pools.hpp).
  void lock() noexcept {
    while (busy.exchange(true, std::memory_order_acquire)) {
      while (busy.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  bool try_lock() noexcept { return !busy.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { busy.store(false, std::memory_order_release); }
};

// Pops from a chain whose head chunk may be empty and whose other chunks are full. An empty head
// is dropped only when a full chunk follows, so a thread that alternates put() and get() keeps
// reusing one chunk instead of allocating one per put().
void* pop(gc::ptr<PoolChunk>& head) noexcept {
  if (!head) return nullptr;
  if (head->count == 0) {
    if (!head->next) return nullptr;
    head = gc::ptr<PoolChunk>(head->next);
  }
  gc::ptr<std::byte>& slot = head->slots[--head->count];
  void* object = slot.get();
  slot.reset();  // the barrier shades it during a mark: the caller may store it anywhere
  return object;
}

// A shard's primary chain first, then its victim chain; the shard's lock is held.
void* pop_either(Shard& shard) noexcept {
  void* object = pop(shard.primary);
  return object != nullptr ? object : pop(shard.victim);
}

bool push(gc::ptr<PoolChunk>& head, void* object) noexcept {
  if (!head || head->count == PoolChunk::kSlots) return false;
  head->slots[head->count++] = gc::ptr<std::byte>(adopt, static_cast<std::byte*>(object));
  return true;
}

unsigned shard_count() { return std::bit_ceil(static_cast<unsigned>(std::max(cpu_count(), 1))); }

// Each thread's index into every pool's shards: consecutive threads get consecutive shards.
unsigned this_thread_index() {
  static constinit std::atomic<unsigned> next{0};
  thread_local const unsigned index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

}  // namespace

struct PoolState {
  explicit PoolState(unsigned count) : shards(new Shard[count]), mask(count - 1) {}
  std::unique_ptr<Shard[]> shards;
  unsigned mask;
  PoolState* next = nullptr;  // in the registry, under g_registry_mutex
  PoolState* prev = nullptr;
};

namespace {

Mutex g_registry_mutex{LockRank::kToolbox};  // taken inside critical sections only
PoolState* g_registry = nullptr;

}  // namespace

namespace {

// gc::why_alive: a root slot in a pool's shards is the pool's.
const char* name_pool_slot(std::uintptr_t slot) {
  CriticalSection critical;
  std::lock_guard lock(g_registry_mutex);
  for (const PoolState* p = g_registry; p != nullptr; p = p->next) {
    const auto lo = reinterpret_cast<std::uintptr_t>(p->shards.get());
    if (slot - lo < (p->mask + 1) * sizeof(Shard)) return "a gc::pool's free list";
  }
  return nullptr;
}

}  // namespace

PoolCore::PoolCore() : state_(new PoolState(shard_count())) {
  ensure_registered();
  g_hooks.mark_start.add(rotate_pools);
  g_hooks.root_owner.add(name_pool_slot);
  CriticalSection critical;
  std::lock_guard lock(g_registry_mutex);
  state_->next = g_registry;
  if (g_registry != nullptr) g_registry->prev = state_;
  g_registry = state_;
}

PoolCore::~PoolCore() {
  {
    CriticalSection critical;
    std::lock_guard lock(g_registry_mutex);
    if (state_->prev != nullptr)
      state_->prev->next = state_->next;
    else
      g_registry = state_->next;
    if (state_->next != nullptr) state_->next->prev = state_->prev;
  }
  delete state_;  // outside the section: unregistering the chain heads as roots may allocate
}

void* PoolCore::take() noexcept {
  ensure_registered();
  const unsigned mine = this_thread_index();
  CriticalSection critical;
  Shard& own = state_->shards[mine & state_->mask];
  own.lock();
  void* object = pop_either(own);
  own.unlock();
  // Steal, as sync.Pool does, but never wait for a busy shard: a miss only costs an allocation.
  for (unsigned i = 1; object == nullptr && i <= state_->mask; ++i) {
    Shard& other = state_->shards[(mine + i) & state_->mask];
    if (!other.try_lock()) continue;
    object = pop_either(other);
    other.unlock();
  }
  return object;
}

void PoolCore::give(void* object) {
  ensure_registered();
  Shard& own = state_->shards[this_thread_index() & state_->mask];
  {
    CriticalSection critical;
    own.lock();
    const bool done = push(own.primary, object);
    own.unlock();
    if (done) return;
  }
  gc::ptr<PoolChunk> fresh = gc::make<PoolChunk>();  // may throw std::bad_alloc; `object` unharmed
  CriticalSection critical;
  own.lock();
  if (!push(own.primary, object)) {
    fresh->next = own.primary;
    own.primary = fresh;
    push(own.primary, object);
  }
  own.unlock();
}

void rotate_pools() {
  std::lock_guard lock(g_registry_mutex);  // free: its holders are in critical sections
  for (PoolState* s = g_registry; s != nullptr; s = s->next) {
    for (unsigned i = 0; i <= s->mask; ++i) {
      Shard& shard = s->shards[i];
      shard.lock();  // free too; taken for the happens-before edge with the last holder
      shard.victim = shard.primary;
      shard.primary.reset();
      shard.unlock();
    }
  }
}

}  // namespace gc::detail
