// The environment, read once before the first allocation: GOGC, GOMEMLIMIT, GODEBUG and
// TRICOLOR_STOP_SIGNAL. A value that does not parse prints one line on stderr naming the variable
// and the value, and the default applies.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gc::detail {

inline constexpr std::int64_t kNoMemoryLimit = INT64_MAX;

struct Settings {
  int gc_percent = 100;                        // GOGC; negative: off
  std::int64_t memory_limit = kNoMemoryLimit;  // GOMEMLIMIT
  bool gctrace = false;                        // GODEBUG=gctrace=1
  bool gccheckmark = false;                    // GODEBUG=gccheckmark=1
  int gcstoptheworld = 0;                      // GODEBUG=gcstoptheworld=1|2
  bool gcpacertrace = false;                   // GODEBUG=gcpacertrace=1
  bool scavtrace = false;                      // GODEBUG=scavtrace=1
  int stop_signal = 0;                         // TRICOLOR_STOP_SIGNAL (default SIGURG)
};

// Parsed on first call.
const Settings& settings();

// Parsers, exposed for tests. Each returns nullopt for a value that does not parse.
std::optional<int> parse_gogc(std::string_view value);
std::optional<std::int64_t> parse_memory_limit(std::string_view value);
std::optional<int> parse_signal(std::string_view value);
// Applies a GODEBUG string to `s`; calls `complain(key, value)` for a known key with a bad value.
void apply_godebug(std::string_view value, Settings& s,
                   void (*complain)(std::string_view key, std::string_view value));

}  // namespace gc::detail
