// A span's table of destructors, for the spans that hold objects of more than one type: one entry
// per slot, the function that destroys the object in it when that is not the span's own
// destructor (detail/span.hpp), 0 otherwise. gc::make registers an entry (gc/destructors.cpp);
// the destructor thread reads it, and clears it once the destructor has run. The table belongs to
// the span and goes with it (free_empty_span, central.hpp).
//
// Tables come from a SizedPool, never malloc: they are made and freed inside critical sections.
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

// A zero-filled table of `slots` entries.
std::atomic<std::uintptr_t>* new_destructor_table(std::uint32_t slots);
// Gives a table back (nullptr: nothing to do).
void free_destructor_table(std::atomic<std::uintptr_t>* table, std::uint32_t slots);

// The span's table, made on first use (by whichever thread gets there first).
std::atomic<std::uintptr_t>* destructor_table_of(Span* s);

// Slot `index` of `s` has its destructor bit, but its object was never built (its constructor
// threw) and the calling thread no longer owns the span, so it may not clear the bit: the slot's
// entry names a destructor that does nothing instead, which the destructor thread runs, and
// clears, when a sweep finds the slot dead.
void disarm_destructor(Span* s, std::uint32_t index);

}  // namespace gc::detail
