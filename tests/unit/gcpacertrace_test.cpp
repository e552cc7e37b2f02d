// ctest-env: GODEBUG=gcpacertrace=1
// GODEBUG=gcpacertrace=1 prints the pacer's view at mark start and at the end of each cycle.
#include <gtest/gtest.h>

#include <regex>
#include <tricolor/gc.hpp>

namespace {

struct Blob {
  char bytes[256];
};

TEST(Gcpacertrace, TwoLinesPerCycle) {
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100000; ++i) gc::make<Blob>();  // 25 MB: heap-triggered cycles
  gc::collect();
  const std::string out = ::testing::internal::GetCapturedStderr();
  const std::regex start(
      R"(pacer: assist ratio=\d+\.\d+ \(scan \d+ MB in \d+->\d+ MB\) workers=\d+\+\+0\.0+)");
  const std::regex end(
      R"(pacer: \d+% CPU \(25 exp\.\) for \d+ B work in \d+ B -> \d+ B \(trigger \d+ B, goal \d+ )"
      R"(B, ∆goal -?\d+, cons/mark \d+\.\d+\); next trigger \d+ B, goal \d+ B)");
  const auto count = [&](const std::regex& r) {
    return std::distance(std::sregex_iterator(out.begin(), out.end(), r), std::sregex_iterator());
  };
  EXPECT_GE(count(start), 3) << out;
  EXPECT_EQ(count(start), count(end)) << out;
}

}  // namespace
