// The root set: addresses of gc::ptr slots that live outside the heap and off their thread's stack
// (globals, thread_locals, malloc and new memory, containers with the standard allocator).
//
// A hash set of slot addresses split into stripes, each with its own lock, so that threads
// registering and unregistering slots rarely contend; a program with a few hundred thousand of them
// (a global std::vector<gc::ptr<T>>) pays one uncontended lock and one probe per slot. Changes
// happen inside critical sections; the collector reads the tables only while the world is stopped,
// without locks, so it never waits on a stopped thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

class Marker;

void add_root(void* slot);
void remove_root(void* slot);
// Shades the value of every registered slot; the world must be stopped.
void mark_roots(Marker& marker);
std::size_t root_count();

}  // namespace gc::detail
