// Zeroes the stack just below the caller's frame; see clear_stack.hpp.
#include "runtime/clear_stack.hpp"

#include <cstring>

namespace gc::detail {

__attribute__((noinline)) void clear_stack() noexcept {
  char buffer[kClearedStackBytes];
  std::memset(buffer, 0, sizeof buffer);
  asm volatile("" : : "r"(buffer) : "memory");  // the stores are "read": they must happen
}

}  // namespace gc::detail
