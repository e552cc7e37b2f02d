// gc::ptr<T>: the handle to a managed object.
//
// A gc::ptr is one word: the address of (or into) a managed object. Constructing one tells the
// collector where the slot lives (detail/barrier.hpp): a slot inside the managed heap sets its bit
// in the pointer bitmap, so the object holding it is scanned precisely; a slot outside the heap and
// off the current thread's stack registers as a root. Every store goes through the write barrier.
//
// A gc::ptr may point into the middle of an object (a member, an array element, a base-class
// subobject), or one past the end of an array made by gc::make<T[]>(n) (an end() pointer; the
// array has a byte of slack there, make.hpp): it keeps the whole object alive. gc::ptr<T[]> points
// at element 0 of an array made by gc::make<T[]>(n) and knows its length. gc::ptr<void> (and <const
// void>) is a type-erased handle: it converts from any gc::ptr, arrays included, keeps its object
// alive the same way, cannot be dereferenced, and gc::static_pointer_cast gives the type back.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <type_traits>
#include <utility>

#include "tricolor/detail/barrier.hpp"

namespace gc {

namespace detail {
// Whether a gc::ptr<U> converts implicitly to a gc::ptr<T>: as U* to T* for single objects (a
// derived class to its base, T to const T); any handle, an array's too, to gc::ptr<void>. Arrays
// convert to nothing else: a gc::ptr<T[]> must point at element 0 of an array of T.
template <class U, class T>
inline constexpr bool ptr_convertible_v =
    (std::is_void_v<T> || (!std::is_array_v<T> && !std::is_array_v<U>)) &&
    std::is_convertible_v<std::remove_extent_t<U>*, std::remove_extent_t<T>*>;

struct adopt_t {
  explicit adopt_t() = default;
};
inline constexpr adopt_t adopt{};
struct adopt_new_t {
  explicit adopt_new_t() = default;
};
inline constexpr adopt_new_t adopt_new{};
// Throws std::invalid_argument unless p is null or points into a live managed object.
void check_managed(const void* p);
}  // namespace detail

template <class T>
class ptr {
 public:
  using element_type = std::remove_extent_t<T>;

  // Every constructor writes the slot through slot_born, atomically: a concurrent mark may read
  // it as soon as the object holding it is reachable (detail/barrier.hpp).
  // Always inline, as are the other constructors, the assignments, reset and the destructor: GCC
  // kept them out of line in gc::make of a type with two gc::ptr members and in tree building,
  // and the calls cost GCBench and binary-trees 3-5% (design.md, section 5).
  [[gnu::always_inline]] ptr() noexcept {
    detail::slot_born(&p_, static_cast<element_type*>(nullptr));
  }
  [[gnu::always_inline]] ptr(std::nullptr_t) noexcept : ptr() {}

  // `p` may be null or point anywhere inside a live managed object, e.g. `ptr<Node>(this)`.
  explicit ptr(element_type* p) {
    detail::check_managed(p);
    detail::slot_born(&p_, p);
  }
  [[gnu::always_inline]] ptr(detail::adopt_t, element_type* p) noexcept {
    detail::slot_born(&p_, p);
  }
  // gc::make's result, most often a local or a temporary.
  [[gnu::always_inline]] ptr(detail::adopt_new_t, element_type* p) noexcept {
    detail::slot_born<detail::LikelySlot::kStack>(&p_, p);
  }

  [[gnu::always_inline]] ptr(const ptr& other) noexcept { detail::slot_born(&p_, other.p_); }
  [[gnu::always_inline]] ptr(ptr&& other) noexcept {
    detail::slot_born(&p_, other.p_);
    other.reset();
  }
  template <class U>
  requires detail::ptr_convertible_v<U, T>
  [[gnu::always_inline]] ptr(const ptr<U>& other) noexcept {
    detail::slot_born(&p_, static_cast<element_type*>(other.get()));
  }
  template <class U>
  requires detail::ptr_convertible_v<U, T>
  [[gnu::always_inline]] ptr(ptr<U>&& other) noexcept {
    detail::slot_born(&p_, static_cast<element_type*>(other.get()));
    other.reset();
  }

  // A slot on this thread's stack (a temporary, a local) has nothing to undo unless a mark has yet
  // to scan the stack, one test for both (detail::in_quiet_stack; die() sorts out the rest), and a
  // member of the dead object being destroyed is not even read (detail/barrier.hpp, slot_dies).
  [[gnu::always_inline]] ~ptr() {
    if (detail::in_quiet_stack(&p_)) [[likely]]
      return;
    if (detail::in_dying_object(&p_)) [[likely]]
      return;
    die();
  }

  [[gnu::always_inline]] ptr& operator=(const ptr& other) noexcept {
    detail::slot_store(&p_, other.p_);
    return *this;
  }
  [[gnu::always_inline]] ptr& operator=(ptr&& other) noexcept {
    if (this != &other) {
      detail::slot_store(&p_, other.p_);
      other.reset();
    }
    return *this;
  }
  template <class U>
  requires detail::ptr_convertible_v<U, T>
  [[gnu::always_inline]] ptr& operator=(const ptr<U>& other) noexcept {
    detail::slot_store(&p_, static_cast<element_type*>(other.get()));
    return *this;
  }
  [[gnu::always_inline]] ptr& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }

  [[gnu::always_inline]] void reset() noexcept {
    if (p_ != nullptr) detail::slot_store(&p_, static_cast<element_type*>(nullptr));
  }
  [[gnu::always_inline]] void swap(ptr& other) noexcept {
    element_type* mine = p_;
    detail::slot_store(&p_, other.p_);
    detail::slot_store(&other.p_, mine);
  }

  element_type* get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

  // Not for arrays (operator[]) nor for gc::ptr<void>, which only names an object.
  template <class U = T>
  requires(!std::is_array_v<U> && !std::is_void_v<U>) U& operator*() const noexcept { return *p_; }
  template <class U = T>
  requires(!std::is_array_v<U> && !std::is_void_v<U>) U* operator->() const noexcept { return p_; }

  // auto&: the element's reference type, which gc::ptr<void> must not spell.
  template <class U = T>
  requires(std::is_array_v<U>) auto& operator[](std::size_t i) const noexcept { return p_[i]; }
  // Number of elements of an array made by gc::make<T[]>(n); it is stored just before element 0.
  template <class U = T>
  requires(std::is_array_v<U>) std::size_t size()
  const noexcept { return p_ == nullptr ? 0 : reinterpret_cast<const std::size_t*>(p_)[-1]; }

 private:
  // Out of line, so that the two tests above inline into every destructor that holds a gc::ptr
  // (the destructor thread runs one per dead object).
  [[gnu::noinline]] void die() noexcept {
    detail::slot_dies(&p_, std::atomic_ref<element_type*>(p_).load(std::memory_order_relaxed));
  }

  element_type* p_;  // written only through detail::slot_born and slot_store
};

template <class T, class U>
bool operator==(const ptr<T>& a, const ptr<U>& b) noexcept {
  return a.get() == b.get();
}
template <class T>
bool operator==(const ptr<T>& a, std::nullptr_t) noexcept {
  return a.get() == nullptr;
}
template <class T, class U>
std::strong_ordering operator<=>(const ptr<T>& a, const ptr<U>& b) noexcept {
  return std::compare_three_way{}(static_cast<const volatile void*>(a.get()),
                                  static_cast<const volatile void*>(b.get()));
}
template <class T>
std::strong_ordering operator<=>(const ptr<T>& a, std::nullptr_t) noexcept {
  return std::compare_three_way{}(static_cast<const volatile void*>(a.get()),
                                  static_cast<const volatile void*>(nullptr));
}
template <class T>
void swap(ptr<T>& a, ptr<T>& b) noexcept {
  a.swap(b);
}

template <class C, class Traits, class T>
std::basic_ostream<C, Traits>& operator<<(std::basic_ostream<C, Traits>& os, const ptr<T>& p) {
  return os << static_cast<const void*>(p.get());
}

// The casts convert the pointer to U's element type, so a gc::ptr<void> that was made from a
// gc::ptr<T[]> casts back with static_pointer_cast<T[]>. As with static_cast, naming the right type
// is the caller's duty.
template <class U, class T>
ptr<U> static_pointer_cast(const ptr<T>& p) noexcept {
  return ptr<U>(detail::adopt, static_cast<std::remove_extent_t<U>*>(p.get()));
}
template <class U, class T>
ptr<U> const_pointer_cast(const ptr<T>& p) noexcept {
  return ptr<U>(detail::adopt, const_cast<std::remove_extent_t<U>*>(p.get()));
}
template <class U, class T>
ptr<U> dynamic_pointer_cast(const ptr<T>& p) noexcept {
  return ptr<U>(detail::adopt, dynamic_cast<U*>(p.get()));
}

}  // namespace gc

template <class T>
struct std::hash<gc::ptr<T>> {
  std::size_t operator()(const gc::ptr<T>& p) const noexcept {
    return std::hash<const void*>{}(p.get());
  }
};
