// Weak references (include/tricolor/weak.hpp): cells that name an object without keeping it alive.
//
// A cell holds the address a gc::weak was made from. Cells live in a table of specials
// (base/special_table.hpp), keyed by the object's base address. When the sweep finds an object dead
// (freed, or queued for its destructor) and its special bit is set, it clears the object's cells
// (target 0) and unlinks them: the clearing happens before the slot can be reused, and before the
// span counts as swept.
//
// lock() decides liveness without waiting for that sweep, so it behaves as if every weak reference
// to an object found dead were cleared at mark termination (as Go's and the JVM's are):
//   - during a mark, the target is alive (nothing is swept, so it was not found dead) and lock()
//     shades it, since the caller may store it where the mark has already looked;
//   - after a mark, in a span swept since, the cell is exact (the sweep cleared it if dead);
//   - in a span not yet swept, the last mark's bits decide (a marked or black object is alive); the
//     span's sweepgen is read before and after, and a sweep in between makes lock() decide again.
// A weak reference to an object found dead in one cycle, in a span that a thread kept cached until
// the next mark started (so it was never swept), is not cleared: lock() during that next mark
// revives the object, whose destructor has not run.
#pragma once

#include <cstdint>

namespace gc::detail {

struct WeakCell;

// Cells are created and destroyed outside the sweep by gc::weak, inside critical sections.
WeakCell* weak_register(const void* target);
void weak_unregister(WeakCell* cell) noexcept;
void* weak_lock(WeakCell* cell) noexcept;

// Called by the sweep, inside a critical section, for a dead object whose weak bit was set.
void clear_weak_refs(std::uintptr_t base);

}  // namespace gc::detail
