// The buffers of gc::allocator (include/tricolor/allocator.hpp), and how they stay alive and
// traced.
//
// Containers keep raw pointers between their buffers (a vector's start, a map's node links, a
// deque's block map), and the collector cannot see those. So a buffer's lifetime is not left to
// the collector: the sweep keeps every *pinned* object, marked or not (the span's `pinned_bits`),
// and a buffer is pinned from its allocation until its container deallocates it. Unpinned, it is
// ordinary garbage, freed by a later sweep unless something still points at it (a gc::ptr made from
// an element's address keeps the memory from reuse, as it would any object).
//
// Pinning says nothing about scanning. A buffer that may hold gc::ptrs (the element type is not
// trivially copyable) starts with a header whose gc::ptr links it into its container's buffer
// list, so a container that is reachable has its list marked, and the list marks and scans every
// such buffer; a container that is not reachable has none of its buffers scanned, and a cycle
// through it dies. Buffers of trivially copyable elements (a deque's block map, a hash table's
// buckets) hold no gc::ptr: they are pinned noscan objects on no list.
//
// A buffer's nodes must stay with containers that share its list: a node moved to a container with
// another list (merge, extract and insert between containers whose allocators differ, which the
// standard leaves undefined) would be traced through the container it left. The header names its
// list, and freeing a buffer through another list is a fatal error with a message.
//
// The list is a managed object too, pinned while any allocator refers to it (a count), since the
// container's destructor, run after its owner died, still unlinks buffers from it. The list's
// lock is a spin lock: lists are shared only by a container's own allocators, and by a moved-from
// container with the one it moved into.
#pragma once
