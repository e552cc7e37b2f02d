// gc::collect() zeroes the dead stack below its caller before it collects
// (runtime/clear_stack.hpp): an address that a call which has returned left there does not keep its
// object alive.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "../support/support.hpp"

namespace {

using test::Tracked;

// The object's address, complemented, so that no scan reads it as a pointer.
std::uintptr_t g_hidden = 0;

// Fills 4 KiB of the stack below the caller with the object's address, then returns.
__attribute__((noinline)) void leave_address_below() {
  volatile std::uintptr_t words[512];
  for (std::size_t i = 0; i < 512; ++i) words[i] = ~g_hidden;
  asm volatile("" : : "r"(words) : "memory");
}

TEST(ClearStack, AnAddressLeftBelowTheCallerKeepsNothing) {
  test::in_thread([] { g_hidden = ~reinterpret_cast<std::uintptr_t>(gc::make<Tracked>(1).get()); });
  leave_address_below();
  gc::collect();
  EXPECT_EQ(Tracked::destroyed.load(), 1);
}

}  // namespace
