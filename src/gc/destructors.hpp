// Destructors of dead objects, run on the library's destructor thread.
//
// Sweeping never runs user code: a dead object with a destructor becomes a zombie, queued here with
// its span, slot and the sweep generation that found it. The destructor thread runs the destructor,
// clears the slot's destructor entry, and then frees the slot at once if its span is still on a
// central list, unchanged since (Central::free_zombie_slots); otherwise the next sweep frees it,
// since the slot is now dead and has no destructor. A destructor therefore runs at most once, only
// for an object that a cycle found unreachable, and user code never runs inside the allocator, the
// sweeper or a stop-the-world — a destructor may take any lock, allocate, or block.
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

// The dead objects with destructors that one sweep of one span found: a header followed by room
// for one entry per slot of the span. Batches come from a SizedPool, because sweeping runs inside
// critical sections, where malloc is off limits.
struct ZombieBatch {
  struct Entry {
    void* object;
    DestructorFn destructor;
    std::uint32_t index;
  };
  ZombieBatch* next = nullptr;
  Span* span = nullptr;
  std::uint32_t sweepgen = 0;
  std::uint32_t count = 0;
  std::size_t bytes = 0;  // as allocated: the span may be gone when the batch is freed
  Entry* entries() { return reinterpret_cast<Entry*>(this + 1); }
};

ZombieBatch* new_zombie_batch(Span* span, std::uint32_t sweepgen);

// The destructor registered for the live object in slot `index` of `s`; nullptr if it has none.
DestructorFn registered_destructor(const Span* s, std::uint32_t index);

// Hands a batch to the destructor thread (which gives it back to the pool when done).
void queue_zombies(ZombieBatch* batch);
// Makes the destructor queue and starts its thread (idempotent); outside critical sections (it
// allocates). ensure_runtime() calls it, so both exist before any sweep can queue a destructor.
void start_destructor_thread();

// Blocks until every destructor queued so far has run. Returns how many ran while waiting.
std::uint64_t wait_for_destructors();

// In the child after fork(): the destructor thread did not survive; a new one starts, with the
// batches the old one had not taken (callback_queue.hpp).
void restart_destructor_thread_after_fork();

// Zombie slots whose destructor has run but that must wait for the next sweep to be freed.
std::uint64_t deferred_zombie_slots();

}  // namespace gc::detail
