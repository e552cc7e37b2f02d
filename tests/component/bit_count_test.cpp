// count_ones (src/base/bit_count.hpp) counts exactly what std::popcount counts: every single bit,
// all bits, alternating patterns, and a spread of pseudo-random words.
#include "base/bit_count.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>

namespace {

using gc::detail::count_ones;

static_assert(count_ones(0) == 0);
static_assert(count_ones(~std::uint64_t{0}) == 64);
static_assert(count_ones(0x8000000000000001u) == 2);

TEST(BitCountComponent, EverySingleBitCountsOne) {
  for (unsigned i = 0; i < 64; ++i) {
    EXPECT_EQ(count_ones(std::uint64_t{1} << i), 1u) << "bit " << i;
    EXPECT_EQ(count_ones(~(std::uint64_t{1} << i)), 63u) << "all but bit " << i;
  }
}

TEST(BitCountComponent, PatternsAndRunsMatchPopcount) {
  for (unsigned n = 0; n <= 64; ++n) {
    const std::uint64_t low = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    EXPECT_EQ(count_ones(low), n);
    EXPECT_EQ(count_ones(low << (64 - n) % 64),
              static_cast<unsigned>(std::popcount(low << (64 - n) % 64)));
  }
  EXPECT_EQ(count_ones(0x5555555555555555u), 32u);
  EXPECT_EQ(count_ones(0xaaaaaaaaaaaaaaaau), 32u);
  EXPECT_EQ(count_ones(0xff00ff00ff00ff00u), 32u);
}

TEST(BitCountComponent, PseudoRandomWordsMatchPopcount) {
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 100'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ASSERT_EQ(count_ones(x), static_cast<unsigned>(std::popcount(x))) << std::hex << x;
  }
}

}  // namespace
