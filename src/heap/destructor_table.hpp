// A span's table of destructors: one entry per slot, the function that destroys the object in it,
// 0 for a slot without one. gc::make registers an entry (gc/destructors.cpp); the sweep reads it to
// tell a zombie from garbage; the destructor thread clears it once the destructor has run. The
// table belongs to the span and goes with it (free_empty_span, central.hpp).
//
// Tables come from a SizedPool, never malloc: they are made and freed inside critical sections.
#pragma once

#include <atomic>
#include <cstdint>

namespace gc::detail {

// A zero-filled table of `slots` entries.
std::atomic<std::uintptr_t>* new_destructor_table(std::uint32_t slots);
// Gives a table back (nullptr: nothing to do).
void free_destructor_table(std::atomic<std::uintptr_t>* table, std::uint32_t slots);

}  // namespace gc::detail
