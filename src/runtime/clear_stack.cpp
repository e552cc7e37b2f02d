// Zeroes the stack just below the caller's frame; see clear_stack.hpp.
#include "runtime/clear_stack.hpp"

#include <cstring>

namespace gc::detail {

// Not instrumented: AddressSanitizer would put redzones around the buffer, and their words, which
// the memset does not write, would keep whatever the dead frames under them left.
__attribute__((noinline, no_sanitize("address"))) void clear_stack() noexcept {
  char buffer[kClearedStackBytes];
  std::memset(buffer, 0, sizeof buffer);
  asm volatile("" : : "r"(buffer) : "memory");  // the stores are "read": they must happen
}

}  // namespace gc::detail
