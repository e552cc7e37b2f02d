// The mark holds of the test hooks (test_hooks.hpp); compiled only into the testing variant.
#include "gc/test_hooks.hpp"

#if TRICOLOR_TEST_HOOKS

#include "base/futex.hpp"

namespace gc::detail {

namespace {

std::atomic<std::uint32_t> g_hold{static_cast<std::uint32_t>(MarkHold::kNone)};
std::atomic<std::uint32_t> g_held{static_cast<std::uint32_t>(MarkHold::kNone)};

}  // namespace

void hold_point(MarkHold stage) {
  const auto value = static_cast<std::uint32_t>(stage);
  if (g_hold.load(std::memory_order_acquire) != value) return;
  g_held.store(value, std::memory_order_release);
  futex_wake_all(&g_held);
  while (g_hold.load(std::memory_order_acquire) == value) futex_wait(&g_hold, value, 1'000'000);
  g_held.store(static_cast<std::uint32_t>(MarkHold::kNone), std::memory_order_release);
}

bool hold_workers() {
  const std::uint32_t hold = g_hold.load(std::memory_order_acquire);
  if (hold == static_cast<std::uint32_t>(MarkHold::kNone)) return false;
  futex_wait(&g_hold, hold, 1'000'000);
  return true;
}

void set_mark_hold(MarkHold stage) {
  g_hold.store(static_cast<std::uint32_t>(stage), std::memory_order_release);
  futex_wake_all(&g_hold);
}

void wait_for_mark_hold(MarkHold stage) {
  const auto value = static_cast<std::uint32_t>(stage);
  for (;;) {
    const std::uint32_t held = g_held.load(std::memory_order_acquire);
    if (held == value) return;
    futex_wait(&g_held, held, 1'000'000);
  }
}

}  // namespace gc::detail

#endif  // TRICOLOR_TEST_HOOKS
