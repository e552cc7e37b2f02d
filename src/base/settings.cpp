#include "base/settings.hpp"

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace gc::detail {

namespace {

// One line: what is wrong with the value, and what applies instead.
void warn(const char* variable, std::string_view value, const char* problem,
          const char* default_text) {
  std::fprintf(stderr, "tricolor: %s=\"%.*s\" %s; using %s\n", variable,
               static_cast<int>(value.size()), value.data(), problem, default_text);
}

void refuse(Refusal* why, Refusal reason) {
  if (why != nullptr) *why = reason;
}

// The whole text as a decimal integer. Digits that overflow 64 bits are kTooLarge, whatever their
// sign: the callers decide what a huge negative number means.
std::optional<std::int64_t> parse_integer(std::string_view text, Refusal* why = nullptr) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() ||
      (error != std::errc() && error != std::errc::result_out_of_range)) {
    refuse(why, Refusal::kMalformed);
    return std::nullopt;
  }
  if (error == std::errc::result_out_of_range) {
    refuse(why, Refusal::kTooLarge);
    return std::nullopt;
  }
  return value;
}

Settings load() {
  Settings s;
  s.stop_signal = SIGURG;
  Refusal why = Refusal::kMalformed;
  if (const char* v = std::getenv("GOGC"); v != nullptr && *v != '\0') {
    if (auto p = parse_gogc(v, &why)) {
      s.gc_percent = *p;
    } else if (why == Refusal::kTooLarge) {
      char problem[64];
      std::snprintf(problem, sizeof problem, "is too large (at most %lld)",
                    static_cast<long long>(kMaxGcPercent));
      warn("GOGC", v, problem, "100");
    } else {
      warn("GOGC", v, "is not a number or \"off\"", "100");
    }
  }
  if (const char* v = std::getenv("GOMEMLIMIT"); v != nullptr && *v != '\0') {
    if (auto p = parse_memory_limit(v, &why))
      s.memory_limit = *p;
    else if (why == Refusal::kTooLarge)
      warn("GOMEMLIMIT", v, "is too large (more than 2^63-1 bytes)", "no limit");
    else
      warn("GOMEMLIMIT", v, "is not a size such as 512MiB, 2GiB or a number of bytes", "no limit");
  }
  if (const char* v = std::getenv("GODEBUG"); v != nullptr && *v != '\0') {
    apply_godebug(v, s, [](std::string_view key, std::string_view value) {
      const std::string variable = "GODEBUG " + std::string(key);
      if (key == "memprofilerate")
        warn(variable.c_str(), value, "is not a number of bytes (0 or more)", "524288");
      else
        warn(variable.c_str(), value,
             key == "gcstoptheworld" ? "is not 0, 1 or 2" : "is not 0 or 1", "0");
    });
  }
  if (const char* v = std::getenv("TRICOLOR_STOP_SIGNAL"); v != nullptr && *v != '\0') {
    if (auto p = parse_signal(v, &why)) {
      s.stop_signal = *p;
    } else if (why == Refusal::kUnusable) {
      // The real-time range is the C library's to say (SIGRTMIN is a function call in glibc).
      char kept[40] = "";
      if (SIGRTMIN > 32)
        std::snprintf(kept, sizeof kept, "; 32-%d are the C library's", SIGRTMIN - 1);
      char problem[200];
      std::snprintf(problem, sizeof problem,
                    "is not a signal the collector can use (1-31 but for SIGKILL, SIGSTOP and "
                    "fault signals, or %d-%d%s)",
                    SIGRTMIN, SIGRTMAX, kept);
      warn("TRICOLOR_STOP_SIGNAL", v, problem, "SIGURG");
    } else {
      warn("TRICOLOR_STOP_SIGNAL", v, "is not a signal number or name such as SIGURG", "SIGURG");
    }
  }
  return s;
}

}  // namespace

std::optional<int> parse_gogc(std::string_view value, Refusal* why) {
  if (value == "off") return -1;
  Refusal integer_why = Refusal::kMalformed;
  auto n = parse_integer(value, &integer_why);
  // Any negative number turns the collector off, one beyond 64 bits too.
  if (!n && integer_why == Refusal::kTooLarge && value.front() == '-') return -1;
  if (!n) {
    refuse(why, integer_why);
    return std::nullopt;
  }
  if (*n > kMaxGcPercent) {
    refuse(why, Refusal::kTooLarge);
    return std::nullopt;
  }
  return *n < 0 ? -1 : static_cast<int>(*n);
}

std::optional<std::int64_t> parse_memory_limit(std::string_view value, Refusal* why) {
  if (value == "off") return kNoMemoryLimit;
  struct Suffix {
    std::string_view text;
    int shift;
  };
  static constexpr Suffix kSuffixes[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}};
  int shift = 0;
  for (const Suffix& suffix : kSuffixes) {
    if (value.size() > suffix.text.size() && value.ends_with(suffix.text)) {
      value.remove_suffix(suffix.text.size());
      shift = suffix.shift;
      break;
    }
  }
  Refusal integer_why = Refusal::kMalformed;
  auto n = parse_integer(value, &integer_why);
  if (!n && integer_why == Refusal::kTooLarge && value.front() != '-') {
    refuse(why, Refusal::kTooLarge);
    return std::nullopt;
  }
  if (!n || *n < 0) {
    refuse(why, Refusal::kMalformed);
    return std::nullopt;
  }
  // The largest limit is 2^63-1 bytes, which means no limit (Go's default, math.MaxInt64). A
  // larger one is refused, not taken as "no limit": a typo must not remove a limit silently.
  if (*n > (INT64_MAX >> shift)) {
    refuse(why, Refusal::kTooLarge);
    return std::nullopt;
  }
  return *n << shift;
}

bool usable_stop_signal(long signal) {
  switch (signal) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
    case SIGABRT:
      return false;
    default:
      return (signal >= 1 && signal <= 31) || (signal >= SIGRTMIN && signal <= SIGRTMAX);
  }
}

std::optional<int> parse_signal(std::string_view value, Refusal* why) {
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"SIGURG", SIGURG}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
      {"SIGPWR", SIGPWR}, {"SIGXCPU", SIGXCPU}, {"SIGWINCH", SIGWINCH},
  };
  for (const auto& [name, number] : kNames)
    if (value == name || value == name.substr(3)) return number;
  Refusal integer_why = Refusal::kMalformed;
  auto n = parse_integer(value, &integer_why);
  if (!n && integer_why == Refusal::kMalformed) {
    refuse(why, Refusal::kMalformed);
    return std::nullopt;
  }
  if (!n || !usable_stop_signal(*n)) {  // a number, but not a signal we can use
    refuse(why, Refusal::kUnusable);
    return std::nullopt;
  }
  return static_cast<int>(*n);
}

void apply_godebug(std::string_view value, Settings& s,
                   void (*complain)(std::string_view key, std::string_view value)) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, eq);
    const std::string_view text = item.substr(eq + 1);
    const auto n = parse_integer(text);
    auto flag = [&](bool& field) {
      if (n && (*n == 0 || *n == 1))
        field = *n == 1;
      else
        complain(key, text);
    };
    // Unknown keys are ignored, as Go ignores settings it does not know.
    if (key == "gctrace")
      flag(s.gctrace);
    else if (key == "gccheckmark")
      flag(s.gccheckmark);
    else if (key == "gcpacertrace")
      flag(s.gcpacertrace);
    else if (key == "scavtrace")
      flag(s.scavtrace);
    else if (key == "memprofilerate") {
      if (n && *n >= 0)
        s.mem_profile_rate = *n;
      else
        complain(key, text);
    } else if (key == "gcstoptheworld") {
      if (n && *n >= 0 && *n <= 2)
        s.gcstoptheworld = static_cast<int>(*n);
      else
        complain(key, text);
    }
  }
}

const Settings& settings() {
  static const Settings* loaded = new Settings(load());
  return *loaded;
}

}  // namespace gc::detail
