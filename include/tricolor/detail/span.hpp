// A span: a run of pages holding objects of one size class (or one large object).
//
// The fields at the top are the allocation fast path's: while a thread's cache owns the span, only
// that thread moves `free_index` and `alloc_cache` forward. `alloc_cache` holds the free bits of
// the 64 slots starting at `free_index` (bit 0 is slot `free_index`); when it runs out, the slow
// path refills it from `alloc_bits`. Every slot below `free_index` is allocated; a slot at or above
// it is allocated exactly when its `alloc_bits` bit is set. That is Go's mspan scheme: allocation
// never writes the bitmap, and the sweeper rebuilds `alloc_bits` from the mark bits.
//
// The collector reads `free_index` and `alloc_count` while the owner writes them, so they are
// relaxed atomics (plain moves on x86-64). Mark bits are set by the marker with atomic OR.
//
// `sweepgen` is the heap's sweep generation at which the span was last swept: a span whose value
// differs from the heap's needs sweeping before anything allocates from it or frees into it.
// A span that a thread cache owns is never swept (it is on no central list); it is swept when the
// thread gives it back. A thread stopped by signal may be in the middle of an allocation, so its
// cache is left alone across a cycle; `mark_free_index` records what the mark could have seen.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/size_classes.hpp"

namespace gc::detail {

// A span class is a size class plus one bit: whether its objects may hold gc::ptr slots.
inline constexpr std::size_t kNumSpanClasses = kNumSizeClasses * 2;
inline constexpr std::uint8_t make_span_class(std::size_t size_class, bool noscan) {
  return static_cast<std::uint8_t>(size_class << 1 | (noscan ? 1 : 0));
}
inline constexpr std::size_t span_class_size_class(std::uint8_t sc) { return sc >> 1; }
inline constexpr bool span_class_noscan(std::uint8_t sc) { return (sc & 1) != 0; }

// The most slots a span holds, over all size classes.
inline constexpr std::size_t kMaxSpanObjects =
    *std::max_element(kClassToObjects.begin(), kClassToObjects.end());

// The bitmap lengths descriptors come in, in words, shortest first: one for each length a size
// class's span needs (its slots in whole words; a large object's span has one slot). A descriptor's
// bitmaps are exactly as long as its span's slots need. Rounding them up to a power of two, as
// they once were, gave a span of 1,365 objects of 24 bytes bitmaps of 32 words for its 22 (with
// the nine bitmaps of then, 2,512 bytes of descriptor for a 32 KiB span where 1,792 did;
// docs/design.md, "Span bitmaps sized by the span").
namespace span_sizes {
struct WordLengths {
  std::array<std::uint32_t, kNumSizeClasses> words{};
  std::size_t count = 0;
};
inline constexpr WordLengths distinct_word_lengths() {
  WordLengths lengths;
  for (std::size_t c = 0; c < kNumSizeClasses; ++c) {
    const std::uint32_t slots = c == 0 ? 1 : kClassToObjects[c];
    const std::uint32_t words = (slots + 63) / 64;
    bool known = false;
    for (std::size_t i = 0; i < lengths.count; ++i) known = known || lengths.words[i] == words;
    if (!known) lengths.words[lengths.count++] = words;
  }
  std::sort(lengths.words.begin(),
            lengths.words.begin() + static_cast<std::ptrdiff_t>(lengths.count));
  return lengths;
}
inline constexpr WordLengths kLengths = distinct_word_lengths();
}  // namespace span_sizes

inline constexpr std::size_t kDescriptorSizes = span_sizes::kLengths.count;
inline constexpr std::array<std::uint32_t, kDescriptorSizes> kDescriptorWords = [] {
  std::array<std::uint32_t, kDescriptorSizes> words{};
  for (std::size_t i = 0; i < kDescriptorSizes; ++i) words[i] = span_sizes::kLengths.words[i];
  return words;
}();
inline constexpr std::size_t kBitmapWords = kDescriptorWords[kDescriptorSizes - 1];

// The words each of a descriptor's bitmaps gets for a span of `slots` slots: the shortest length
// descriptors come in that covers them; 0 for more slots than any span has.
inline constexpr std::uint32_t descriptor_bitmap_words(std::uint32_t slots) {
  const std::uint32_t needed = slots <= 64 ? 1 : (slots + 63) / 64;
  for (const std::uint32_t words : kDescriptorWords)
    if (words >= needed) return words;
  return 0;
}
static_assert(kBitmapWords * 64 >= kMaxSpanObjects && descriptor_bitmap_words(1) == 1);

enum class SpanState : std::uint8_t {
  kFree,   // in the page heap's free runs (or a recycled descriptor)
  kInUse,  // holds objects of the managed heap
  kArena,  // a gc::arena chunk (src/toolbox/arenas.hpp): no objects the collector manages
};

// How the destructor thread destroys the dead objects of one type (gc/destructors.cpp): `one`
// destroys the object whose base address it is given; `some`, if not null, destroys several of one
// span in a single call (detail/dying_objects.hpp). make.hpp makes one for every type it
// allocates; a span records the address of its objects' (`destructor`, below).
struct DyingObjects;
struct Destructor {
  void (*one)(void* object);
  void (*some)(DyingObjects& objects);
};

struct Span {
  // ---- allocation fast path (owner thread) ----
  std::uint64_t alloc_cache = 0;
  std::atomic<std::uint32_t> free_index{0};
  std::uint32_t nelems = 0;
  std::uintptr_t base = 0;
  std::uint32_t elem_size = 0;
  std::atomic<std::uint32_t> alloc_count{0};

  // ---- span identity ----
  std::uint8_t span_class = 0;
  std::atomic<SpanState> state{SpanState::kFree};
  bool cached = false;  // owned by a thread cache (guarded by the central lock)
  // Its last sweep found it empty and kept it for its size class, and no cache has taken it since
  // (guarded by the central lock, or by a sweep's claim; heap/central.hpp,
  // free_or_keep_empty_span).
  bool kept_empty = false;
  std::uint32_t div_magic = 0;  // slot index = (offset * div_magic) >> 32
  std::size_t npages = 0;
  std::size_t large_size = 0;  // requested bytes of a large object (0 for small spans)
  std::atomic<std::uint32_t> sweepgen{0};
  // `free_index` when the latest mark began. Slots in [mark_free_index, free_index) were handed out
  // after that mark by a thread cache that kept the span across the cycle: the mark never saw them,
  // so the sweep keeps them (they are allocated black, in Go's words).
  std::atomic<std::uint32_t> mark_free_index{0};

  // ---- list links (central lists, page heap) ----
  Span* next = nullptr;
  Span* prev = nullptr;
  int list_id = -1;

  // Destructors (gc/destructors.cpp, make.hpp): a span mostly holds objects of one type, so the
  // first destructor registered in it is the span's `destructor`, and a slot whose object has it
  // needs only its bit in `destructor_bits`. A slot whose object has another one has it in the
  // table `destructors` too, one entry per slot, made for the first such object.
  std::atomic<std::uintptr_t> destructor{0};
  std::atomic<std::atomic<std::uintptr_t>*> destructors{nullptr};
  // The destructor queue's holds on the span (gc/destructors.cpp): one from each time a sweep
  // linked it into the queue until the destructor thread is done with it. While one is held the
  // span (its descriptor and its destructor table) is never freed: the thread still reads them.
  std::atomic<std::uint32_t> destructor_holds{0};
  // The span's place in the destructor queue (gc/callback_queue.hpp), under the queue's lock.
  Span* destructor_next = nullptr;
  std::uint64_t destructor_seq = 0;
  bool destructor_queued = false;
  // Not zero while the span waits on a marker's work list for its grey objects (mark bit set,
  // scanned bit clear) to be scanned: 1 while one grey object is owed, 2 or 3 for many. Small
  // objects with slots are marked by span (gc/marker.hpp). Zero whenever no mark runs.
  std::atomic<std::uint8_t> mark_queued{0};

  // ---- per-slot bitmaps ----
  // One bit a slot each. The eight bitmaps sit right after the descriptor, in the same block, each
  // `bitmap_words` words long: the fewest for the span's slots (descriptor_bitmap_words). A
  // descriptor for 8 slots is then its header and 64 bytes of bitmaps, where inline arrays sized
  // for the densest span made every descriptor 1.3 KB: 15% of a span of 1 KiB objects, each new
  // one a page fault under the page heap's lock (docs/design.md, "Span bitmaps sized by the
  // span"). The page heap makes and recycles descriptors by bitmap length, so the pointers below
  // always point into the descriptor's own block; making a descriptor from a recycled one writes
  // them again, to the same values.
  // Mark bits come first: the marker prefetches the block's start (gc/marker.cpp, shade_soon).
  std::uint32_t bitmap_words = 0;
  std::atomic<std::uint64_t>* mark_bits = nullptr;
  std::atomic<std::uint64_t>* alloc_bits = nullptr;
  // Objects with a destructor to run when they die (see `destructor`). Cleared when the slot is
  // freed.
  std::atomic<std::uint64_t>* destructor_bits = nullptr;
  // Dead objects with a destructor ("zombies"): set by the sweep that finds them dead, which keeps
  // their slots allocated and queues the span for the destructor thread. Cleared when the slot is
  // freed, so a new object in the slot starts with none.
  std::atomic<std::uint64_t>* zombie_bits = nullptr;
  // Zombies whose destructor has run: their slots are free to take, like mimalloc's thread-free
  // list. Only the destructor thread sets them; whoever owns the span frees the slots and clears
  // the bits (the sweep, a thread cache, the central list's lock; heap/central.hpp).
  std::atomic<std::uint64_t>* destroyed_bits = nullptr;
  // Objects with specials: gc::weak cells (src/toolbox/weak_refs.hpp) or gc::add_cleanup records
  // (src/toolbox/cleanups.hpp) that the sweep must process when it finds the object dead.
  std::atomic<std::uint64_t>* special_bits = nullptr;
  // Objects the sweep must keep whether marked or not: buffers of gc::allocator and their lists
  // (src/toolbox/container_buffers.hpp), which their containers free explicitly.
  std::atomic<std::uint64_t>* pinned_bits = nullptr;
  // Objects of a span marked by span (gc/marker.hpp) whose slots this mark has scanned: a mark bit
  // without its scanned bit is a grey object. Cleared with the mark bits.
  std::atomic<std::uint64_t>* scanned_bits = nullptr;
  static constexpr std::size_t kBitmaps = 8;

  // Points the eight bitmaps into `block`, `words` words each, in the order above.
  void point_bitmaps(std::atomic<std::uint64_t>* block, std::uint32_t words) {
    bitmap_words = words;
    std::atomic<std::uint64_t>** const bitmaps[kBitmaps] = {
        &mark_bits,      &alloc_bits,   &destructor_bits, &zombie_bits,
        &destroyed_bits, &special_bits, &pinned_bits,     &scanned_bits};
    for (std::size_t i = 0; i < kBitmaps; ++i) *bitmaps[i] = block + i * words;
  }
  // The words of each bitmap that cover the span's slots.
  std::uint32_t slot_words() const { return (nelems + 63) / 64; }

  // Pinning keeps slot `index` through every sweep, marked or not. Unpinning releases, and the
  // sweep's load of the bits acquires: a sweep may free the slot as soon as it finds the bit clear,
  // with no pause in between (a container's buffer freed by its dead owner's destructor while the
  // sweep goes on), and what the unpinning thread did with the object must come before whatever
  // the slot's next owner does.
  void pin(std::uint32_t index) {
    pinned_bits[index / 64].fetch_or(std::uint64_t{1} << (index % 64), std::memory_order_relaxed);
  }
  void unpin(std::uint32_t index) {
    pinned_bits[index / 64].fetch_and(~(std::uint64_t{1} << (index % 64)),
                                      std::memory_order_release);
  }

  void set_special(std::uint32_t index) {
    special_bits[index / 64].fetch_or(std::uint64_t{1} << (index % 64), std::memory_order_release);
  }

  std::uint32_t slot_index(std::uintptr_t addr) const {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(addr - base) * div_magic) >> 32);
  }
  std::uintptr_t slot_base(std::uint32_t index) const {
    return base + static_cast<std::uintptr_t>(index) * elem_size;
  }
  bool noscan() const { return span_class_noscan(span_class); }

  bool is_allocated(std::uint32_t index) const {
    return index < free_index.load(std::memory_order_relaxed) ||
           (alloc_bits[index / 64].load(std::memory_order_relaxed) >> (index % 64) & 1) != 0;
  }
  bool is_marked(std::uint32_t index) const {
    return (mark_bits[index / 64].load(std::memory_order_relaxed) >> (index % 64) & 1) != 0;
  }
};

}  // namespace gc::detail
