// Invariants checked in code.
//
// TRICOLOR_CHECK(cond, format, ...) is always on: for what must never happen whatever the build (a
// claim on a span that is not ours, a table that would overflow). It costs one predictable branch.
//
// TRICOLOR_DCHECK(cond, format, ...) states an invariant that the design notes and file comments
// describe, at the point where the code relies on it: the span allocation state, sweep ownership,
// the world being stopped, the phase of the cycle. It is compiled in when TRICOLOR_DCHECKS is 1
// (the debug, asan and tsan presets; CMake's TRICOLOR_DCHECKS option) and compiled out otherwise,
// so release hot paths pay nothing; its condition is then not evaluated, so it must have no side
// effects.
//
// A failed check prints "tricolor: check failed at FILE:LINE: COND: message" and aborts. It neither
// allocates nor takes a lock: checks run inside critical sections and with the world stopped.
#pragma once

#ifndef TRICOLOR_DCHECKS
#define TRICOLOR_DCHECKS 0
#endif

namespace gc::detail {

[[noreturn]] void check_failed(const char* file, int line, const char* condition,
                               const char* format, ...) __attribute__((format(printf, 4, 5)));

inline constexpr bool kDchecks = TRICOLOR_DCHECKS != 0;

}  // namespace gc::detail

#define TRICOLOR_CHECK(condition, ...)                                         \
  do {                                                                         \
    if (!(condition)) [[unlikely]]                                             \
      ::gc::detail::check_failed(__FILE__, __LINE__, #condition, __VA_ARGS__); \
  } while (0)

#if TRICOLOR_DCHECKS
#define TRICOLOR_DCHECK(condition, ...) TRICOLOR_CHECK(condition, __VA_ARGS__)
#else
// Not evaluated, but still compiled: a check cannot rot in builds that leave it out.
#define TRICOLOR_DCHECK(condition, ...) \
  do {                                  \
    if (false) {                        \
      (void)(condition);                \
    }                                   \
  } while (0)
#endif
