// The environment, read once before the first allocation: GOGC, GOMEMLIMIT, GODEBUG and
// TRICOLOR_STOP_SIGNAL. A value that does not parse, or is out of range (a number too large, a
// signal the collector cannot use), prints one line on stderr naming the variable, the value and
// what is wrong with it, and the default applies. Nothing here stops the program.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gc::detail {

inline constexpr std::int64_t kNoMemoryLimit = INT64_MAX;
inline constexpr std::int64_t kDefaultMemProfileRate = 512 * 1024;  // Go's MemProfileRate

struct Settings {
  int gc_percent = 100;                                    // GOGC; negative: off
  std::int64_t memory_limit = kNoMemoryLimit;              // GOMEMLIMIT
  bool gctrace = false;                                    // GODEBUG=gctrace=1
  bool gccheckmark = false;                                // GODEBUG=gccheckmark=1
  int gcstoptheworld = 0;                                  // GODEBUG=gcstoptheworld=1|2
  bool gcpacertrace = false;                               // GODEBUG=gcpacertrace=1
  bool scavtrace = false;                                  // GODEBUG=scavtrace=1
  int stop_signal = 0;                                     // TRICOLOR_STOP_SIGNAL (default SIGURG)
  std::int64_t mem_profile_rate = kDefaultMemProfileRate;  // GODEBUG=memprofilerate=N
};

// Parsed on first call.
const Settings& settings();

// Why a parser refused a value.
enum class Refusal {
  kMalformed,  // not in the variable's syntax
  kTooLarge,   // a number, larger than the variable takes
  kUnusable,   // a signal number the collector cannot use (usable_stop_signal)
};

// Parsers, exposed for tests. Each returns nullopt for a value it refuses, and then says why in
// `*why` if `why` is not null.
std::optional<int> parse_gogc(std::string_view value, Refusal* why = nullptr);
std::optional<std::int64_t> parse_memory_limit(std::string_view value, Refusal* why = nullptr);
std::optional<int> parse_signal(std::string_view value, Refusal* why = nullptr);

// GOGC's largest value: the pacer multiplies by it.
inline constexpr std::int64_t kMaxGcPercent = 1'000'000'000;

// True for a signal that can stop threads: one the C library leaves to programs (1-31, and
// SIGRTMIN to SIGRTMAX; glibc keeps the two below SIGRTMIN for its threads, and sigaction refuses
// them), that a handler can catch (not SIGKILL or SIGSTOP), and that the kernel does not send for a
// faulting instruction (not SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, nor abort()'s
// SIGABRT): a stop handler would return to the fault, or swallow it.
bool usable_stop_signal(long signal);
// Applies a GODEBUG string to `s`; calls `complain(key, value)` for a known key with a bad value.
void apply_godebug(std::string_view value, Settings& s,
                   void (*complain)(std::string_view key, std::string_view value));

}  // namespace gc::detail
