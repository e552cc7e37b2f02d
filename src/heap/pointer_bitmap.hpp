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

// Clears the pointer bits of many ranges given in address order (the slots a sweep frees), with
// one atomic operation per bitmap word rather than per range: a word's bits are gathered until a
// range reaches past it. A bitmap word covers 512 bytes, 32 slots of 16 bytes.
class PointerBitClearer {
 public:
  PointerBitClearer() = default;
  PointerBitClearer(const PointerBitClearer&) = delete;
  PointerBitClearer& operator=(const PointerBitClearer&) = delete;
  ~PointerBitClearer() { flush(); }

  void clear(std::uintptr_t addr, std::size_t bytes) {
    for_each_pointer_word(addr, bytes, [this](std::uintptr_t word, std::uint64_t mask) {
      if (word != word_) {
        flush();
        word_ = word;
      }
      mask_ |= mask;
    });
  }
  void flush() {
    if (mask_ == 0) return;
    auto& w = g_heap.pointer_bits[word_];
    if (w.load(std::memory_order_relaxed) & mask_) w.fetch_and(~mask_, std::memory_order_relaxed);
    mask_ = 0;
  }

 private:
  std::uintptr_t word_ = 0;
  std::uint64_t mask_ = 0;
};

}  // namespace gc::detail
