// The pointer bitmap's writes that are not a gc::ptr's own: when a slot is freed (by the sweep, by
// the destructor thread, by an arena), the bits of its words go, so that the slot's next object
// starts with none. A gc::ptr sets and clears its own bit (include/tricolor/detail/barrier.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

// Clears the pointer bits of [addr, addr + bytes).
inline void clear_pointer_bits(std::uintptr_t addr, std::size_t bytes) {
  for_each_pointer_word(addr, bytes, [](std::uintptr_t word, std::uint64_t mask) {
    auto& w = g_heap.pointer_bits[word];
    if (w.load(std::memory_order_relaxed) & mask) w.fetch_and(~mask, std::memory_order_relaxed);
  });
}

}  // namespace gc::detail
