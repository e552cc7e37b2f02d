// gc::allocator<T>: a standard allocator whose containers are traced through whatever holds them.
//
//     struct Graph {
//       std::vector<gc::ptr<Node>, gc::allocator<gc::ptr<Node>>> nodes;   // traced through Graph
//       std::map<int, gc::ptr<Node>, std::less<>,
//                gc::allocator<std::pair<const int, gc::ptr<Node>>>> by_id;
//     };
//
// Buffers come from the managed heap, so the gc::ptrs a container holds are slots the marker scans
// precisely, and they are explicitly freed: a container frees a buffer when it is done with it,
// never the collector, so the raw pointers a container keeps between its buffers need no tracing.
// What makes the buffers' gc::ptrs count only while the container is reachable is the allocator's
// one member, a gc::ptr to the container's buffer list: wherever the container is (inside a managed
// object, on a stack, in malloc memory), that member is found like any other gc::ptr there, and the
// list reaches every buffer that may hold gc::ptrs. A cycle through a container is collected like
// any other. The list's algorithm is in src/toolbox/container_buffers.hpp.
//
// Copies of an allocator share its list (a container's rebound and temporary allocators do); a
// container copy starts a list of its own. Moving or swapping a container moves its allocator along
// with its buffers. Two allocators are equal when they share a list.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>

#include "tricolor/make.hpp"
#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
struct BufferList;  // src/toolbox/container_buffers.cpp
ptr<BufferList> buffer_list_new();
void buffer_list_retain(BufferList* list) noexcept;
void buffer_list_release(BufferList* list) noexcept;
// `scan`: the buffer may hold gc::ptrs, so it goes on the list; otherwise it is only kept.
void* buffer_allocate(BufferList* list, std::size_t bytes, std::size_t align, bool scan);
void buffer_deallocate(BufferList* list, void* buffer, std::size_t align, bool scan) noexcept;
}  // namespace detail

template <class T>
class allocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using propagate_on_container_copy_assignment = std::false_type;
  using is_always_equal = std::false_type;

  allocator() : list_(detail::buffer_list_new()) {}
  allocator(const allocator& other) noexcept : list_(other.list_) {
    detail::buffer_list_retain(list_.get());
  }
  template <class U>
  allocator(const allocator<U>& other) noexcept : list_(other.list_) {
    detail::buffer_list_retain(list_.get());
  }
  allocator& operator=(const allocator& other) noexcept {
    detail::buffer_list_retain(other.list_.get());
    detail::buffer_list_release(list_.get());
    list_ = other.list_;
    return *this;
  }
  ~allocator() { detail::buffer_list_release(list_.get()); }

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(
        detail::buffer_allocate(list_.get(), n * sizeof(T), alignof(T), kMayHoldPtr));
  }
  void deallocate(T* p, std::size_t) noexcept {
    detail::buffer_deallocate(list_.get(), p, alignof(T), kMayHoldPtr);
  }

  // A copied container gets a list of its own.
  allocator select_on_container_copy_construction() const { return allocator(); }

  template <class U>
  bool operator==(const allocator<U>& other) const noexcept {
    return list_.get() == other.list_.get();
  }

 private:
  // Not is_noscan_v: node containers allocate nodes whose value sits in raw aligned storage, so a
  // node type is trivially copyable even when its value is a gc::ptr. Scalars (a hash table's
  // buckets, a deque's block map, numbers) are the buffers known to hold none.
  static constexpr bool kMayHoldPtr = !std::is_scalar_v<T>;

  template <class U>
  friend class allocator;
  ptr<detail::BufferList> list_;
};

}  // namespace gc
