// Destructors of dead objects, run on the library's destructor thread.
//
// Sweeping never runs user code: a dead object with a destructor becomes a zombie. The sweep sets
// its bit in the span's `zombie_bits`, keeps its slot allocated, and queues the span (once: a span
// already queued is only counted again, callback_queue.hpp). The destructor thread takes a span and
// runs the destructor of every zombie it has that is not destroyed yet, clearing each one's entry
// in the destructor table; then, inside one critical section, it processes the specials the
// destructors may have made of their own objects, publishes the zombies in the span's
// `destroyed_bits`, and frees their slots at once if the span is on a central list, swept in this
// cycle (Central::release_destroyed). Otherwise the span's owner frees them: the thread cache that
// holds it, when its slots run out or when it gives the span back, or the next sweep
// (heap/central.hpp, free_destroyed_slots). So an object dies in the cycle that found it dead: its
// slot is taken again in that cycle, while the mark of the next one runs too.
//
// The thread reads a word's destroyed bits before its zombie bits: a slot is freed with its zombie
// bit cleared before its destroyed bit, and only this thread sets destroyed bits, so a zombie bit
// seen without its destroyed bit is a zombie whose destructor has not run (its slot cannot have
// been freed and found dead again in between, for that needs the destroyed bit first). A
// destructor therefore runs at most once, only for an object a cycle found unreachable, and user
// code never runs inside the allocator, the sweeper or a stop of the world: a destructor may take
// any lock, allocate, or block.
//
// While it runs a destructor the thread names the dead object in its MutatorState (dying_lo,
// dying_size): the object's gc::ptr members then die for nothing (detail/barrier.hpp, slot_dies),
// since the slot's pointer bits go when it is freed, and no barrier is owed for what a dead object
// held.
//
// Garbage that destructors make is paced like any other allocation (it counts toward the trigger,
// and the destructor thread assists during a mark), and the thread destroys it too: after every
// kDestructorAssistBytes that its own callbacks allocated, it runs the spans queued since before it
// goes on (CallbackQueue::run_queued), so a destructor that allocates does not bury the zombies its
// garbage becomes under the rest of the queue.
#pragma once

#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

inline constexpr std::int64_t kDestructorAssistBytes = std::int64_t{1} << 20;

// The destructor registered for the live object in slot `index` of `s`; nullptr if it has none.
const Destructor* registered_destructor(const Span* s, std::uint32_t index);

// The sweep found new zombies in `span` (their zombie bits are set): queues the span for the
// destructor thread, unless it is queued already. Inside the sweep's critical section.
void queue_zombies(Span* span);
// Makes the destructor queue and starts its thread (idempotent); outside critical sections (it
// allocates). ensure_runtime() calls it, so both exist before any sweep can queue a destructor.
void start_destructor_thread();

// Blocks until every destructor queued so far has run.
void wait_for_destructors();

// In the child after fork(): the destructor thread did not survive; a new one starts, with the
// spans the old one had not taken (callback_queue.hpp).
void restart_destructor_thread_after_fork();

// Destroyed zombies the destructor thread could not free at once (the span was cached, not swept
// in this cycle, or below its cursor during a mark): they wait for the span's owner or its next
// sweep. A count that only grows, so that collect() can tell whether any were left.
std::uint64_t deferred_zombie_slots();

}  // namespace gc::detail
