// Thin wrappers over the OS's virtual memory calls, with the error handling the heap needs.
//
// The heap reserves address space without backing (PROT_NONE, MAP_NORESERVE), commits it by
// making it readable and writable when the page heap grows, and releases physical pages with
// madvise(MADV_DONTNEED) while keeping the range mapped (the scavenger's "released" state).
#pragma once

#include <cstddef>

namespace gc::detail::os {

// Reserves `bytes` of address space aligned to `align`; nullptr when the OS refuses.
void* reserve(std::size_t bytes, std::size_t align);
// Makes a reserved range usable; false when the OS refuses (RLIMIT_AS, overcommit off).
bool commit(void* p, std::size_t bytes);
// Returns the physical pages of a committed range to the OS; the range stays usable and reads zero.
void release(void* p, std::size_t bytes);
// Gives a committed range's memory back and makes every access to it fault (freed arena chunks);
// commit() makes it usable again, zero-filled.
void retire(void* p, std::size_t bytes);
// Maps a zero-filled, lazily backed read-write table; nullptr when refused.
void* map_table(std::size_t bytes);
void unmap(void* p, std::size_t bytes);

// Prints "tricolor: fatal error: <message>" and aborts.
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace gc::detail::os
