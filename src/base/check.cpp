#include "base/check.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace gc::detail {

void check_failed(const char* file, int line, const char* condition, const char* format, ...) {
  // A stack buffer and write(2): no malloc, no stdio lock (the check may fire with the world
  // stopped, or inside a critical section).
  char message[512];
  std::va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  char out[1024];
  const int n = std::snprintf(out, sizeof out, "tricolor: check failed at %s:%d: %s: %s\n", file,
                              line, condition, message);
  if (n > 0) {
    const auto len =
        static_cast<std::size_t>(n) < sizeof out ? static_cast<std::size_t>(n) : sizeof out - 1;
    [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, out, len);
  }
  std::abort();
}

}  // namespace gc::detail
