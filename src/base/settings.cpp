#include "base/settings.hpp"

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace gc::detail {

namespace {

void warn(const char* variable, std::string_view value, const char* expected,
          const char* default_text) {
  std::fprintf(stderr, "tricolor: %s=\"%.*s\" is not %s; using %s\n", variable,
               static_cast<int>(value.size()), value.data(), expected, default_text);
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Settings load() {
  Settings s;
  s.stop_signal = SIGURG;
  if (const char* v = std::getenv("GOGC"); v != nullptr && *v != '\0') {
    if (auto p = parse_gogc(v))
      s.gc_percent = *p;
    else
      warn("GOGC", v, "a number or \"off\"", "100");
  }
  if (const char* v = std::getenv("GOMEMLIMIT"); v != nullptr && *v != '\0') {
    if (auto p = parse_memory_limit(v))
      s.memory_limit = *p;
    else
      warn("GOMEMLIMIT", v, "a size such as 512MiB, 2GiB or a number of bytes", "no limit");
  }
  if (const char* v = std::getenv("GODEBUG"); v != nullptr && *v != '\0') {
    apply_godebug(v, s, [](std::string_view key, std::string_view value) {
      const std::string variable = "GODEBUG " + std::string(key);
      warn(variable.c_str(), value, key == "gcstoptheworld" ? "0, 1 or 2" : "0 or 1", "0");
    });
  }
  if (const char* v = std::getenv("TRICOLOR_STOP_SIGNAL"); v != nullptr && *v != '\0') {
    if (auto p = parse_signal(v))
      s.stop_signal = *p;
    else
      warn("TRICOLOR_STOP_SIGNAL", v, "a signal number or name such as SIGURG", "SIGURG");
  }
  return s;
}

}  // namespace

std::optional<int> parse_gogc(std::string_view value) {
  if (value == "off") return -1;
  auto n = parse_integer(value);
  if (!n || *n > 1'000'000'000 || *n < -1'000'000'000) return std::nullopt;
  return *n < 0 ? -1 : static_cast<int>(*n);
}

std::optional<std::int64_t> parse_memory_limit(std::string_view value) {
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
  auto n = parse_integer(value);
  if (!n || *n < 0) return std::nullopt;
  if (shift > 0 && *n > (INT64_MAX >> shift)) return kNoMemoryLimit;
  return *n << shift;
}

std::optional<int> parse_signal(std::string_view value) {
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"SIGURG", SIGURG}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
      {"SIGPWR", SIGPWR}, {"SIGXCPU", SIGXCPU}, {"SIGWINCH", SIGWINCH},
  };
  for (const auto& [name, number] : kNames)
    if (value == name || value == name.substr(3)) return number;
  auto n = parse_integer(value);
  if (!n || *n <= 0 || *n >= 65 || *n == SIGKILL || *n == SIGSTOP || *n == SIGSEGV || *n == SIGBUS)
    return std::nullopt;
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
    else if (key == "gcstoptheworld") {
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
