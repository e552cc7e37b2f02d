// The pointer bitmap's writes that are not a gc::ptr's own: when a slot is freed (by the sweep, by
// the destructor thread, by an arena), the bits of its words go, so that the slot's next object
// starts with none. A gc::ptr sets and clears its own bit (include/tricolor/detail/barrier.hpp).
//
// Both halves of a freed slot's bits go (detail/heap_range.hpp): the owned word's with a plain
// store, since whoever frees a slot excludes the only thread that writes that word plainly (a
// span's slots are freed by its sweep, by its owner, or under the central list's lock while no
// cache owns it; an arena's owned words are never set); the shared word's atomically, since any
// thread may change a live neighbour's bit meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/check.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

// The pointer bits of an object of `words` heap words (1 to 64) whose first word has bit `first`
// of the bitmap (its word index from the heap's start): bit i of the result is the object's word
// i. One bitmap word holds them all, or two, the second read only when the object reaches into it;
// `bits_of(w)` gives bitmap word `w` (pointer_bits_of, in the marker). What for_each_pointer_word
// hands out for the same object in one or two masks, in one word and fewer steps (the marker's
// scan of a small object: docs/design.md, "The mark loop inline").
template <class BitsOf>
[[gnu::always_inline]] inline std::uint64_t small_object_pointer_bits(std::uintptr_t first,
                                                                      unsigned words,
                                                                      BitsOf&& bits_of) {
  TRICOLOR_DCHECK(words - 1 < 64, "a small object of %u words", words);
  const unsigned shift = first % 64;
  std::uint64_t bits = bits_of(first / 64) >> shift;
  // Only with shift > 0, since words <= 64: the shift below is less than 64.
  if (shift + words > 64) bits |= bits_of(first / 64 + 1) << (64 - shift);
  bits &= ~std::uint64_t{0} >> (64 - words);  // words is 1 to 64: a shift of 0 to 63, no branch
  return bits;
}

// Clears both halves of the bits in `mask` of pointer-bitmap word `word`.
inline void clear_pointer_word(std::uintptr_t word, std::uint64_t mask) {
  std::atomic<std::uint64_t>* pair = pointer_word_pair(word);
  if (const std::uint64_t owned = pair[0].load(std::memory_order_relaxed); owned & mask)
    pair[0].store(owned & ~mask, std::memory_order_relaxed);
  if (pair[1].load(std::memory_order_relaxed) & mask)
    pair[1].fetch_and(~mask, std::memory_order_relaxed);
}

// Clears the pointer bits of [addr, addr + bytes).
inline void clear_pointer_bits(std::uintptr_t addr, std::size_t bytes) {
  for_each_pointer_word(addr, bytes, clear_pointer_word);
}

// Clears the pointer bits of many ranges given in address order (the slots a sweep frees), with
// one write of each half per bitmap word rather than per range: a word's bits are gathered until a
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
    clear_pointer_word(word_, mask_);
    mask_ = 0;
  }

 private:
  std::uintptr_t word_ = 0;
  std::uint64_t mask_ = 0;
};

}  // namespace gc::detail
