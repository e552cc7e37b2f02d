// What every gc::ptr does when it is born, written, and destroyed.
//
// Where a slot lives decides its duties:
//   - inside the managed heap: its word's bit in the pointer bitmap is set while it exists, so the
//     marker scans exactly the live gc::ptr slots of an object (no Trace() methods);
//   - on the current thread's stack: nothing — stacks are scanned conservatively;
//   - anywhere else (globals, thread_locals, malloc memory): it registers in the root set.
//
// The write barrier: while the collector marks concurrently, a store into a slot that is not on a
// stack shades both the value it overwrites and the value it stores (Go's hybrid Yuasa–Dijkstra
// barrier). When no cycle is marking the barrier costs one relaxed load and a predictable branch.
// Slots are written with relaxed atomic stores because the marker may read them concurrently.
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

inline constinit std::atomic<bool> g_barrier_enabled{false};

void register_root(void* slot);  // src/gc/root_set.cpp
void unregister_root(void* slot);
void write_barrier_slow(void* slot, const void* old_value, const void* new_value);  // src/gc/

inline void slot_born(void* slot, const void* value) {
  if (in_heap(slot)) {
    std::uint64_t bit;
    auto& word = pointer_word(reinterpret_cast<std::uintptr_t>(slot), bit);
    word.fetch_or(bit, std::memory_order_relaxed);
  } else if (!on_my_stack(slot)) {
    register_root(slot);
  }
  if (value != nullptr && g_barrier_enabled.load(std::memory_order_relaxed)) [[unlikely]]
    write_barrier_slow(slot, nullptr, value);
}

inline void slot_dies(void* slot, const void* value) {
  if (value != nullptr && g_barrier_enabled.load(std::memory_order_relaxed)) [[unlikely]]
    write_barrier_slow(slot, value, nullptr);
  if (in_heap(slot)) {
    std::uint64_t bit;
    auto& word = pointer_word(reinterpret_cast<std::uintptr_t>(slot), bit);
    word.fetch_and(~bit, std::memory_order_relaxed);
  } else if (!on_my_stack(slot)) {
    unregister_root(slot);
  }
}

template <class T>
inline void slot_store(T** slot, T* value) {
  std::atomic_ref<T*> ref(*slot);
  if (g_barrier_enabled.load(std::memory_order_relaxed)) [[unlikely]]
    write_barrier_slow(slot, ref.load(std::memory_order_relaxed), value);
  ref.store(value, std::memory_order_relaxed);
}

}  // namespace gc::detail
