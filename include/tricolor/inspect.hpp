// Looking inside the heap: why an object is still alive.
#pragma once

#include <string>

namespace gc {

// The route by which the object that `p` points into (its start or any byte inside it) is
// reachable now, or "" if it is not reachable (or `p` is not in a gc::make object). The route
// starts at a root, one of:
//   - a thread's stack or saved registers: the thread, the word's address and, on the calling
//     thread's stack, the function whose frame holds it;
//   - a global gc::ptr, by symbol name;
//   - a gc::ptr registered as a root in memory from malloc;
//   - a gc::pool's free list;
//   - a gc::ptr in a gc::arena;
//   - a suspended gc::fiber stack;
// and goes through each object on the way: its address, its type where the library knows it (a
// type with a destructor, from gc::make), its size, and the offset of the gc::ptr slot it was
// reached through, ending at the object asked about. One line per step; the route is a shortest
// one, in objects.
//
// Stacks are scanned conservatively, so a stale word can be the root. Copies of `p` itself on the
// calling thread's stack do not count: the call put them there.
//
// Cost: it stops the world for a full mark of the live heap (the program waits as it would for a
// stop-the-world collection) and maps 32 bytes per live object while it runs. For debugging, not
// for a hot path. Misuse (inside a gc::blocking_region) stops the program with a message.
std::string why_alive(const void* p);

}  // namespace gc
