// Where the managed heap is, and the side tables indexed by address.
//
// The heap is one large virtual reservation, made once; "is this address in the heap?" is a
// subtraction and one unsigned comparison. Two tables cover the reservation:
//   - the span table, one entry per 8 KiB page, naming the span that owns the page (or null);
//   - the pointer bitmap, one bit per 8-byte word, set exactly where a gc::ptr lives in the heap.
// Both are reserved at once and committed by the OS only where they are touched.
//
// The pointer bitmap is two bitmaps interleaved word by word, and a word's bit is the exclusive OR
// of its bits in the two (Go's collector writes an object's heap bits inside malloc for the same
// reason: the allocating thread is the one that can write them cheaply):
//   - the owned word (even index) is written with a plain load and store, no locked instruction:
//     by the thread whose cache owns the span, as gc::ptr slots are born in the object it is
//     building (detail/fresh_object.hpp), and by whoever frees slots of a span that no thread's
//     cache owns meanwhile, or by the owner itself (the sweep, the owner, the central list's lock;
//     heap/pointer_bitmap.hpp);
//   - the shared word (odd index) is changed by any thread with an atomic read-modify-write: a
//     gc::ptr born or dying anywhere else in the heap (detail/barrier.hpp), a freed slot's bits.
// Every change to one slot's bit is made when the slot is born or dies, and the program orders
// those for one slot (it synchronises the constructions and destructions of one object's members,
// or they race in its own code). So a writer reads the bit's current value from both words without
// fear of it changing underneath, and the owner's plain store, which rewrites the whole owned word,
// writes back the other slots' bits as it read them: no other thread writes that word while the
// owner may. A change made later than its birth or death (a bit deferred to the constructor's end)
// would break this: another thread's changes to the same slot may then race with it. This takes
// the locked instruction out of every gc::make (docs/design.md, "Pointer bits without a locked
// instruction").
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
  std::atomic<std::uintptr_t> size{0};  // bytes reserved; 0 before the heap exists
  std::atomic<std::uintptr_t> lo{0};    // first byte of the reservation
  std::atomic<Span*>* spans = nullptr;  // span table: (addr - lo) >> kPageShift
  // Owned and shared words in pairs: bit (addr - lo) >> 3 of each (see above).
  std::atomic<std::uint64_t>* pointer_bits = nullptr;
};

inline constinit HeapLayout g_heap;

[[gnu::always_inline]] inline bool in_heap(const void* p) {
  const std::uintptr_t size = g_heap.size.load(std::memory_order_acquire);
  return reinterpret_cast<std::uintptr_t>(p) - g_heap.lo.load(std::memory_order_relaxed) < size;
}

// The span owning an address known to be inside the heap (null for a free page).
[[gnu::always_inline]] inline Span* span_of(std::uintptr_t addr) {
  return g_heap.spans[(addr - g_heap.lo.load(std::memory_order_relaxed)) >> kPageShift].load(
      std::memory_order_acquire);
}

// The pointer-bitmap word that covers `addr`, and the bit of `addr` in it.
[[gnu::always_inline]] inline std::uintptr_t pointer_word_index(std::uintptr_t addr,
                                                                std::uint64_t& bit) {
  const std::uintptr_t index = (addr - g_heap.lo.load(std::memory_order_relaxed)) >> 3;
  bit = std::uint64_t{1} << (index & 63);
  return index >> 6;
}

// The owned word of pointer-bitmap word `word`; its shared word follows it.
[[gnu::always_inline]] inline std::atomic<std::uint64_t>* pointer_word_pair(std::uintptr_t word) {
  return g_heap.pointer_bits + 2 * word;
}

// The bits of pointer-bitmap word `word`: the gc::ptr slots among its 64 heap words.
inline std::uint64_t pointer_bits_of(std::uintptr_t word) {
  const std::atomic<std::uint64_t>* pair = pointer_word_pair(word);
  return pair[0].load(std::memory_order_acquire) ^ pair[1].load(std::memory_order_acquire);
}

// Whether the heap word at `addr` is a gc::ptr slot.
inline bool is_pointer_slot(std::uintptr_t addr) {
  std::uint64_t bit;
  return (pointer_bits_of(pointer_word_index(addr, bit)) & bit) != 0;
}

// Makes the bits in `bits` of word `word` all set, or all clear, through the shared word: for any
// thread. Only the bits that differ change, so a slot born or dying where its bit is already right
// costs no atomic instruction.
[[gnu::always_inline]] inline void set_pointer_bits_shared(std::uintptr_t word, std::uint64_t bits,
                                                           bool set) {
  std::atomic<std::uint64_t>* pair = pointer_word_pair(word);
  const std::uint64_t now =
      pair[0].load(std::memory_order_relaxed) ^ pair[1].load(std::memory_order_relaxed);
  const std::uint64_t flip = (set ? ~now : now) & bits;
  // Release: a marker that sees the bit (acquire) also sees the object's construction so far.
  if (flip != 0) pair[1].fetch_xor(flip, std::memory_order_release);
}

// Sets the bits in `bits` of word `word` with a plain store of its owned word. Only for the thread
// whose cache owns the span that the word covers (fresh_object.hpp, owns_fresh_slot).
[[gnu::always_inline]] inline void set_pointer_bits_owned(std::uintptr_t word, std::uint64_t bits) {
  std::atomic<std::uint64_t>* pair = pointer_word_pair(word);
  const std::uint64_t owned = pair[0].load(std::memory_order_relaxed);
  const std::uint64_t shared = pair[1].load(std::memory_order_relaxed);
  // A bit whose shared half is set is set when its owned half is clear.
  pair[0].store((owned & ~bits) | (bits & ~shared), std::memory_order_release);
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
