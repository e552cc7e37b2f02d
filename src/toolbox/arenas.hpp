// The chunks behind gc::arena (include/tricolor/arena.hpp).
//
// A chunk is a run of pages taken from the heap's reservation at its frontier (never from the page
// heap: those pages are arena pages for good, as Go's are), 1 MiB or the size of a bigger request.
// Its descriptor extends Span, with state kArena, and fills the span table for its pages, so that
// every lookup (find_object, the marker's shade, gc::ptr(raw)) sees "not an object" at once, and
// the pointer bitmap covers its gc::ptr slots with no extra code in the barrier.
//
// Live chunks are roots. Each cycle's root pass reads the pointer bitmap of every live chunk up to
// the chunk's bump pointer and shades each slot's value, holding the chunks' lock for the pass (a
// 1 MiB chunk's bitmap is 2,048 words); slots written after that pass are covered by the write
// barrier, since chunk slots are heap slots.
// An arena is never marked or swept: its owner frees it.
//
// free() runs the destructors (on the calling thread), unlinks the chunks, then, holding no lock,
// clears their pointer bits and retires their pages: the memory goes back to the OS and every
// access faults. The chunk
// then waits in quarantine. The marker notes, in the chunk, the number of a cycle that saw a word
// pointing into a quarantined chunk (a gc::ptr, a root, a stack word, a barrier value). A chunk
// that a complete cycle, begun after the free, did not see is ready for reuse by a later arena,
// committed again and zeroed; a pointer the collector can see never reaches reused arena memory.
//
// For the memory limit a chunk counts (base/os_memory.hpp, Account::kArena) while its pages are
// usable: from its commit (new or reused) to its retirement. A quarantined chunk counts nothing.
#pragma once

#include <atomic>
#include <cstdint>

namespace gc::detail {

class Marker;

// Shades the value of every gc::ptr slot in every live arena chunk.
void mark_arena_roots(Marker& marker);

// Chunks in quarantine: note_arena_reference (the collector's foreign-word hook) does nothing while
// there are none.
inline constinit std::atomic<std::uint32_t> g_quarantined_chunks{0};
// `word` was not an object: if it points into a quarantined chunk, the chunk is still referenced.
void note_arena_reference(std::uintptr_t word);

}  // namespace gc::detail
