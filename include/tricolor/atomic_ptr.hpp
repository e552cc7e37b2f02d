// gc::atomic_ptr<T>: a gc::ptr slot that threads may load, store, exchange and compare-and-swap
// concurrently, with the write barrier. Lock-free data structures built on it (a Treiber stack, a
// Michael–Scott queue) need nothing else for safe reclamation: a node is freed only when no thread
// can reach it any more, so there is no ABA and no use after free, and no hazard pointers or
// epochs.
//
// Like a gc::ptr, the slot registers where it lives (a pointer-bitmap bit inside the heap, a root
// elsewhere off the stack). Loads are plain atomic loads. Every write is an atomic
// read-modify-write done out of line inside a critical section: a stop of the world cannot fall
// between the write and the barrier that shades the value it replaced, which with concurrent
// writers is known only from the operation itself (detail/barrier.hpp explains why gc::ptr's stores
// need two tests instead). A successful compare-and-swap shades the replaced and the stored value;
// a failed one writes nothing.
#pragma once

#include <atomic>

#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
// src/toolbox/atomic_slot.cpp
void* atomic_slot_exchange(void** slot, void* value, std::memory_order order) noexcept;
bool atomic_slot_compare_exchange(void** slot, void*& expected, void* desired, bool weak,
                                  std::memory_order success, std::memory_order failure) noexcept;
}  // namespace detail

template <class T>
class atomic_ptr {
 public:
  atomic_ptr() noexcept { detail::slot_born(&p_, static_cast<T*>(nullptr)); }
  explicit atomic_ptr(const ptr<T>& value) noexcept { detail::slot_born(&p_, value.get()); }
  ~atomic_ptr() {
    if (!detail::in_dying_object(&p_))
      detail::slot_dies(&p_, std::atomic_ref<T*>(p_).load(std::memory_order_relaxed));
  }
  atomic_ptr(const atomic_ptr&) = delete;
  atomic_ptr& operator=(const atomic_ptr&) = delete;

  ptr<T> load(std::memory_order order = std::memory_order_seq_cst) const noexcept {
    return ptr<T>(detail::adopt, std::atomic_ref<T*>(const_cast<T*&>(p_)).load(order));
  }
  void store(const ptr<T>& value, std::memory_order order = std::memory_order_seq_cst) noexcept {
    detail::atomic_slot_exchange(slot(), value.get(), order);
  }
  ptr<T> exchange(const ptr<T>& value,
                  std::memory_order order = std::memory_order_seq_cst) noexcept {
    return ptr<T>(detail::adopt,
                  static_cast<T*>(detail::atomic_slot_exchange(slot(), value.get(), order)));
  }
  // On failure `expected` receives the current value.
  bool compare_exchange_weak(ptr<T>& expected, const ptr<T>& desired,
                             std::memory_order success = std::memory_order_seq_cst,
                             std::memory_order failure = std::memory_order_seq_cst) noexcept {
    return compare_exchange(expected, desired, true, success, failure);
  }
  bool compare_exchange_strong(ptr<T>& expected, const ptr<T>& desired,
                               std::memory_order success = std::memory_order_seq_cst,
                               std::memory_order failure = std::memory_order_seq_cst) noexcept {
    return compare_exchange(expected, desired, false, success, failure);
  }
  static constexpr bool is_always_lock_free = std::atomic<T*>::is_always_lock_free;

 private:
  void** slot() noexcept { return reinterpret_cast<void**>(&p_); }
  bool compare_exchange(ptr<T>& expected, const ptr<T>& desired, bool weak,
                        std::memory_order success, std::memory_order failure) noexcept {
    void* seen = expected.get();
    if (detail::atomic_slot_compare_exchange(slot(), seen, desired.get(), weak, success, failure))
      return true;
    expected = ptr<T>(detail::adopt, static_cast<T*>(seen));
    return false;
  }

  T* p_;  // written through detail::slot_born and the out-of-line operations only
};

}  // namespace gc
