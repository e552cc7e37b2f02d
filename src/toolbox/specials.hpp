// What the sweep does for a dead object with specials (base/special_table.hpp): its weak cells are
// cleared and its cleanups queued, in one step, before its slot can be reused. The toolbox hands
// that step to the collector as its dead-object hook (gc/hooks.hpp), registered by the first weak
// reference or cleanup, before it sets the first special bit.
#pragma once

namespace gc::detail {

// Registers the dead-object hook (idempotent). Call before setting a special bit.
void ensure_specials_hook();

}  // namespace gc::detail
