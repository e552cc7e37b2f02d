// Counting the set bits of a 64-bit word, inline.
//
// The sweeper counts a span's freed, kept and new zombie slots a 64-slot word at a time, the
// destructor thread and the central lists count destroyed slots the same way, and the page heap
// its released pages. On x86-64 built for the baseline instruction set (no -mpopcnt, as
// distributions build), std::popcount is a call into libgcc's __popcountdi2 through the PLT: 14-19%
// of the background sweeper's samples in binary-trees (docs/design.md, section 5, "Bit counts
// inline"). The same arithmetic inline costs a dozen instructions and no call; with POPCNT
// available, or on another architecture, std::popcount is used as it is.
#pragma once

#include <bit>
#include <cstdint>

namespace gc::detail {

constexpr unsigned count_ones(std::uint64_t x) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__POPCNT__)
  // Bits summed in pairs, then nibbles, then bytes; the multiply adds the eight byte counts into
  // the top byte.
  x = x - ((x >> 1) & 0x5555555555555555u);
  x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
  return static_cast<unsigned>((x * 0x0101010101010101u) >> 56);
#else
  return static_cast<unsigned>(std::popcount(x));
#endif
}

}  // namespace gc::detail
