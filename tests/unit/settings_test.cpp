// The environment: GOGC, GOMEMLIMIT, GODEBUG and TRICOLOR_STOP_SIGNAL parse like Go's, and a bad
// value (one that does not parse, or a number out of range) prints one line naming the variable,
// the value and what is wrong, then the default applies.
#include "base/settings.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <string>
#include <tricolor/make.hpp>

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

// A number beyond the range is refused as too large, not as something that is not a number.
TEST(Settings, GogcTooLarge) {
  Refusal why = Refusal::kMalformed;
  EXPECT_EQ(parse_gogc("1000000000"), 1000000000);
  EXPECT_FALSE(parse_gogc("1000000001", &why));
  EXPECT_EQ(why, Refusal::kTooLarge);
  why = Refusal::kMalformed;
  EXPECT_FALSE(parse_gogc("99999999999999", &why));
  EXPECT_EQ(why, Refusal::kTooLarge);
  why = Refusal::kMalformed;
  EXPECT_FALSE(parse_gogc("99999999999999999999999", &why));  // beyond 64 bits
  EXPECT_EQ(why, Refusal::kTooLarge);
  EXPECT_FALSE(parse_gogc("abc", &why));
  EXPECT_EQ(why, Refusal::kMalformed);
  // Any negative number turns the collector off, as in Go.
  EXPECT_EQ(parse_gogc("-99999999999999"), -1);
  EXPECT_EQ(parse_gogc("-99999999999999999999999"), -1);
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

// The largest limit is 2^63-1 bytes, which means no limit; anything larger is refused, not taken
// as no limit.
TEST(Settings, MemoryLimitTooLarge) {
  EXPECT_EQ(parse_memory_limit("9223372036854775807"), kNoMemoryLimit);
  EXPECT_EQ(parse_memory_limit("8388607TiB"), 8388607ll << 40);
  for (const char* value : {"99999999TiB", "8388608TiB", "8589934592GiB", "9223372036854775808",
                            "99999999999999999999B"}) {
    Refusal why = Refusal::kMalformed;
    EXPECT_FALSE(parse_memory_limit(value, &why)) << value;
    EXPECT_EQ(why, Refusal::kTooLarge) << value;
  }
  Refusal why = Refusal::kTooLarge;
  EXPECT_FALSE(parse_memory_limit("-99999999999999999999", &why));
  EXPECT_EQ(why, Refusal::kMalformed);
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

TEST(Settings, GodebugMemProfileRate) {
  Settings s;
  EXPECT_EQ(s.mem_profile_rate, 512 * 1024);  // Go's default
  int complaints = 0;
  static int* counter;
  counter = &complaints;
  auto complain = [](std::string_view, std::string_view) { ++*counter; };
  apply_godebug("memprofilerate=1", s, complain);
  EXPECT_EQ(s.mem_profile_rate, 1);
  apply_godebug("memprofilerate=0", s, complain);
  EXPECT_EQ(s.mem_profile_rate, 0);
  EXPECT_EQ(complaints, 0);
  apply_godebug("memprofilerate=-4,memprofilerate=lots,memprofilerate=99999999999999999999", s,
                complain);
  EXPECT_EQ(complaints, 3);
  EXPECT_EQ(s.mem_profile_rate, 0);
}

TEST(Settings, StopSignal) {
  EXPECT_EQ(parse_signal("SIGURG"), SIGURG);
  EXPECT_EQ(parse_signal("USR2"), SIGUSR2);
  EXPECT_EQ(parse_signal("10"), 10);
  EXPECT_FALSE(parse_signal("SIGKILL"));
  EXPECT_FALSE(parse_signal("9"));
  EXPECT_FALSE(parse_signal("nope"));
}

// Numbers the collector cannot use: outside 1-31 and SIGRTMIN-SIGRTMAX (glibc keeps 32 and 33;
// sigaction refuses them), uncatchable, or sent by the kernel for a fault.
TEST(Settings, StopSignalUnusable) {
  EXPECT_EQ(parse_signal(std::to_string(SIGRTMIN)), SIGRTMIN);
  EXPECT_EQ(parse_signal(std::to_string(SIGRTMAX)), SIGRTMAX);
  EXPECT_EQ(parse_signal("30"), 30);  // SIGPWR; 31 is SIGSYS, a fault signal
  for (int n = 32; n < SIGRTMIN; ++n) {
    Refusal why = Refusal::kMalformed;
    EXPECT_FALSE(parse_signal(std::to_string(n), &why)) << n;
    EXPECT_EQ(why, Refusal::kUnusable) << n;
  }
  for (const std::string& value :
       {std::string("0"), std::string("-1"), std::to_string(SIGRTMAX + 1), std::string("65"),
        std::string("99999999999999999999999"), std::to_string(SIGKILL), std::to_string(SIGSTOP),
        std::to_string(SIGSEGV), std::to_string(SIGBUS), std::to_string(SIGILL),
        std::to_string(SIGFPE), std::to_string(SIGTRAP), std::to_string(SIGSYS),
        std::to_string(SIGABRT)}) {
    Refusal why = Refusal::kMalformed;
    EXPECT_FALSE(parse_signal(value, &why)) << value;
    EXPECT_EQ(why, Refusal::kUnusable) << value;
  }
  Refusal why = Refusal::kUnusable;
  EXPECT_FALSE(parse_signal("SIGRTMIN+1", &why));
  EXPECT_EQ(why, Refusal::kMalformed);
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
  EXPECT_EXIT(
      {
        ::setenv("GODEBUG", "memprofilerate=-1", 1);
        const Settings& s = settings();
        std::exit(s.mem_profile_rate == 512 * 1024 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "tricolor: GODEBUG memprofilerate=\"-1\" is not a number of bytes \\(0 or more\\); using "
      "524288");
}

// Values that parse as numbers but are out of range: each names the problem in one line, and the
// default applies. The stop signal is checked through a whole start-up (the first gc::make), where
// the handler is installed.
TEST(SettingsDeathTest, OutOfRangeValuesAreReportedAndDefaultsApply) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("GOGC", "99999999999999", 1);
        const Settings& s = settings();
        std::exit(s.gc_percent == 100 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "tricolor: GOGC=\"99999999999999\" is too large \\(at most 1000000000\\); using 100");
  EXPECT_EXIT(
      {
        ::setenv("GOMEMLIMIT", "99999999TiB", 1);
        const Settings& s = settings();
        std::exit(s.memory_limit == kNoMemoryLimit ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "tricolor: GOMEMLIMIT=\"99999999TiB\" is too large \\(more than 2\\^63-1 bytes\\); using "
      "no limit");
  for (const char* reserved : {"32", "33"}) {
    EXPECT_EXIT(
        {
          ::setenv("TRICOLOR_STOP_SIGNAL", reserved, 1);
          gc::ptr<int> p = gc::make<int>(1);
          std::exit(*p == 1 && settings().stop_signal == SIGURG ? 0 : 1);
        },
        ::testing::ExitedWithCode(0),
        std::string("tricolor: TRICOLOR_STOP_SIGNAL=\"") + reserved +
            "\" is not a signal the collector can use .*; using SIGURG");
  }
}

}  // namespace
