// What a test of the marker asks about an object by address, and how it holds a mark with nothing
// marked: the objects it shades are ones nothing else reaches (their addresses kept complemented
// in malloc memory, so no stack scan finds them).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "heap/object_lookup.hpp"
#include "held_mark.hpp"
#include "support.hpp"

namespace test {

// The span and slot of the object at `address` (a failure if there is none).
inline gc::detail::ObjectRef object_at(std::uintptr_t address) {
  gc::detail::ObjectRef ref;
  EXPECT_TRUE(gc::detail::find_object(address, ref));
  return ref;
}

// The objects of `hidden` (complemented addresses) in the first one's mark-bit word, uncovered.
inline std::vector<std::uintptr_t> in_first_word(const std::vector<std::uintptr_t>& hidden) {
  const gc::detail::ObjectRef first = object_at(~hidden.front());
  std::vector<std::uintptr_t> objects;
  for (const std::uintptr_t h : hidden) {
    const gc::detail::ObjectRef ref = object_at(~h);
    if (ref.span == first.span && ref.index / 64 == first.index / 64) objects.push_back(~h);
  }
  return objects;
}

inline bool marked(std::uintptr_t address) {
  const gc::detail::ObjectRef ref = object_at(address);
  return ref.span->is_marked(ref.index);
}

// With the stack cleared of the hidden objects' addresses, holds a mark at its start: the
// controller waits before it marks any root, and no background marking runs.
__attribute__((noinline)) inline void start_held_mark() {
  scrub_stack();
  start_held_cycle(gc::detail::MarkHold::kAfterStart);
}

}  // namespace test
