#include "toolbox/specials.hpp"

#include <cstdint>

#include "gc/hooks.hpp"
#include "toolbox/cleanups.hpp"
#include "toolbox/weak_refs.hpp"

namespace gc::detail {

namespace {

// Inside a critical section, for an object whose special bit was set.
void on_dead_object(std::uintptr_t base) {
  clear_weak_refs(base);
  queue_cleanups(base);
}

}  // namespace

void ensure_specials_hook() { g_hooks.dead_object.add(on_dead_object); }

}  // namespace gc::detail
