// fork(): a child of a multi-threaded program goes on allocating and collecting.
//
// Before fork, the forking thread takes the cycle lock and stops the world, which waits until every
// other thread is outside the library's critical sections. With the world stopped it raises
// `g_fork_in_progress`, which keeps any thread from entering a section again, and restarts the
// world at once: the other threads must run on until fork() itself, because the C library's fork
// takes malloc's and stdio's locks after these handlers, and a thread stopped inside malloc would
// hold one of them forever. The registry lock is then taken again and held across the fork.
//
// So at the fork no library lock is held and no shared structure is half-updated by a thread that
// will not exist in the child; the other threads may be in the lock-free allocation fast path,
// which only touches their own caches. In the child, the flag drops first; the library threads are
// forgotten (the sweeper, scavenger and mark threads start again when next woken, the destructor
// thread and the toolbox's fork-child hooks at once, with the work their queues held); then the
// other threads' caches go back to the central lists and their records are dropped. In the parent
// the flag drops and the waiting threads go on.
#pragma once

namespace gc::detail {

// Registers the handlers with pthread_atfork (once, at runtime start).
void install_fork_handlers();

}  // namespace gc::detail
