// The heap's address space: one virtual reservation, committed from the bottom up as the page heap
// grows, with the span table and the pointer bitmap covering all of it (detail/heap_range.hpp).
//
// The reservation is made once, at the first use of the library. It asks for kMaxReservation and
// halves the request until the OS agrees (RLIMIT_AS, a small machine); below kMinReservation the
// library cannot start and says so. "Is this address in the heap?" then stays two comparisons
// forever, because the heap never moves and never needs a second reservation.
//
// The side tables are mapped whole and backed by the OS as they are touched; for the memory limit,
// the share of each that covers the committed heap counts as the library's metadata from the
// moment the heap grows over it (base/os_memory.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

inline constexpr std::size_t kMaxReservation = std::size_t{64} << 30;  // 64 GiB
inline constexpr std::size_t kMinReservation = std::size_t{64} << 20;  // 64 MiB
// The heap is committed ahead of the frontier in steps of a quarter of what is committed, between
// these two (address_space.cpp says why).
inline constexpr std::size_t kCommitGranule = std::size_t{1} << 20;   // 1 MiB, the smallest step
inline constexpr std::size_t kMaxCommitStep = std::size_t{64} << 20;  // 64 MiB, Go's arena

// Creates the reservation and side tables (idempotent; called under the runtime's init once).
void init_address_space();

// Commits `bytes` (a multiple of the page size) more at the frontier; returns the first address,
// or 0 when the reservation is exhausted or the OS refuses.
std::uintptr_t grow_heap(std::size_t bytes);

// The range in use by the page heap [lo, frontier).
std::uintptr_t heap_frontier();
// The end of the committed range, at or above the frontier.
std::uintptr_t heap_committed_end();

}  // namespace gc::detail
