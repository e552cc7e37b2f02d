// ctest-env: GODEBUG=gctrace=1
// GODEBUG=gctrace=1 prints one line per cycle on stderr, in Go's format.
#include <gtest/gtest.h>

#include <regex>
#include <tricolor/gc.hpp>

namespace {

TEST(Gctrace, OneLinePerCycleInGoFormat) {
  ::testing::internal::CaptureStderr();
  gc::collect();
  gc::collect();
  const std::string out = ::testing::internal::GetCapturedStderr();
  const std::regex line(
      R"(gc (\d+) @\d+\.\d{3}s \d+%: \d+\.\d+\+\d+\.\d+\+\d+\.\d+ ms clock, )"
      R"(\d+\.\d+\+\d+\.?\d*/\d+\.\d+/\d+\.?\d*\+\d+\.\d+ ms cpu, \d+->\d+->\d+ MB, \d+ MB goal, )"
      R"(\d+ MB stacks, \d+ MB globals, \d+ threads \(forced\))");
  auto begin = std::sregex_iterator(out.begin(), out.end(), line);
  std::vector<std::string> numbers;
  for (auto it = begin; it != std::sregex_iterator(); ++it) numbers.push_back((*it)[1]);
  ASSERT_EQ(numbers.size(), 2u) << out;
  EXPECT_EQ(numbers[0], "1");
  EXPECT_EQ(numbers[1], "2");
}

}  // namespace
