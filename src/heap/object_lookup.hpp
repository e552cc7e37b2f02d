// From any address to the allocated object that contains it, in O(1): the span table names the
// span, the span's division magic gives the slot, the allocation state says whether the slot holds
// an object. Conservative stack words, interior gc::ptr values and gc::ptr(raw) all come here.
#pragma once

#include <cstdint>

#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

struct ObjectRef {
  Span* span = nullptr;
  std::uint32_t index = 0;
  std::uintptr_t base = 0;
};

inline std::uintptr_t object_size(const Span* s) {
  return s->large_size != 0 ? s->large_size : s->elem_size;
}

// True, filling `out`, if `addr` points into an allocated object.
inline bool find_object(std::uintptr_t addr, ObjectRef& out) {
  const std::uintptr_t lo = g_heap.lo.load(std::memory_order_relaxed);
  if (addr - lo >= g_heap.size.load(std::memory_order_acquire)) return false;
  Span* s = span_of(addr);
  if (s == nullptr || s->state.load(std::memory_order_acquire) != SpanState::kInUse) return false;
  std::uint32_t index = 0;
  if (s->nelems == 1) {
    if (addr >= s->base + object_size(s)) return false;  // in a large span's rounding tail
  } else {
    index = s->slot_index(addr);
    if (index >= s->nelems) return false;  // in a small span's tail waste
  }
  if (!s->is_allocated(index)) return false;
  out.span = s;
  out.index = index;
  out.base = s->slot_base(index);
  return true;
}

}  // namespace gc::detail
