// The call stack of a heap-profile sample, as return addresses, innermost first.
//
// Unwound with the C++ runtime's unwinder (_Unwind_Backtrace, from libgcc_s, which C++ exceptions
// link anyway), driven by the .eh_frame tables that x86-64 and AArch64 compilers emit for every
// function by default. Frame pointers would be cheaper per frame, but our builds do not keep them
// (-O2 omits them, and a library cannot make its users' code keep them), and a walk over frames
// without them stops at the first such function. Libunwind would add a dependency for nothing
// more. A sample is taken once per 512 KiB allocated by default, so a few microseconds per unwind
// cost nothing measurable; at rate 1 (every allocation) it is what a user asked for.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

inline constexpr std::size_t kMaxProfileDepth = 32;

// Fills `pcs` with at most kMaxProfileDepth return addresses, starting with `first` (a return
// address in the caller of the function that calls this, from __builtin_return_address(0)): the
// frames above it, the sampler's own, are left out. Returns the number written. Outside critical
// sections only: the unwinder may take the C library's loader lock.
std::size_t capture_stack(std::uintptr_t first, std::uintptr_t (&pcs)[kMaxProfileDepth]);

}  // namespace gc::detail
