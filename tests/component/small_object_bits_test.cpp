// small_object_pointer_bits (src/heap/pointer_bitmap.hpp), the marker's read of a small object's
// pointer bits, against the word-by-word walk it replaces (for_each_pointer_word's masks, bit by
// bit): every start within a bitmap word, every size from 1 to 64 words, over made-up bitmap words.
// Nothing is allocated: the bitmap is three words of this test's own.
#include <gtest/gtest.h>

#include <cstdint>

#include "heap/pointer_bitmap.hpp"

namespace {

using gc::detail::small_object_pointer_bits;

// Three bitmap words, and how often each was read.
struct FakeBitmap {
  std::uint64_t words[3];
  int reads[3] = {0, 0, 0};
  std::uint64_t operator()(std::uintptr_t w) {
    ++reads[w];
    return words[w];
  }
};

// Bit i: whether heap word `first + i` has its bit set, one bit at a time.
std::uint64_t expected_bits(const FakeBitmap& bitmap, std::uintptr_t first, unsigned words) {
  std::uint64_t bits = 0;
  for (unsigned i = 0; i < words; ++i) {
    const std::uintptr_t word = first + i;
    if (bitmap.words[word / 64] >> (word % 64) & 1) bits |= std::uint64_t{1} << i;
  }
  return bits;
}

void check_every_start_and_size(std::uint64_t w0, std::uint64_t w1) {
  for (unsigned shift = 0; shift < 64; ++shift) {
    for (unsigned words = 1; words <= 64; ++words) {
      FakeBitmap bitmap{{w0, w1, 0xBADBADBADBADBADBull}};
      const std::uint64_t got = small_object_pointer_bits(shift, words, bitmap);
      ASSERT_EQ(got, expected_bits(bitmap, shift, words))
          << "an object of " << words << " words starting at bit " << shift;
      EXPECT_EQ(bitmap.reads[0], 1);
      EXPECT_EQ(bitmap.reads[1], shift + words > 64 ? 1 : 0)
          << "the second word is read only when the object reaches into it";
      EXPECT_EQ(bitmap.reads[2], 0);
    }
  }
}

TEST(SmallObjectBitsComponent, AllOnesGiveOneBitPerWordOfTheObject) {
  check_every_start_and_size(~std::uint64_t{0}, ~std::uint64_t{0});
}

TEST(SmallObjectBitsComponent, MatchesTheBitByBitWalkOverPatterns) {
  check_every_start_and_size(0x8000000000000001ull, 0x8000000000000001ull);
  check_every_start_and_size(0xAAAAAAAAAAAAAAAAull, 0x5555555555555555ull);
  check_every_start_and_size(0, ~std::uint64_t{0});
  check_every_start_and_size(~std::uint64_t{0}, 0);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;  // xorshift64
  for (int i = 0; i < 20; ++i) {
    const auto next = [&] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    const std::uint64_t w0 = next();
    check_every_start_and_size(w0, next());
  }
}

TEST(SmallObjectBitsComponent, AnObjectInTheSecondBitmapWordReadsOnlyThat) {
  FakeBitmap bitmap{{~std::uint64_t{0}, 0x0F0ull, ~std::uint64_t{0}}};
  EXPECT_EQ(small_object_pointer_bits(64 + 4, 4, bitmap), 0xFull);
  EXPECT_EQ(bitmap.reads[0], 0);
  EXPECT_EQ(bitmap.reads[1], 1);
  EXPECT_EQ(bitmap.reads[2], 0);
}

}  // namespace
