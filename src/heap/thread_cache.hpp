// The thread cache's slow paths: refilling a span class, tiny blocks, large objects, giving spans
// back (src/heap/thread_cache.cpp). The fast paths are inline in include/tricolor/detail/alloc.hpp.
#pragma once

#include <cstdint>

#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

// Returns every span a thread cache owns to the central lists (on thread exit, and by the
// collector for a thread stopped at a safepoint). Spans that need sweeping stay cached when
// `keep_unswept` is set, because the collector must not sweep while the world is stopped.
void flush_thread_cache(MutatorState& m, bool keep_unswept = false);

// Bytes the calling thread's cache has taken so far (spans' free slots, large objects): what it
// allocated, at span granularity, as the heap counters count it.
std::int64_t thread_allocated_bytes();

}  // namespace gc::detail
