// gc::pool<T>: a cache of objects for reuse, like Go's sync.Pool. get() returns a pooled object
// or a fresh one from the factory; put(p) offers one back.
//
// A pool holds its objects loosely: each collection moves what the pool holds into a victim cache
// and drops the previous victim cache, so an object put back survives at least one collection and
// is dropped by the second unless someone took it in between. A pool therefore never pins memory
// that the program stopped using, and costs nothing to keep around. How the pool's caches are laid
// out and rotated is in src/toolbox/pools.hpp.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "tricolor/make.hpp"
#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
struct PoolState;
// The type-erased pool (src/toolbox/pools.cpp): it holds object addresses, which pool<T> converts.
class PoolCore {
 public:
  PoolCore();
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  // An object the pool held, now held by nobody but the caller's stack, or null.
  void* take() noexcept;
  // Offers an object; may allocate a chunk of the pool's cache (and throw std::bad_alloc).
  void give(void* object);

 private:
  PoolState* state_;
};
}  // namespace detail

template <class T>
requires(!std::is_array_v<T>) class pool {
 public:
  using factory_type = std::function<ptr<T>()>;

  explicit pool(factory_type factory) : factory_(std::move(factory)) {}
  pool() requires std::is_default_constructible_v<T> : factory_([] { return make<T>(); }) {}

  // A pooled object if the pool has one (the caller's thread's own first), else the factory's.
  ptr<T> get() {
    if (void* object = core_.take()) return ptr<T>(detail::adopt, static_cast<T*>(object));
    return factory_ ? factory_() : ptr<T>();
  }
  // Offers `p` for reuse. The caller should not use it afterwards: another get() may return it.
  void put(ptr<T> p) {
    if (p) core_.give(static_cast<void*>(const_cast<std::remove_const_t<T>*>(p.get())));
  }

 private:
  factory_type factory_;
  detail::PoolCore core_;
};

}  // namespace gc
