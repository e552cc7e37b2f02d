// Where the managed heap is, and the side tables indexed by address.
//
// The heap is one large virtual reservation, made once; "is this address in the heap?" is a
// subtraction and one unsigned comparison. Two tables cover the reservation:
//   - the span table, one entry per 8 KiB page, naming the span that owns the page (or null);
//   - the pointer bitmap, one bit per 8-byte word, set exactly where a gc::ptr lives in the heap.
// Both are reserved at once and committed by the OS only where they are touched.
//
// The layout is written once, before `size` is published with a release store; readers load
// `size` first with acquire, so a reader that sees a non-zero size sees the tables too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

struct HeapLayout {
  std::atomic<std::uintptr_t> size{0};                 // bytes reserved; 0 before the heap exists
  std::atomic<std::uintptr_t> lo{0};                   // first byte of the reservation
  std::atomic<Span*>* spans = nullptr;                 // span table: (addr - lo) >> kPageShift
  std::atomic<std::uint64_t>* pointer_bits = nullptr;  // bit (addr - lo) >> 3
};

inline constinit HeapLayout g_heap;

inline bool in_heap(const void* p) {
  const std::uintptr_t size = g_heap.size.load(std::memory_order_acquire);
  return reinterpret_cast<std::uintptr_t>(p) - g_heap.lo.load(std::memory_order_relaxed) < size;
}

// The span owning an address known to be inside the heap (null for a free page).
inline Span* span_of(std::uintptr_t addr) {
  return g_heap.spans[(addr - g_heap.lo.load(std::memory_order_relaxed)) >> kPageShift].load(
      std::memory_order_acquire);
}

inline std::atomic<std::uint64_t>& pointer_word(std::uintptr_t addr, std::uint64_t& bit) {
  const std::uintptr_t index = (addr - g_heap.lo.load(std::memory_order_relaxed)) >> 3;
  bit = std::uint64_t{1} << (index & 63);
  return g_heap.pointer_bits[index >> 6];
}

// Calls fn(word, mask) for each pointer-bitmap word covering [addr, addr + bytes), with the mask of
// the bits that fall inside the range.
template <class F>
inline void for_each_pointer_word(std::uintptr_t addr, std::size_t bytes, F&& fn) {
  std::uintptr_t first = (addr - g_heap.lo.load(std::memory_order_relaxed)) >> 3;
  const std::uintptr_t end = first + bytes / 8;
  while (first < end) {
    const std::uintptr_t word = first / 64;
    const std::uintptr_t word_end = (word + 1) * 64 < end ? (word + 1) * 64 : end;
    const unsigned count = static_cast<unsigned>(word_end - first);
    const std::uint64_t ones = count == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
    fn(word, ones << (first % 64));
    first = word_end;
  }
}

}  // namespace gc::detail
