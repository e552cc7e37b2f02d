// The checkmark bits: which objects a pass with the world stopped has reached. Two passes use them,
// gccheckmark's verification and gc::why_alive's search for a path (gc/stopped_mark.hpp); the
// concurrent mark has its mark bits.
//
// One bit for each word of the heap an object may start at, from the heap's start to its frontier,
// in a table that lives only while the pass runs: made when it begins, of fresh pages from the OS
// (zeroed, so no pass sees the last one's bits), and given back when it ends. Each span's
// descriptor used to carry a bitmap of them, for every span and all the time, for passes that most
// programs never run (docs/design.md, "Span bitmaps sized by the span").
//
// Invariant: a pass sets the bits of objects in spans below the frontier the table was made for.
// The world is stopped while it runs, and nothing grows the heap meanwhile: only registered threads
// outside blocking regions take spans, and they are stopped; what still runs is the mark's own
// threads, the page backer and threads inside blocking regions, which take none. The bit of an
// object outside the table stops the program with a message.
//
// The table is bookkeeping like the descriptors' bitmaps it replaces: the memory limit counts it
// (os::map_metadata) for as long as the pass holds it, 1/512 of the heap in use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/stop_the_world.hpp"

namespace gc::detail {

class CheckmarkBits {
 public:
  // Makes the table for a pass, all bits clear. One pass at a time (checked).
  explicit CheckmarkBits(const WorldStopped& world);
  ~CheckmarkBits();
  CheckmarkBits(const CheckmarkBits&) = delete;
  CheckmarkBits& operator=(const CheckmarkBits&) = delete;

  // Sets the bit of the object that starts at `base`; whether it was clear. Only while a table
  // exists (checked).
  static bool try_set(std::uintptr_t base);
};

}  // namespace gc::detail
