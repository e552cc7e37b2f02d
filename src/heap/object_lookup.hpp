// From any address to the allocated object that contains it, in O(1): the span table names the
// span, the span's division magic gives the slot, the allocation state says whether the slot holds
// an object. Conservative stack words, interior gc::ptr values and gc::ptr(raw) all come here.
#pragma once

#include <cstdint>

#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

// The heap's place, read once: the layout never changes after `size` is published, so a loop that
// resolves many addresses (the marker's) keeps it in registers, where every read of g_heap's
// atomics would be a load of its own.
struct HeapView {
  std::uintptr_t lo;
  std::uintptr_t size;  // 0 before the heap exists: then contains() is false for every address
  std::atomic<Span*>* spans;

  [[gnu::always_inline]] static HeapView now() {
    const std::uintptr_t size = g_heap.size.load(std::memory_order_acquire);
    return {g_heap.lo.load(std::memory_order_relaxed), size, g_heap.spans};
  }
  [[gnu::always_inline]] bool contains(std::uintptr_t addr) const { return addr - lo < size; }
  // The span owning `addr`, an address inside the heap (null for a free page).
  [[gnu::always_inline]] Span* span_of(std::uintptr_t addr) const {
    return spans[(addr - lo) >> kPageShift].load(std::memory_order_acquire);
  }
};

struct ObjectRef {
  Span* span = nullptr;
  std::uint32_t index = 0;
  std::uintptr_t base = 0;
};

inline std::uintptr_t object_size(const Span* s) {
  return s->large_size != 0 ? s->large_size : s->elem_size;
}

// True, setting `index`, if `addr`, an address in span `s`'s pages, falls in one of its slots:
// `s` holds objects and `addr` is not in a rounding tail. Whether the slot holds an object is the
// caller's next question (is_allocated), or the marker's after its mark bit.
[[gnu::always_inline]] inline bool slot_of(const Span* s, std::uintptr_t addr,
                                           std::uint32_t& index) {
  if (s->state.load(std::memory_order_acquire) != SpanState::kInUse) return false;
  if (s->nelems == 1) {
    index = 0;
    return addr < s->base + object_size(s);  // not in a large span's rounding tail
  }
  index = s->slot_index(addr);
  return index < s->nelems;  // not in a small span's tail waste
}

// True, filling `out`, if `addr` points into an allocated object of the heap that `heap` shows.
[[gnu::always_inline]] inline bool find_object(const HeapView& heap, std::uintptr_t addr,
                                               ObjectRef& out) {
  if (!heap.contains(addr)) return false;
  Span* s = heap.span_of(addr);
  std::uint32_t index = 0;
  if (s == nullptr || !slot_of(s, addr, index) || !s->is_allocated(index)) return false;
  out.span = s;
  out.index = index;
  out.base = s->slot_base(index);
  return true;
}

// True, filling `out`, if `addr` points into an allocated object.
inline bool find_object(std::uintptr_t addr, ObjectRef& out) {
  return find_object(HeapView::now(), addr, out);
}

}  // namespace gc::detail
