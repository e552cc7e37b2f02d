// The environment: GOGC, GOMEMLIMIT, GODEBUG and TRICOLOR_STOP_SIGNAL parse like Go's, and a bad
// value prints one line naming the variable and the value, then the default applies.
#include "base/settings.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

namespace {

using namespace gc::detail;

TEST(Settings, Gogc) {
  EXPECT_EQ(parse_gogc("100"), 100);
  EXPECT_EQ(parse_gogc("0"), 0);
  EXPECT_EQ(parse_gogc("250"), 250);
  EXPECT_EQ(parse_gogc("off"), -1);
  EXPECT_EQ(parse_gogc("-1"), -1);
  EXPECT_FALSE(parse_gogc(""));
  EXPECT_FALSE(parse_gogc("abc"));
  EXPECT_FALSE(parse_gogc("100%"));
  EXPECT_FALSE(parse_gogc("99999999999999"));
}

TEST(Settings, MemoryLimit) {
  EXPECT_EQ(parse_memory_limit("1073741824"), 1073741824);
  EXPECT_EQ(parse_memory_limit("512MiB"), 512ll << 20);
  EXPECT_EQ(parse_memory_limit("2GiB"), 2ll << 30);
  EXPECT_EQ(parse_memory_limit("3KiB"), 3ll << 10);
  EXPECT_EQ(parse_memory_limit("1TiB"), 1ll << 40);
  EXPECT_EQ(parse_memory_limit("77B"), 77);
  EXPECT_EQ(parse_memory_limit("off"), kNoMemoryLimit);
  EXPECT_FALSE(parse_memory_limit("12 MiB"));
  EXPECT_FALSE(parse_memory_limit("MiB"));
  EXPECT_FALSE(parse_memory_limit("-5"));
  EXPECT_FALSE(parse_memory_limit("5MB"));  // Go accepts only the binary suffixes
}

TEST(Settings, Godebug) {
  Settings s;
  int complaints = 0;
  static int* counter;
  counter = &complaints;
  auto complain = [](std::string_view, std::string_view) { ++*counter; };
  apply_godebug("gctrace=1,gccheckmark=1,gcstoptheworld=2,madvdontneed=1", s, complain);
  EXPECT_TRUE(s.gctrace);
  EXPECT_TRUE(s.gccheckmark);
  EXPECT_EQ(s.gcstoptheworld, 2);
  EXPECT_EQ(complaints, 0);  // unknown keys are ignored, as in Go
  apply_godebug("gctrace=yes,gcstoptheworld=7", s, complain);
  EXPECT_EQ(complaints, 2);
  EXPECT_TRUE(s.gctrace);  // a bad value leaves the previous one
}

TEST(Settings, StopSignal) {
  EXPECT_EQ(parse_signal("SIGURG"), SIGURG);
  EXPECT_EQ(parse_signal("USR2"), SIGUSR2);
  EXPECT_EQ(parse_signal("10"), 10);
  EXPECT_FALSE(parse_signal("SIGKILL"));
  EXPECT_FALSE(parse_signal("9"));
  EXPECT_FALSE(parse_signal("nope"));
}

// Each of these runs in a fresh child process, so the environment is read for the first time there.
TEST(SettingsDeathTest, BadValuesAreReportedAndDefaultsApply) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("GOGC", "lots", 1);
        const Settings& s = settings();
        std::exit(s.gc_percent == 100 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "tricolor: GOGC=\"lots\" is not a number or \"off\"; using 100");
  EXPECT_EXIT(
      {
        ::setenv("GOMEMLIMIT", "12XB", 1);
        const Settings& s = settings();
        std::exit(s.memory_limit == kNoMemoryLimit ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "tricolor: GOMEMLIMIT=\"12XB\" is not a size");
  EXPECT_EXIT(
      {
        ::setenv("GODEBUG", "gctrace=2", 1);
        const Settings& s = settings();
        std::exit(s.gctrace ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "tricolor: GODEBUG gctrace=\"2\" is not 0 or 1");
  // The message names the values of the key at fault, and only those.
  EXPECT_EXIT(
      {
        ::setenv("GODEBUG", "gctrace=banana", 1);
        const Settings& s = settings();
        std::exit(s.gctrace ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "tricolor: GODEBUG gctrace=\"banana\" is not 0 or 1; using 0");
  EXPECT_EXIT(
      {
        ::setenv("GODEBUG", "gcstoptheworld=7", 1);
        const Settings& s = settings();
        std::exit(s.gcstoptheworld == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "tricolor: GODEBUG gcstoptheworld=\"7\" is not 0, 1 or 2; using 0");
}

}  // namespace
