// The write barrier's slow path. This collector marks with the world stopped, so the barrier flag
// (detail/barrier.hpp) is never raised and no store can reach here; arriving here means the flag
// was raised without a concurrent mark to feed, which would silently lose objects: stop instead.
#include "heap/os_memory.hpp"
#include "tricolor/detail/barrier.hpp"

namespace gc::detail {

void write_barrier_slow(void* slot, const void*, const void*) {
  os::fatal("write barrier raised with no concurrent mark in progress (slot %p)", slot);
}

}  // namespace gc::detail
