// The heap profile's records: a table of buckets, one per (call stack, object size), each counting
// the sampled allocations and frees made from it, published as of the last completed mark (Go's
// mprof.go buckets and memRecord).
//
// Sampling (heap_sampler.cpp) hands each sampled object here with its stack. The object gets a
// record in a table of specials (base/special_table.hpp) that names its bucket and size, and its
// special bit; when the sweep finds it dead, the dead-object hook (gc/hooks.hpp) takes the record
// out and counts the free in the bucket. A profile's counts are therefore samples, not bytes: the
// writer scales them by the rate (heap_profile_writer.cpp).
//
// Consistent snapshots, as Go takes them. Allocations are counted when they happen, frees only
// when the sweep after a mark finds the object dead, so counting both as they come would count
// garbage not yet swept as in use. Each bucket keeps, besides its published (`active`) counts, a
// ring of three per-cycle counts indexed by the profile cycle C, which mark termination advances:
//   - an allocation counts towards C+2; a free by the sweep towards C+1; a free in the same cycle
//     as its allocation (a constructor that threw) towards C+2, with its allocation;
//   - at mark termination C advances (world stopped: an atomic add); after the world restarts the
//     new C is folded into `active` (heap_profile_flush, once per cycle);
//   - when the sweep is finished, C+1 is folded in too (heap_profile_post_sweep): every free the
//     last mark decided has been counted, so `active` is the heap as of that mark.
// The published profile thus never shows an object allocated after the last mark termination, nor
// one freed by the sweep before the whole sweep is counted.
//
// Concurrency. Bucket lookups are lock-free (chains of atomic pointers; buckets are never freed);
// inserts take g_insert_mutex. Per-cycle counts are atomics that samplers and sweepers add to
// without a lock; folding and reading `active` take g_publish_mutex. Records take their stripe's
// lock. Every lock is taken inside a critical section, and none is taken with the world stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gc/stack_unwind.hpp"

namespace gc::detail {

struct ProfileCounts {
  std::uint64_t allocs = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t frees = 0;
  std::uint64_t free_bytes = 0;
};

// One bucket's published counts. `stack` points into the bucket, which lives for good.
struct ProfileEntry {
  const std::uintptr_t* stack = nullptr;
  std::size_t depth = 0;
  std::size_t size = 0;  // the objects' size in bytes
  ProfileCounts counts;
};

// Counts the sampled object at `object` (`size` bytes, allocated from `stack[0..depth)`) in its
// bucket, and gives it a record that the sweep will find. Outside critical sections.
void record_heap_sample(const void* object, std::size_t size, const std::uintptr_t* stack,
                        std::size_t depth);

// Mark termination, world stopped: the next profile cycle begins.
void heap_profile_next_cycle();
// After the world restarts: publishes the cycle that mark termination closed (once per cycle).
void heap_profile_flush();
// When no span is left to sweep: publishes the sweep's frees, and the allocations before the mark.
void heap_profile_post_sweep();

// The published counts of every bucket with a sample. Outside critical sections (it allocates).
std::vector<ProfileEntry> heap_profile_snapshot();

// The published profile as pprof's profile.proto, not yet gzipped (heap_profile_writer.cpp).
std::string encode_heap_profile();

}  // namespace gc::detail
