// Thin wrappers over the OS's virtual memory calls, with the error handling the heap needs, and the
// ledger of what the library holds ready for use, which the memory limit counts.
//
// The heap reserves address space without backing (PROT_NONE, MAP_NORESERVE), commits it by
// making it readable and writable when the page heap grows, and releases physical pages with
// madvise(MADV_DONTNEED) while keeping the range mapped (the scavenger's "released" state).
//
// The ledger is Go's mappedReady: memory counts from the moment it becomes ready for use (mapped
// for bookkeeping, committed for objects) until it is given back (unmapped, released, retired).
// Address space that is only reserved never counts, nor does a table the OS backs lazily, page
// by page, as it is touched (the span table and bitmaps that cover the whole reservation): whoever
// makes part of it usable counts that part (heap/address_space.cpp counts the share of each table
// that covers the committed heap). The page heap keeps its own count of the pages it retains
// (page_heap.hpp), which changes under its lock at every allocation and release; the ledger has
// the rest, in two accounts read without a lock:
//   kMetadata  the library's bookkeeping: span descriptors and other fixed-pool blocks, the
//              tables' committed shares, mark stacks, root tables, the specials table;
//   kArena     gc::arena chunks: committed when made or reused, uncounted when retired.
// Memory the program allocates with malloc, thread stacks and the program's own mappings are not
// the library's: like Go's limit, the ledger does not count them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail::os {

// Reserves `bytes` of address space aligned to `align`; nullptr when the OS refuses.
void* reserve(std::size_t bytes, std::size_t align);
// Makes a reserved range usable; false when the OS refuses (RLIMIT_AS, overcommit off).
bool commit(void* p, std::size_t bytes);
// Returns the physical pages of a committed range to the OS; the range stays usable and reads zero.
void release(void* p, std::size_t bytes);
// Backs a committed range with physical pages now, in one call, rather than with a page fault at
// each page's first touch (MADV_POPULATE_WRITE, Linux 5.14). Best effort: where the kernel lacks it
// or refuses, the pages fault in later as before.
void populate(void* p, std::size_t bytes);
// Gives a committed range's memory back and makes every access to it fault (freed arena chunks);
// commit() makes it usable again, zero-filled.
void retire(void* p, std::size_t bytes);
// Maps a zero-filled, lazily backed read-write table; nullptr when refused. Not counted: the
// caller counts what it makes usable of it.
void* map_table(std::size_t bytes);
void unmap(void* p, std::size_t bytes);
// Maps zero-filled bookkeeping that the library uses all of, and counts it as kMetadata until
// unmap_metadata() gives it back; nullptr when refused.
void* map_metadata(std::size_t bytes);
void unmap_metadata(void* p, std::size_t bytes);

enum class Account : int { kMetadata, kArena };
// Adds `bytes` (negative: takes them away) to an account of the ledger.
void count_ready(Account account, std::int64_t bytes);
// What an account holds now (relaxed: a change under way on another thread may be missing).
std::size_t ready_bytes(Account account);

// The smallest multiple of the OS page size at or above `bytes`: what a mapping of `bytes` costs.
std::size_t round_to_os_pages(std::size_t bytes);

// Prints "tricolor: fatal error: <message>" and aborts.
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace gc::detail::os
