// The write barrier's slow path and its per-thread buffer.
//
// While marking, a store into a slot off the storing thread's stack puts the overwritten value, and
// the stored one while a running stack is unscanned, in the thread's buffer (Go's wbBuf), inside a
// critical section so that no stop ever sees a half-written entry. A full buffer is flushed by its
// thread: each value is shaded and what turns grey goes to the grey queue, a few entries to a
// critical section, so that a stop of the world waits for a few shades rather than a buffer's
// worth. Mark termination flushes every thread's buffer with the world stopped; a thread that exits
// flushes its own.
//
// A barrier call that arrives after mark termination (the thread tested the flag just before the
// stop) does nothing: both values are marked already, by the argument in detail/barrier.hpp.
#pragma once

#include "runtime/thread_registry.hpp"

namespace gc::detail {

// Shades and empties `r`'s buffer. Called by the owner inside a critical section, or by the
// collector with the world stopped.
void flush_barrier_buffer(ThreadRecord* r);

// The barrier of a store into `slot`, called inside the critical section in which the caller made
// the store, so that no stop falls between the two: puts the values to shade in the calling
// thread's buffer. Returns the thread's record when the buffer is nearly full and is to be flushed
// by the caller with flush_own_barrier_buffer, after its section, and null otherwise. The thread
// is registered (the caller saw to it before its section: registering allocates).
ThreadRecord* record_barrier(void* slot, const void* old_value, const void* new_value);

// Flushes the calling thread's buffer a chunk to a critical section, ending each section between
// chunks if a stop of the world is waiting: the stop waits for one chunk, not the whole buffer.
// Called outside any critical section of the caller's own.
void flush_own_barrier_buffer(ThreadRecord* r);

// Puts `value` in `r`'s buffer (the calling thread's, inside a critical section, during a mark).
void shade_for_barrier(ThreadRecord* r, std::uintptr_t value);

}  // namespace gc::detail
