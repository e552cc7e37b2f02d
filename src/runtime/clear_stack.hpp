// Clearing the dead part of the caller's stack before a collection, as Boehm's GC_clear_stack does.
//
// Stacks are scanned conservatively, from a thread's stack pointer at the scan up to the top of
// its stack. Below the frame of the function that calls gc::collect() lies memory that earlier,
// returned calls used: their locals, spilled registers and the frames of the allocator. The frames
// of collect() itself are laid over that memory, and every slot they do not write (padding,
// locals not yet assigned, space reserved for a later spill) still holds what the earlier calls
// left there, so a dead object's address in it is read as a root and keeps the object alive.
//
// clear_dead_stack() zeroes kClearedStackBytes just below the stack pointer. It is inlined into
// a function that has no frame of its own and ends in a tail call (gc::collect), so that every
// frame of the collection lies over zeros: on x86-64 it is a `rep stos` below the stack pointer,
// which needs no frame (a call to a clearing function would need one, and its alignment slot would
// keep whatever was there). Elsewhere it calls clear_stack(), one memset of a local array in a
// function that is never inlined, whose frame lies just below its caller's.
//
// Neither clears what the caller's own live frame or callee-saved registers still hold: a program
// that wants an object collected now should drop it in a function that has returned.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

// Enough for the frames of collect() and the waits it makes, with room to spare; zeroing it costs
// little next to a collection.
inline constexpr std::size_t kClearedStackBytes = 8 * 1024;

// Zeroes kClearedStackBytes below its own frame.
void clear_stack() noexcept;

// Zeroes kClearedStackBytes below the stack pointer; see above. Only on a registered thread on its
// known stack, with that much stack left and a page to spare (a thread that never registered made
// no object, and its stack's end is not known).
[[gnu::always_inline]] inline void clear_dead_stack() noexcept {
#if defined(__x86_64__)
  std::uintptr_t sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  const std::uintptr_t lo = t_mutator.stack_lo.load(std::memory_order_relaxed);
  // Not off the known stack either: a thread on a stack it did not announce (gc::fiber) has no
  // bounds to trust here; the collection it starts stops the program with a message.
  if (lo == 0 || sp - lo < kClearedStackBytes + 4096 ||
      sp - lo >= t_mutator.stack_size.load(std::memory_order_relaxed))
    return;
  // The memory below the stack pointer belongs to nobody: a signal handler may overwrite it at any
  // moment, and nothing reads it before writing it. The direction flag is clear (the ABI says so).
  void* dst;
  std::size_t count;
  asm volatile(
      "lea -%c[bytes](%%rsp), %[dst]\n\t"
      "rep stosq"
      : [dst] "=&D"(dst), "=c"(count)
      : [bytes] "i"(kClearedStackBytes), "1"(kClearedStackBytes / 8), "a"(0)
      : "memory");
#else
  clear_stack();
#endif
}

}  // namespace gc::detail
