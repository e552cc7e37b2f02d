#include "toolbox/arenas.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <new>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/sweeper.hpp"
#include "heap/address_space.hpp"
#include "heap/pointer_bitmap.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/arena.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

struct ArenaChunk : Span {
  std::size_t bytes = 0;                // npages * kPageSize
  std::atomic<std::size_t> used{0};     // the bump pointer: [base, base + used) is handed out
  ArenaChunk* next_in_arena = nullptr;  // the owning arena's chunks
  ArenaChunk* next_chunk = nullptr;     // in the live, quarantine or ready list
  std::uint32_t freed_in_cycle = 0;     // g_mark.cycle when the chunk was freed
  std::atomic<std::uint32_t> seen_in_cycle{0};  // the latest cycle that saw a pointer into it
};

namespace {

constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

// The lists, under g_chunks_mutex, which mutators take inside critical sections only.
Mutex g_chunks_mutex{LockRank::kToolbox};
ArenaChunk* g_live = nullptr;
ArenaChunk* g_quarantine = nullptr;
ArenaChunk* g_ready = nullptr;

void push(ArenaChunk*& list, ArenaChunk* c) {
  c->next_chunk = list;
  list = c;
}

void unlink(ArenaChunk*& list, ArenaChunk* c) {
  for (ArenaChunk** p = &list; *p != nullptr; p = &(*p)->next_chunk) {
    if (*p == c) {
      *p = c->next_chunk;
      return;
    }
  }
}

// The number of the latest cycle whose mark has ended.
std::uint32_t last_finished_cycle() {
  const std::uint32_t started = g_mark.cycle.load(std::memory_order_acquire);
  return marking() ? started - 1 : started;
}

// Under the lock: moves quarantined chunks that a whole cycle begun after their free did not see
// to the ready list, committing them again.
void recycle_unseen_chunks() {
  const std::uint32_t finished = last_finished_cycle();
  for (ArenaChunk** p = &g_quarantine; *p != nullptr;) {
    ArenaChunk* c = *p;
    const bool unseen =
        finished > c->freed_in_cycle && c->seen_in_cycle.load(std::memory_order_acquire) < finished;
    if (!unseen || !os::commit(reinterpret_cast<void*>(c->base), c->bytes)) {
      p = &c->next_chunk;
      continue;
    }
    os::count_ready(os::Account::kArena, static_cast<std::int64_t>(c->bytes));
    *p = c->next_chunk;
    g_quarantined_chunks.fetch_sub(1, std::memory_order_relaxed);
    push(g_ready, c);
  }
}

// Under the lock: the smallest ready chunk of at least `bytes`, unlinked.
ArenaChunk* take_ready(std::size_t bytes) {
  ArenaChunk* best = nullptr;
  for (ArenaChunk* c = g_ready; c != nullptr; c = c->next_chunk)
    if (c->bytes >= bytes && (best == nullptr || c->bytes < best->bytes)) best = c;
  if (best != nullptr) unlink(g_ready, best);
  return best;
}

// A live chunk of at least `bytes`, reused or new.
ArenaChunk* new_chunk(std::size_t bytes) {
  g_hooks.roots.add(mark_arena_roots);
  const std::size_t size = std::max(kChunkBytes, (bytes + kPageSize - 1) & ~(kPageSize - 1));
  {
    CriticalSection critical;
    std::lock_guard lock(g_chunks_mutex);
    recycle_unseen_chunks();
    if (ArenaChunk* c = take_ready(bytes)) {
      c->used.store(0, std::memory_order_relaxed);
      c->seen_in_cycle.store(0, std::memory_order_relaxed);
      push(g_live, c);
      return c;
    }
  }
  auto* c = new ArenaChunk;  // outside the section: malloc
  std::uintptr_t base;
  {
    CriticalSection critical;
    base = grow_heap(size);
  }
  if (base == 0) {
    delete c;
    throw std::bad_alloc();
  }
  os::count_ready(os::Account::kArena, static_cast<std::int64_t>(size));
  c->base = base;
  c->npages = size / kPageSize;
  c->bytes = size;
  c->nelems = 1;
  c->state.store(SpanState::kArena, std::memory_order_relaxed);
  const std::uintptr_t lo = g_heap.lo.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < c->npages; ++i)
    g_heap.spans[((base - lo) >> kPageShift) + i].store(c, std::memory_order_release);
  CriticalSection critical;
  std::lock_guard lock(g_chunks_mutex);
  push(g_live, c);
  return c;
}

}  // namespace

void* ArenaCore::allocate(std::size_t bytes, std::size_t align) {
  ensure_registered();
  ArenaChunk* c = chunks_;
  if (c != nullptr) {
    const std::size_t used = c->used.load(std::memory_order_relaxed);
    const std::size_t offset = (used + align - 1) & ~(align - 1);
    if (offset <= c->bytes && bytes <= c->bytes - offset) {
      last_offset_ = used;
      last_ = reinterpret_cast<void*>(c->base + offset);
      // Release: the root pass reads `used` with acquire before it reads pointer bits below it.
      c->used.store(offset + bytes, std::memory_order_release);
      return last_;
    }
  }
  // A new chunk; alignment beyond a page is met by padding inside it.
  const std::size_t padding = align > kPageSize ? align : 0;
  if (bytes > SIZE_MAX - padding - kPageSize) throw std::bad_alloc();
  c = new_chunk(bytes + padding);
  c->next_in_arena = chunks_;
  chunks_ = c;
  bytes_ += c->bytes;
  const std::size_t offset = ((c->base + align - 1) & ~(align - 1)) - c->base;
  last_offset_ = 0;
  last_ = reinterpret_cast<void*>(c->base + offset);
  c->used.store(offset + bytes, std::memory_order_release);
  return last_;
}

void ArenaCore::abandon_last(void* memory) noexcept {
  if (memory != last_) return;
  ArenaChunk* c = chunks_;
  // The members the constructor built were destroyed as it threw; the bytes are zeroed for the
  // next allocation, which expects a fresh chunk's zeros.
  const std::size_t used = c->used.load(std::memory_order_relaxed);
  clear_pointer_bits(c->base + last_offset_, used - last_offset_);
  std::memset(reinterpret_cast<void*>(c->base + last_offset_), 0, used - last_offset_);
  c->used.store(last_offset_, std::memory_order_release);
  last_ = nullptr;
}

void ArenaCore::release() noexcept {
  if (chunks_ == nullptr) return;
  // Last made, first destroyed: an object may refer to older ones in its destructor.
  for (auto it = destructors_.rbegin(); it != destructors_.rend(); ++it) it->fn(it->object);
  destructors_.clear();
  {
    CriticalSection critical;
    std::lock_guard lock(g_chunks_mutex);
    for (ArenaChunk* c = chunks_; c != nullptr; c = c->next_in_arena) unlink(g_live, c);
  }
  // Out of every list, so no root pass reads them: the system calls run without the lock.
  for (ArenaChunk* c = chunks_; c != nullptr; c = c->next_in_arena) {
    clear_pointer_bits(c->base, c->used.load(std::memory_order_relaxed));
    os::retire(reinterpret_cast<void*>(c->base), c->bytes);
    os::count_ready(os::Account::kArena, -static_cast<std::int64_t>(c->bytes));
  }
  // Registered by the first free, before any chunk is quarantined, so a program that never frees
  // an arena pays nothing in the marker; a cycle begun after this free (the only kind that counts
  // for reuse) starts with a stop of the world, which makes the registration visible to it.
  g_hooks.foreign_word.add(note_arena_reference);
  CriticalSection critical;
  std::lock_guard lock(g_chunks_mutex);
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_acquire);
  for (ArenaChunk* c = chunks_; c != nullptr;) {
    ArenaChunk* next = c->next_in_arena;
    c->next_in_arena = nullptr;
    c->freed_in_cycle = cycle;
    c->seen_in_cycle.store(0, std::memory_order_relaxed);
    push(g_quarantine, c);
    g_quarantined_chunks.fetch_add(1, std::memory_order_relaxed);
    c = next;
  }
  chunks_ = nullptr;
  last_ = nullptr;
  bytes_ = 0;
}

void mark_arena_roots(Marker& marker) {
  std::lock_guard lock(g_chunks_mutex);
  for (ArenaChunk* c = g_live; c != nullptr; c = c->next_chunk) {
    const std::size_t used = c->used.load(std::memory_order_acquire);
    for_each_pointer_word(c->base, used, [&](std::uintptr_t word, std::uint64_t mask) {
      // Acquire: pairs with slot_born's release, as the object may be under construction.
      std::uint64_t bits = pointer_bits_of(word) & mask;
      const std::uintptr_t first_slot = g_heap.lo.load(std::memory_order_relaxed) + word * 64 * 8;
      while (bits != 0) {
        const auto slot = first_slot + static_cast<std::uintptr_t>(std::countr_zero(bits)) * 8;
        bits &= bits - 1;
        marker.set_root_source("the arena slot", slot);
        marker.shade(std::atomic_ref<std::uintptr_t>(*reinterpret_cast<std::uintptr_t*>(slot))
                         .load(std::memory_order_relaxed));
      }
    });
  }
}

void note_arena_reference(std::uintptr_t word) {
  if (g_quarantined_chunks.load(std::memory_order_relaxed) == 0) return;
  const std::uintptr_t lo = g_heap.lo.load(std::memory_order_relaxed);
  if (word - lo >= g_heap.size.load(std::memory_order_acquire)) return;
  Span* s = span_of(word);
  if (s == nullptr || s->state.load(std::memory_order_acquire) != SpanState::kArena) return;
  static_cast<ArenaChunk*>(s)->seen_in_cycle.store(g_mark.cycle.load(std::memory_order_relaxed),
                                                   std::memory_order_release);
}

}  // namespace gc::detail
