// Tests of the generated size-class table (include/tricolor/detail/size_classes.hpp).

#include "tricolor/detail/size_classes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace gc::detail {
namespace {

// The lookups are usable at compile time.
static_assert(kNumSizeClasses == 68);
static_assert(kPageSize == 8192 && kPageShift == 13);
static_assert(size_to_class(1) == 1);
static_assert(size_to_class(8) == 1);
static_assert(size_to_class(9) == 2);
static_assert(size_to_class(24) == 3);
static_assert(size_to_class(1024) == 32);
static_assert(kClassToSize[size_to_class(1025)] == 1152);
static_assert(size_to_class(kMaxSmallSize) == 67);
static_assert(size_to_class(kMaxSmallSize + 1) == 0);
static_assert(size_to_class_aligned(24, 16) == 4);  // 24 is not 16-aligned; 32 is.
static_assert(kClassToSize[size_to_class_aligned(100, 4096)] == 4096);
static_assert(size_to_class_aligned(8, 2 * kPageSize) == 0);

// Go's table (object size, pages per span) for classes 1..67.
struct GoClass {
  std::uint32_t size;
  std::uint32_t pages;
};
constexpr std::array<GoClass, 67> kGoTable = {{
    {8, 1},      {16, 1},    {24, 1},    {32, 1},    {48, 1},    {64, 1},    {80, 1},    {96, 1},
    {112, 1},    {128, 1},   {144, 1},   {160, 1},   {176, 1},   {192, 1},   {208, 1},   {224, 1},
    {240, 1},    {256, 1},   {288, 1},   {320, 1},   {352, 1},   {384, 1},   {416, 1},   {448, 1},
    {480, 1},    {512, 1},   {576, 1},   {640, 1},   {704, 1},   {768, 1},   {896, 1},   {1024, 1},
    {1152, 1},   {1280, 1},  {1408, 2},  {1536, 1},  {1792, 2},  {2048, 1},  {2304, 2},  {2688, 1},
    {3072, 3},   {3200, 2},  {3456, 3},  {4096, 1},  {4864, 3},  {5376, 2},  {6144, 3},  {6528, 4},
    {6784, 5},   {6912, 6},  {8192, 1},  {9472, 7},  {9728, 6},  {10240, 5}, {10880, 4}, {12288, 3},
    {13568, 5},  {14336, 7}, {16384, 2}, {18432, 9}, {19072, 7}, {20480, 5}, {21760, 8}, {24576, 3},
    {27264, 10}, {28672, 7}, {32768, 4},
}};

std::size_t span_bytes(std::size_t c) { return std::size_t{kClassToPages[c]} * kPageSize; }

// Go's sizes, and Go's spans but for objects of up to 1 KiB, whose spans have four pages
// (tools/gen_size_classes.py says why).
TEST(SizeClasses, MatchesGoTable) {
  EXPECT_EQ(kClassToSize[0], 0u);
  EXPECT_EQ(kClassToPages[0], 0u);
  EXPECT_EQ(kClassToObjects[0], 0u);
  for (std::size_t c = 1; c < kNumSizeClasses; ++c) {
    EXPECT_EQ(kClassToSize[c], kGoTable[c - 1].size) << "class " << c;
    const std::uint32_t pages =
        kGoTable[c - 1].size <= 1024 ? std::max(kGoTable[c - 1].pages, 4u) : kGoTable[c - 1].pages;
    EXPECT_EQ(kClassToPages[c], pages) << "class " << c;
  }
}

TEST(SizeClasses, SizesIncreaseFrom8To32K) {
  EXPECT_EQ(kClassToSize[1], 8u);
  EXPECT_EQ(kClassToSize[kNumSizeClasses - 1], kMaxSmallSize);
  int nonzero = 0;
  for (std::size_t c = 1; c < kNumSizeClasses; ++c) {
    EXPECT_GT(kClassToSize[c], kClassToSize[c - 1]) << "class " << c;
    if (kClassToSize[c] != 0) ++nonzero;
  }
  EXPECT_EQ(nonzero, 67);
}

TEST(SizeClasses, SizeGranularity) {
  for (std::size_t c = 1; c < kNumSizeClasses; ++c) {
    const std::uint32_t size = kClassToSize[c];
    EXPECT_EQ(size % 8, 0u) << "class " << c;
    if (size >= 32) {
      EXPECT_EQ(size % 16, 0u) << "class " << c;
    }
    if (size > kSmallSizeMax) {
      EXPECT_EQ(size % kLargeSizeDiv, 0u) << "class " << c;
    }
  }
}

TEST(SizeClasses, PagesBoundTailWaste) {
  for (std::size_t c = 1; c < kNumSizeClasses; ++c) {
    const std::size_t size = kClassToSize[c];
    const std::size_t span = span_bytes(c);
    ASSERT_GE(kClassToPages[c], 1u) << "class " << c;
    EXPECT_EQ(kClassToObjects[c], span / size) << "class " << c;
    EXPECT_LE(std::size_t{kClassToObjects[c]} * size, span) << "class " << c;
    EXPECT_LE(span % size, span / 8) << "class " << c;
  }
}

TEST(SizeClasses, EverySizeGetsTheSmallestFittingClass) {
  EXPECT_EQ(kSizeToClass8.size(), 129u);
  EXPECT_EQ(kSizeToClass128.size(), 249u);
  EXPECT_EQ(size_to_class(0), 1);  // documented: size 0 is treated like size 1
  for (std::size_t size = 1; size <= kMaxSmallSize; ++size) {
    const std::uint8_t c = size_to_class(size);
    ASSERT_GE(c, 1) << "size " << size;
    ASSERT_LT(c, kNumSizeClasses) << "size " << size;
    EXPECT_GE(kClassToSize[c], size) << "size " << size;
    EXPECT_LT(kClassToSize[c - 1], size) << "size " << size;
  }
  EXPECT_EQ(size_to_class(kMaxSmallSize + 1), 0);
  EXPECT_EQ(size_to_class(std::size_t{1} << 40), 0);
}

TEST(SizeClasses, DivMagicIsExactOverTheSpan) {
  EXPECT_EQ(kClassToDivMagic[0], 0u);
  for (std::size_t c = 1; c < kNumSizeClasses; ++c) {
    const std::uint32_t size = kClassToSize[c];
    const std::uint32_t magic = kClassToDivMagic[c];
    ASSERT_EQ(magic, ~std::uint32_t{0} / size + 1) << "class " << c;
    const std::size_t span = span_bytes(c);
    for (std::size_t offset = 0; offset <= span; ++offset) {
      const auto quotient =
          static_cast<std::uint32_t>((static_cast<std::uint64_t>(offset) * magic) >> 32);
      ASSERT_EQ(quotient, offset / size) << "class " << c << " offset " << offset;
    }
  }
}

TEST(SizeClasses, AlignedClassesGiveAlignedSlots) {
  for (std::size_t align = 1; align <= kPageSize; align *= 2) {
    for (std::size_t size = 1; size <= kMaxSmallSize; ++size) {
      const std::uint8_t c = size_to_class_aligned(size, align);
      if (align <= 8) {
        ASSERT_EQ(c, size_to_class(size)) << "size " << size << " align " << align;
      }
      if (c == 0) {
        // Nothing qualifies: no class holds `size` bytes with a multiple of `align`.
        for (std::size_t k = 1; k < kNumSizeClasses; ++k) {
          ASSERT_FALSE(kClassToSize[k] >= size && kClassToSize[k] % align == 0)
              << "size " << size << " align " << align << " missed class " << k;
        }
        continue;
      }
      ASSERT_GE(kClassToSize[c], size) << "size " << size << " align " << align;
      ASSERT_EQ(kClassToSize[c] % align, 0u) << "size " << size << " align " << align;
      // The smallest such class: every class in between fails alignment.
      for (std::size_t k = size_to_class(size); k < c; ++k) {
        ASSERT_NE(kClassToSize[k] % align, 0u) << "size " << size << " align " << align;
      }
      // Slot starts in a page-aligned span are aligned.
      for (std::size_t i = 0; i < kClassToObjects[c]; ++i) {
        ASSERT_EQ((i * kClassToSize[c]) % align, 0u);
      }
    }
  }
}

TEST(SizeClasses, AlignedExamples) {
  struct Case {
    std::size_t size, align, expected_size;  // expected_size 0: class 0 ("large")
  };
  constexpr Case kCases[] = {
      {1, 8, 8},
      {1, 16, 16},
      {17, 16, 32},
      {24, 16, 32},
      {33, 32, 64},
      {100, 64, 128},
      {100, 4096, 4096},
      {1000, 512, 1024},
      {1025, 256, 1280},
      {3000, 1024, 3072},
      {4097, 4096, 8192},
      {5000, 2048, 6144},
      {20000, 4096, 20480},
      {28673, 4096, 32768},
      {32768, 4096, 32768},
      {32768, 8192, 32768},
      {16385, 8192, 24576},
      {32769, 8, 0},
      {8, 16384, 0},
  };
  for (const Case& k : kCases) {
    const std::uint8_t c = size_to_class_aligned(k.size, k.align);
    EXPECT_EQ(kClassToSize[c], k.expected_size) << "size " << k.size << " align " << k.align;
    EXPECT_EQ(c == 0, k.expected_size == 0);
  }
}

TEST(SizeClasses, MultiplesOf16Get16AlignedClasses) {
  // Go relies on objects of 16-byte multiples being 16-byte aligned: only classes 8 and 24 are
  // not multiples of 16, and no multiple of 16 rounds up to either.
  for (std::size_t size = 16; size <= kMaxSmallSize; size += 16) {
    const std::uint8_t c = size_to_class(size);
    EXPECT_EQ(kClassToSize[c] % 16, 0u) << "size " << size;
    EXPECT_EQ(size_to_class_aligned(size, 16), c) << "size " << size;
  }
}

TEST(SizeClasses, HeaderMatchesGenerator) {
  const char* source_dir = std::getenv("TRICOLOR_SOURCE_DIR");
  if (source_dir == nullptr || *source_dir == '\0') {
    GTEST_SKIP() << "TRICOLOR_SOURCE_DIR is not set";
  }
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is not on PATH";
  }
  const std::string dir = std::string("'") + source_dir + "'";
  const std::string command = "python3 " + dir + "/tools/gen_size_classes.py --check " + dir +
                              "/include/tricolor/detail/size_classes.hpp";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace gc::detail
