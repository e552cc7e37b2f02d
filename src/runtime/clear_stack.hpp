// Clearing the dead part of the caller's stack before a collection, as Boehm's GC_clear_stack does.
//
// Stacks are scanned conservatively, from a thread's stack pointer at the scan up to the top of
// its stack. Below the frame of the function that calls gc::collect() lies memory that earlier,
// returned calls used: their locals, spilled registers and the frames of the allocator. The frames
// of collect() itself are laid over that memory, and every slot they do not write (padding,
// locals not yet assigned, space reserved for a later spill) still holds what the earlier calls
// left there, so a dead object's address in it is read as a root and keeps the object alive.
//
// clear_stack() zeroes kClearedStackBytes just below its caller's frame before the collection
// begins, so that the frames of collect() lie over zeros. It is one memset of a local array in a
// function that is never inlined (its frame sits directly below the caller's), followed by an
// empty asm statement that claims to read the array, so that the compiler cannot drop the stores
// to memory it sees die. It cannot clear what the caller's own live frame or callee-saved registers
// still hold: a program that wants an object collected now should drop it in a function that has
// returned.
#pragma once

#include <cstddef>

namespace gc::detail {

// Enough for the frames of collect() and the waits it makes, with room to spare; one memset of it
// costs little next to a collection.
inline constexpr std::size_t kClearedStackBytes = 8 * 1024;

void clear_stack() noexcept;

}  // namespace gc::detail
