// Cleanups (include/tricolor/cleanup.hpp): functions that run after their object is found dead.
//
// A cleanup record holds the object's base address and the function, in malloc memory (so a
// gc::ptr the function captures is a root: what it reaches stays alive until the cleanup has
// run). Records live in a table of specials (base/special_table.hpp); the object's special bit
// tells the sweep to look. When the sweep finds the object dead, in the same step that clears its
// weak references, it takes the object's records out of the table and appends them to the ready
// queue, which the cleanup thread drains. The sweep never runs user code: it runs inside critical
// sections, and the queue is an intrusive list, so it neither allocates nor calls out.
//
// Since a record names the object only by address, and is taken out of the table before the slot
// can be reused, a cleanup can neither resurrect its object nor fire for a later object at the
// same address. The cleanup thread is started by the first add_cleanup (outside any critical
// section, since starting a thread allocates), so a sweep only ever wakes it.
#pragma once

#include <cstdint>

namespace gc::detail {

// Called by the sweep, inside a critical section, for a dead object whose special bit was set.
void queue_cleanups(std::uintptr_t base);

// Blocks until every cleanup queued so far has run (not on the cleanup thread itself).
void wait_for_cleanups();

// In the child after fork(): the cleanup thread did not survive; start a new one if needed.
void restart_cleanup_thread_after_fork();

}  // namespace gc::detail
