// gc::weak<T>: a reference that does not keep its object alive. lock() returns the object as a
// gc::ptr while it lives, and null once a cycle has found it unreachable; a lock() during a mark
// keeps the object alive through that cycle. How the collector clears weak references is in
// src/toolbox/weak_refs.hpp.
#pragma once

#include <type_traits>
#include <utility>

#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
struct WeakCell;
WeakCell* weak_register(const void* target);  // src/toolbox/weak_refs.cpp
void weak_unregister(WeakCell* cell) noexcept;
void* weak_lock(WeakCell* cell) noexcept;
}  // namespace detail

template <class T>
requires(!std::is_array_v<T>) class weak {
 public:
  weak() noexcept = default;
  weak(const ptr<T>& p) : cell_(p ? detail::weak_register(p.get()) : nullptr) {}
  weak(const weak& other) : weak(other.lock()) {}
  weak(weak&& other) noexcept : cell_(std::exchange(other.cell_, nullptr)) {}
  weak& operator=(weak other) noexcept {
    swap(other);
    return *this;
  }
  ~weak() { reset(); }

  ptr<T> lock() const noexcept {
    return cell_ == nullptr ? ptr<T>()
                            : ptr<T>(detail::adopt, static_cast<T*>(detail::weak_lock(cell_)));
  }
  bool expired() const noexcept { return !lock(); }
  void reset() noexcept {
    if (cell_ != nullptr) detail::weak_unregister(std::exchange(cell_, nullptr));
  }
  void swap(weak& other) noexcept { std::swap(cell_, other.cell_); }

 private:
  detail::WeakCell* cell_ = nullptr;
};

}  // namespace gc
