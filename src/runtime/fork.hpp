// fork(): a child of a multi-threaded program goes on allocating and collecting.
//
// Before fork, the forking thread takes the cycle lock and stops the world: every other thread is
// then parked outside the library's critical sections, so no library lock is held by a thread that
// will not exist in the child (the registry lock is held by the forking thread itself). In the
// child, the other threads' caches go back to the central lists, their records are dropped, the
// sweeper and destructor threads are forgotten (the next cycle or the next zombie starts new ones),
// and the world restarts with one thread. In the parent the world simply restarts.
#pragma once

namespace gc::detail {

// Registers the handlers with pthread_atfork (once, at runtime start).
void install_fork_handlers();

}  // namespace gc::detail
