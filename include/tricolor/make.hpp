// gc::make<T>(args...) and gc::make<T[]>(n): construct objects in the managed heap.
// gc::make_for_overwrite<T>() and gc::make_for_overwrite<T[]>(n): the same, default-initialised
// (std::make_unique_for_overwrite's rule): whatever the constructor leaves uninitialised (all of a
// type with a trivial default constructor) keeps the bytes its slot held, so a buffer the program
// fills at once is not zeroed first. (gc::make leaves them too, for a member that a user-provided
// constructor does not initialise.)
//
// The size class, the span kind (scan or noscan) and the tiny-allocator decision are made at
// compile time from sizeof, alignof and the type's traits. A type that is trivially copyable cannot
// contain a gc::ptr (gc::ptr is not trivially copyable), so it goes to noscan spans that the marker
// never scans; everything else is scanned through the pointer bitmap, which only has bits where
// gc::ptr slots actually live.
//
// A type with a non-trivial destructor registers it with its allocation; the collector runs it when
// the object dies. If the constructor throws, the slot is handed back, its destructor unregistered,
// and the exception propagates.
#pragma once

#include <concepts>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "tricolor/detail/alloc.hpp"
#include "tricolor/detail/dying_objects.hpp"
#include "tricolor/detail/fresh_object.hpp"
#include "tricolor/ptr.hpp"

namespace gc {

// A type whose destructor does nothing but destroy its members, and whose members are gc::ptr,
// gc::ptr arrays or trivially destructible, may skip destruction when it is collected: the
// collector clears its pointer slots itself, and destroying a dead object's gc::ptr has no other
// effect. Specialise this to true for such a type to spare it the destructor queue:
//     template <> inline constexpr bool gc::collect_without_destructor<Node> = true;
// A type whose destructor must run (it owns memory, a file, a lock; or logs) must not be marked.
template <class T>
inline constexpr bool collect_without_destructor = false;

namespace detail {

template <class T>
inline constexpr bool needs_destructor_v =
    !std::is_trivially_destructible_v<T> && !collect_without_destructor<std::remove_cv_t<T>>;

// Gives back memory whose constructor threw (src/heap/thread_cache.cpp).
void abandon_allocation(void* object) noexcept;

template <class T>
inline constexpr bool is_noscan_v = std::is_trivially_copyable_v<T>;

template <class T>
void destroy_object(void* object) noexcept(std::is_nothrow_destructible_v<T>) {
  // Qualified: gc::make built exactly a T, so a virtual destructor needs no virtual call (and the
  // destructor thread's batch inlines it).
  std::launder(static_cast<T*>(object))->T::~T();
}

// An array is laid out as [padding][count][elements...]; the header is at least one size_t and a
// multiple of the element's alignment, so elements stay aligned and the count sits just before
// them.
template <class T>
inline constexpr std::size_t array_header_size = alignof(T) > sizeof(std::size_t)
                                                     ? alignof(T)
                                                     : sizeof(std::size_t);

// Destroys every element, first to last. An element whose destructor throws does not stop the
// others (std::destroy would leave the rest undestroyed, leaking what they own): the first
// exception is rethrown once all are destroyed, and the destructor thread reports it; later ones
// are dropped, so an array reports at most one line.
template <class T>
void destroy_array(void* object) noexcept(std::is_nothrow_destructible_v<T>) {
  T* first = reinterpret_cast<T*>(static_cast<char*>(object) + array_header_size<T>);
  const std::size_t n = reinterpret_cast<const std::size_t*>(first)[-1];
  if constexpr (std::is_nothrow_destructible_v<T>) {
    std::destroy(first, first + n);
  } else {
    std::exception_ptr thrown;
    for (std::size_t i = 0; i < n; ++i) {
      try {
        std::destroy_at(first + i);
      } catch (...) {
        if (!thrown) thrown = std::current_exception();
      }
    }
    if (thrown) std::rethrow_exception(thrown);
  }
}

// The destructor that gc::make registers for objects that `Destroy` destroys (destroy_object<T>,
// destroy_array<E>): one object at a time, or the dead ones of a span in one call.
template <auto Destroy>
inline constexpr Destructor kDestructor{Destroy, &destroy_some<Destroy>};

// The memory for a T, with its destructor registered if it needs one: at allocation, while the
// thread's cache owns the span (detail/alloc.hpp), so a constructor that throws unregisters it
// (abandon_allocation).
template <class T>
[[gnu::always_inline]] inline NewObject allocate_for() {
  const Destructor* destructor = nullptr;
  if constexpr (needs_destructor_v<T>) destructor = &kDestructor<&destroy_object<T>>;
  return allocate<sizeof(T), alignof(T), is_noscan_v<T>, std::is_trivially_destructible_v<T>>(
      destructor);
}

class ConstructionGuard {
 public:
  explicit ConstructionGuard(void* memory) noexcept : memory_(memory) {}
  ~ConstructionGuard() {
    if (memory_ != nullptr) abandon_allocation(memory_);
  }
  void release() noexcept { memory_ = nullptr; }
  ConstructionGuard(const ConstructionGuard&) = delete;
  ConstructionGuard& operator=(const ConstructionGuard&) = delete;

 private:
  void* memory_;
};

void* allocate_array(std::size_t bytes, std::size_t align, bool noscan,
                     const Destructor* destructor);

// How an object is initialised: gc::make's T(args...), or gc::make_for_overwrite's plain T.
// Default initialisation is safe for the collector whatever the slot held before: it reads only the
// words whose pointer bits are set, a gc::ptr sets its bit when it is constructed, and every path
// that frees a slot clears its bits (the sweep, the free after a destructor, the hand-back when a
// constructor throws).
enum class Init { kValue, kDefault };

// Constructs a T at `memory`: with (), or with {} for aggregates, where () does not work; or, for
// Init::kDefault, default-initialised.
template <class T, Init kInit = Init::kValue, class... Args>
T* construct_object(void* memory, Args&&... args) {
  if constexpr (kInit == Init::kDefault) {
    static_assert(sizeof...(Args) == 0);
    return ::new (memory) T;
  } else if constexpr (std::is_constructible_v<T, Args&&...>) {
    return ::new (memory) T(std::forward<Args>(args)...);
  } else {
    return ::new (memory) T{std::forward<Args>(args)...};
  }
}

// Bytes of an array of n E's with its count header; throws when that overflows.
template <class E>
std::size_t array_bytes(std::size_t n) {
  if (n > (static_cast<std::size_t>(-1) - array_header_size<E>) / sizeof(E))
    throw std::bad_array_new_length();
  return array_header_size<E> + n * sizeof(E);
}

// The bytes gc::make<E[]>(n) allocates: the array and one byte of slack after it, so that the
// array's end, &first[n] (an end() iterator), lies inside the array's own slot and not at the start
// of whatever follows it in memory. A gc::ptr or a stack word holding the end then keeps its own
// array alive. The byte moves an array up a size class only when the array would fill its slot
// exactly, which is when it is needed; single objects get none (every exact-size type would move
// up a class: a 16-byte object to 24 bytes).
template <class E>
std::size_t managed_array_bytes(std::size_t n) {
  const std::size_t bytes = array_bytes<E>(n);
  if (bytes == static_cast<std::size_t>(-1)) throw std::bad_array_new_length();
  return bytes + 1;
}

// Writes the count header at `memory` and value-initialises (or, for Init::kDefault,
// default-initialises) n elements after it; returns the first.
template <class E, Init kInit = Init::kValue>
E* construct_array(void* memory, std::size_t n) {
  E* first = reinterpret_cast<E*>(static_cast<char*>(memory) + array_header_size<E>);
  reinterpret_cast<std::size_t*>(first)[-1] = n;
  if constexpr (kInit == Init::kDefault)
    std::uninitialized_default_construct_n(first, n);
  else
    std::uninitialized_value_construct_n(first, n);
  return first;
}

// gc::make and gc::make_for_overwrite of one object; inline whole, as gc::make was written.
template <class T, Init kInit, class... Args>
[[gnu::always_inline]] inline ptr<T> make_object(Args&&... args) {
  const NewObject allocation = allocate_for<T>();
  void* memory = allocation.memory;
  ConstructionGuard guard(memory);
  T* object;
  constexpr std::uint8_t size_class =
      size_to_class_aligned(sizeof(T) == 0 ? 1 : sizeof(T), alignof(T));
  if constexpr (!is_noscan_v<T> && size_class != 0) {
    // Its slots' bits without a locked instruction (fresh_object.hpp).
    const FreshObject fresh(memory, sizeof(T), make_span_class(size_class, false),
                            allocation.cache_owns_span);
    object = construct_object<T, kInit>(memory, std::forward<Args>(args)...);
  } else {
    object = construct_object<T, kInit>(memory, std::forward<Args>(args)...);
  }
  guard.release();
  return ptr<T>(adopt_new, object);
}

// gc::make and gc::make_for_overwrite of an array.
template <class T, Init kInit>
ptr<T> make_array(std::size_t n) {
  using E = std::remove_extent_t<T>;
  const Destructor* destructor = nullptr;
  if constexpr (needs_destructor_v<E>) destructor = &kDestructor<&destroy_array<E>>;
  const std::size_t bytes = managed_array_bytes<E>(n);
  void* memory = allocate_array(bytes, alignof(E), is_noscan_v<E>, destructor);
  ConstructionGuard guard(memory);
  E* first;
  const std::uint8_t size_class = size_to_class_aligned(bytes, alignof(E));
  if (!is_noscan_v<E> && size_class != 0) {
    // Its elements' bits without a locked instruction, as for a single object.
    const FreshObject fresh(memory, bytes, make_span_class(size_class, false),
                            /*cache_owns_span=*/false);
    first = construct_array<E, kInit>(memory, n);
  } else {
    first = construct_array<E, kInit>(memory, n);
  }
  guard.release();
  return ptr<T>(adopt_new, first);
}

}  // namespace detail

template <class T, class... Args>
requires(!std::is_array_v<T>) ptr<T> make(Args&&... args) {
  return detail::make_object<T, detail::Init::kValue>(std::forward<Args>(args)...);
}

template <class T>
requires(std::is_unbounded_array_v<T>) ptr<T> make(std::size_t n) {
  return detail::make_array<T, detail::Init::kValue>(n);
}

template <class T>
requires(!std::is_array_v<T> && std::default_initializable<T>) ptr<T> make_for_overwrite() {
  return detail::make_object<T, detail::Init::kDefault>();
}

template <class T>
requires(std::is_unbounded_array_v<T>&& std::default_initializable<std::remove_extent_t<T>>)
    ptr<T> make_for_overwrite(std::size_t n) {
  return detail::make_array<T, detail::Init::kDefault>(n);
}

}  // namespace gc
