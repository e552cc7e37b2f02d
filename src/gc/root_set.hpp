// The root set: addresses of gc::ptr slots that live outside the heap and off their thread's stack
// (globals, thread_locals, malloc and new memory, containers with the standard allocator).
//
// A hash set of slot addresses split into stripes, each with its own lock, so that threads
// registering and unregistering slots rarely contend; a program with a few hundred thousand of them
// (a global std::vector<gc::ptr<T>>) pays one uncontended lock and one probe per slot. Changes
// happen inside critical sections. The mark controller reads each stripe under its lock while the
// world runs; a pass with the world stopped (gccheckmark, gcstoptheworld) reads without locks,
// since no stopped thread holds one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

class Marker;

// Adds a slot, unless it lies on a known stack (runtime/known_stacks.hpp): whichever thread makes
// a gc::ptr on some thread's stack or a fiber's, the stack scan finds it, and no thread has to
// unregister it. Removing a slot that is not there does nothing.
void add_root(void* slot);
void remove_root(void* slot);
// A stack [lo, hi) has become known: the slots registered inside it before are dropped (their
// values shaded if a mark is in progress).
void drop_roots_within(std::uintptr_t lo, std::uintptr_t hi);
// Shades the value of every registered slot; the world must be stopped.
void mark_roots(Marker& marker);
// The same while the world runs: each stripe is locked while it is read. A slot registered or
// changed after its stripe was read is covered by the write barrier (detail/barrier.hpp).
void mark_roots_concurrently(Marker& marker);
std::size_t root_count();

}  // namespace gc::detail
