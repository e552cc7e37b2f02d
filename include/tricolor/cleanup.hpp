// gc::add_cleanup(p, fn): run fn() on the library's cleanup thread some time after p's object has
// become unreachable, like Go's runtime.AddCleanup.
//
// The cleanup never sees the object: by the time it runs, the object may be destroyed and its
// memory reused. So fn must not hold p (or anything that reaches p's object): that would keep the
// object reachable, and the cleanup would never run. An object may have several cleanups; they run
// in no particular order, each once, relative to the object's destructor in no particular order
// either. A cleanup that throws has its exception reported on stderr; the next one still runs.
// gc::collect() waits for the cleanups of what it found dead. How they are found and queued is in
// src/toolbox/cleanups.hpp.
#pragma once

#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
void add_cleanup(const void* object, std::function<void()> fn);  // src/toolbox/cleanups.cpp
}  // namespace detail

template <class T, class F>
requires std::is_invocable_v < std::decay_t<F>
& > void add_cleanup(const ptr<T>& p, F&& fn) {
  if (!p) throw std::invalid_argument("gc::add_cleanup: the gc::ptr is null");
  detail::add_cleanup(p.get(), std::function<void()>(std::forward<F>(fn)));
}

}  // namespace gc
