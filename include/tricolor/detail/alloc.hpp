// The allocation fast path, inlined into every gc::make.
//
// Small objects: the size class is a compile-time constant (sizeof and alignof are), so the fast
// path is: load the thread's cached span for the class, take the lowest set bit of its 64-slot
// free cache, bump `free_index`. No lock and no atomic read-modify-write. Everything else — an
// exhausted cache word, a full span, a thread's first allocation, a pending stop — goes to
// `alloc_slow`, which also decides when a collection starts.
//
// Every allocation then counts its bytes against the thread's countdown to its next heap-profile
// sample (count_for_sampling): one subtract and one branch; the sample itself is out of line.
//
// Tiny objects (no gc::ptr inside, trivially destructible, under 16 bytes) are bump-allocated
// inside the thread's current 16-byte block, as Go's tiny allocator does: a block is freed only
// when nothing points into any object in it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/mutator.hpp"
#include "tricolor/detail/size_classes.hpp"

namespace gc::detail {

void* alloc_slow(std::uint8_t span_class, const Destructor* destructor);
void* alloc_large(std::size_t size, std::size_t align, bool noscan, const Destructor* destructor);
void* alloc_tiny_slow(std::size_t size, std::size_t align);
// A span's first destructor, or another one (src/gc/destructors.cpp).
void register_destructor_slow(Span* s, std::uint32_t index, const Destructor* destructor);

// Registers the destructor of the object about to be built in slot `index` of `s`, a span that the
// calling thread's cache owns: while it does, no other thread writes the span's destructor bits
// (a sweep waits until the span goes back; a thread whose object's constructor throws in a span
// it no longer owns marks the slot in the destructor table instead, abandon_allocation), so the
// bit is set without an atomic read-modify-write. The span's own destructor needs only the bit
// (detail/span.hpp); another one goes out of line.
// Returns false when it went out of line, where the thread may have parked.
inline bool register_owned_destructor(Span* s, std::uint32_t index, const Destructor* destructor) {
  if (s->destructor.load(std::memory_order_relaxed) != reinterpret_cast<std::uintptr_t>(destructor))
      [[unlikely]] {
    register_destructor_slow(s, index, destructor);
    return false;
  }
  auto& word = s->destructor_bits[index / 64];
  // Release: the sweep that reads the bit (acquire) finds the object whole.
  word.store(word.load(std::memory_order_relaxed) | std::uint64_t{1} << (index % 64),
             std::memory_order_release);
  return true;
}

// A new object's memory, and whether the calling thread's cache owns its span for certain: the
// slot came off the inline fast path, and nothing that may park the thread ran since (the slow
// path, an out-of-line destructor registration, a heap-profile sample). A cache gives a span back
// on its own thread, or on another while its thread is parked at a safepoint or in a blocking
// region, or has exited (fresh_object.hpp, cache_owns); never while the thread runs or is stopped
// by the signal. So gc::make's FreshObject can then skip asking the cache. (gc::make is not
// async-signal-safe: a signal handler that allocated in between could take the span.)
struct NewObject {
  void* memory;
  bool cache_owns_span;
};

// Takes a heap-profile sample of the allocation at `object` (or only draws the thread's first
// countdown); returns `object` (src/gc/heap_sampler.cpp).
void* sample_allocation(void* object, std::size_t size);

// Counts `size` bytes of an allocation towards the next heap-profile sample; true when it is due.
[[gnu::always_inline]] inline bool sample_due(std::size_t size) {
  MutatorState& m = t_mutator;
  m.bytes_until_sample -= static_cast<std::int64_t>(size);
  return m.bytes_until_sample < 0;
}

// Counts `size` bytes of the allocation at `object` towards the next heap-profile sample.
[[gnu::always_inline]] inline void* count_for_sampling(void* object, std::size_t size) {
  if (sample_due(size)) [[unlikely]]
    return sample_allocation(object, size);
  return object;
}
[[gnu::always_inline]] inline NewObject count_for_sampling(NewObject object, std::size_t size) {
  if (sample_due(size)) [[unlikely]]
    return {sample_allocation(object.memory, size), false};  // the sample may park
  return object;
}

// Every path that hands out an object must hold its address, whole, before it reaches anything
// that may park the thread: a safepoint, the end of a critical section where a stop that landed
// inside was deferred, or a blocking scope (the refill path may back a new span's pages in one, or
// wake the page backer in one, where the address may be only in the copy of the registers it
// spilled). A mark that runs while the thread is parked there (all of it, under gcstoptheworld)
// finds the object, allocated before the mark began and so not black, only through that address
// on the thread's stack. The empty asm makes the address opaque to the compiler, which then keeps
// the value itself across the calls that follow (in a callee-saved register or a stack slot, both
// scanned) instead of rebuilding it from the span's base and the slot's index afterwards.
template <class T>
inline void hold_new_object(T& address) {
  asm("" : "+r"(address));
}

// The fast path proper, for a span class known at compile time (alloc_small) or at run time
// (arrays). A non-null `destructor` is registered for the slot (make.hpp).
[[gnu::always_inline]] inline NewObject take_from_cache(std::uint8_t span_class,
                                                        const Destructor* destructor) {
  Span* s = t_mutator.alloc[span_class];
  const std::uint64_t cache = s->alloc_cache;
  if (cache != 0 && g_safepoint_pending.load(std::memory_order_relaxed) == 0) [[likely]] {
    const unsigned bit = static_cast<unsigned>(std::countr_zero(cache));
    const std::uint32_t index = s->free_index.load(std::memory_order_relaxed) + bit;
    const std::uint32_t next = index + 1;
    // Past a 64-slot boundary the cache word must be refilled from the bitmap: slow path.
    if (index < s->nelems && (next % 64 != 0 || next == s->nelems)) [[likely]] {
      s->alloc_cache = (cache >> bit) >> 1;
      s->free_index.store(next, std::memory_order_relaxed);
      s->alloc_count.store(s->alloc_count.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
      void* object = reinterpret_cast<void*>(s->slot_base(index));
      if (destructor != nullptr) {
        hold_new_object(object);  // a registration out of line may park: see above
        return {object, register_owned_destructor(s, index, destructor)};
      }
      return {object, true};
    }
  }
  return {alloc_slow(span_class, destructor), false};
}

[[gnu::always_inline]] inline void* alloc_from_cache(std::uint8_t span_class,
                                                     const Destructor* destructor = nullptr) {
  return take_from_cache(span_class, destructor).memory;
}

template <std::uint8_t SpanClass>
[[gnu::always_inline]] inline void* alloc_small(const Destructor* destructor) {
  return alloc_from_cache(SpanClass, destructor);
}

template <std::size_t Size, std::size_t Align>
[[gnu::always_inline]] inline void* alloc_tiny() {
  MutatorState& m = t_mutator;
  const std::uintptr_t offset = (m.tiny_offset + Align - 1) & ~(Align - 1);
  if (m.tiny != 0 && offset + Size <= kTinySize &&
      g_safepoint_pending.load(std::memory_order_relaxed) == 0) [[likely]] {
    m.tiny_offset = offset + Size;
    return reinterpret_cast<void*>(m.tiny + offset);
  }
  return alloc_tiny_slow(Size, Align);
}

// Where an object of this size, alignment and kind goes; chosen at compile time. A non-null
// `destructor` is registered for it (a tiny object has none).
template <std::size_t Size, std::size_t Align, bool NoScan, bool Tiny>
[[gnu::always_inline]] inline NewObject allocate(const Destructor* destructor) {
  static_assert(Align <= kPageSize && (Align & (Align - 1)) == 0, "alignment up to 4096 only");
  constexpr std::size_t size = Size == 0 ? 1 : Size;
  if constexpr (Tiny && NoScan && size < kTinySize && Align <= 8) {
    return {count_for_sampling(alloc_tiny<size, Align>(), size), false};
  } else {
    constexpr std::uint8_t size_class = size_to_class_aligned(size, Align);
    if constexpr (size_class != 0) {
      return count_for_sampling(take_from_cache(make_span_class(size_class, NoScan), destructor),
                                kClassToSize[size_class]);
    } else {
      return {count_for_sampling(alloc_large(size, Align, NoScan, destructor), size), false};
    }
  }
}

}  // namespace gc::detail
