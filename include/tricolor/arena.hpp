// gc::arena: objects that die together, freed by hand, like Go's arena experiment.
//
//     gc::arena a;
//     auto root = a.make<Node>();          // bump-allocated in the arena's chunks
//     root->next = a.make<Node>();         // gc::ptrs inside the arena are traced as roots
//     a.free();                            // destructors run, the memory goes back to the OS
//     root->next;                          // faults (SIGSEGV) instead of reading reused memory
//
// Allocation is a bump of a pointer in a chunk of 1 MiB or more; free() (or the destructor) runs
// the destructors of every object made in the arena, last made first destroyed, and releases all
// its chunks at once. Until then every gc::ptr inside the arena keeps its target alive, whether or
// not anything points at the arena's objects: the arena is a root. A gc::ptr to an arena object
// does not keep the arena alive — the arena's owner decides when it dies — so gc::ptr(this) inside
// an arena object, gc::weak and gc::add_cleanup do not accept arena objects.
//
// After free(), the arena's chunks fault on every access, and their addresses are not used again
// until a whole collection has found no gc::ptr and no stack word pointing into them (the same
// rule as Go's arenas). One arena is used by one thread at a time. How chunks are kept, scanned,
// quarantined and reused is in src/toolbox/arenas.hpp.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "tricolor/make.hpp"
#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
struct ArenaChunk;
// The type-erased arena (src/toolbox/arenas.cpp).
class ArenaCore {
 public:
  ArenaCore() = default;
  ~ArenaCore() { release(); }
  ArenaCore(const ArenaCore&) = delete;
  ArenaCore& operator=(const ArenaCore&) = delete;

  // Zeroed memory in the arena; throws std::bad_alloc when no chunk can be had.
  void* allocate(std::size_t bytes, std::size_t align);
  // A constructor threw: if `memory` is still the last allocation (no object was made in the arena
  // while it ran), its memory goes back to the chunk; otherwise it stays unused until release().
  void abandon_last(void* memory) noexcept;
  // Room for one more destructor, made before the object so that recording it cannot fail.
  void reserve_destructor() {
    if (destructors_.size() == destructors_.capacity())
      destructors_.reserve(destructors_.empty() ? 64 : 2 * destructors_.size());
  }
  using DestroyFn = void (*)(void* object);
  void add_destructor(void* object, DestroyFn fn) noexcept { destructors_.push_back({object, fn}); }
  // Runs the destructors, then releases every chunk. The arena is empty and usable afterwards.
  void release() noexcept;
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  struct PendingDestructor {
    void* object;
    DestroyFn fn;
  };
  ArenaChunk* chunks_ = nullptr;  // the newest, which allocation bumps, first
  void* last_ = nullptr;          // the last allocation
  std::size_t last_offset_ = 0;   // where the newest chunk stood before it
  std::size_t bytes_ = 0;
  std::vector<PendingDestructor> destructors_;
};
}  // namespace detail

class arena {
 public:
  arena() = default;
  ~arena() = default;  // frees
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  template <class T, class... Args>
  requires(!std::is_array_v<T>) ptr<T> make(Args&&... args) {
    if constexpr (!std::is_trivially_destructible_v<T>) core_.reserve_destructor();
    void* memory = core_.allocate(sizeof(T), alignof(T));
    T* object = construct_or_abandon(
        memory, [&] { return detail::construct_object<T>(memory, std::forward<Args>(args)...); });
    if constexpr (!std::is_trivially_destructible_v<T>)
      core_.add_destructor(memory, &detail::destroy_object<T>);
    return ptr<T>(detail::adopt, object);
  }

  // n value-initialised elements, laid out as gc::make<T[]> lays them out.
  template <class T>
  requires(std::is_unbounded_array_v<T>) ptr<T> make(std::size_t n) {
    using E = std::remove_extent_t<T>;
    const std::size_t bytes = detail::array_bytes<E>(n);
    if constexpr (!std::is_trivially_destructible_v<E>) core_.reserve_destructor();
    void* memory = core_.allocate(bytes, alignof(E));
    E* first = construct_or_abandon(memory, [&] { return detail::construct_array<E>(memory, n); });
    if constexpr (!std::is_trivially_destructible_v<E>)
      core_.add_destructor(memory, &detail::destroy_array<E>);
    return ptr<T>(detail::adopt, first);
  }

  // Destroys every object made so far and releases their memory; the arena can be used again.
  void free() noexcept { core_.release(); }
  // Bytes of the chunks the arena holds now.
  std::size_t allocated_bytes() const noexcept { return core_.bytes(); }

 private:
  // A constructor that throws gives its memory back to the arena.
  template <class Construct>
  auto construct_or_abandon(void* memory, Construct construct) {
    try {
      return construct();
    } catch (...) {
      core_.abandon_last(memory);
      throw;
    }
  }

  detail::ArenaCore core_;
};

}  // namespace gc
