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

#include <cstdint>
#include <vector>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

struct Zombie {
  void* object;
  DestructorFn destructor;
  Span* span;
  std::uint32_t index;
  std::uint32_t sweepgen;
};

// Hands over the zombies one sweep of one span found.
void queue_zombies(std::vector<Zombie>&& batch);

// Blocks until every destructor queued so far has run. Returns how many ran while waiting.
std::uint64_t wait_for_destructors();

// In the child after fork(): the destructor thread did not survive; start it again if needed.
void restart_destructor_thread_after_fork();

// Zombie slots whose destructor has run but that must wait for the next sweep to be freed.
std::uint64_t deferred_zombie_slots();

}  // namespace gc::detail
