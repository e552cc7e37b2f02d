// Which allocations the heap profile samples (include/tricolor/profile.hpp), as Go's mallocgc and
// nextSample do.
//
// Each thread counts down the bytes it may still allocate before its next sample
// (MutatorState::bytes_until_sample; the inline count_for_sampling subtracts every allocation's
// size and calls sample_allocation once it goes below zero). After a sample the countdown is drawn
// again from an exponential distribution whose mean is the rate: the bytes allocated form a
// Poisson process, so every byte has the same chance to be the one sampled whatever the sizes and
// their order, and an object of s bytes is sampled with probability 1 - exp(-s/rate), which is
// what the writer divides by. Rate 1 draws 0: every allocation is sampled. Rate 0 (off) sets the
// countdown to kOffCountdown (1 MiB), so a thread looks at the rate again after that many bytes:
// one call per MiB allocated costs nothing measurable, and profiling turned back on reaches it.
//
// A rate change bumps g_rate_epoch (after storing the rate, with release); a thread whose epoch is
// stale, or that never sampled, draws a fresh countdown at the current rate and counts the
// allocation in hand against it before deciding. So the calling thread applies a new rate from its
// next allocation, the others at their next sample, as in Go.
#include <atomic>
#include <cmath>
#include <cstdint>

#include "base/clock.hpp"
#include "base/settings.hpp"
#include "gc/heap_profile.hpp"
#include "gc/stack_unwind.hpp"
#include "tricolor/detail/alloc.hpp"
#include "tricolor/profile.hpp"

namespace gc::detail {

namespace {

constexpr std::int64_t kOffCountdown = std::int64_t{1} << 20;
constexpr std::int64_t kRateUnset = -1;

constinit std::atomic<std::int64_t> g_rate{kRateUnset};  // bytes; unset until first read
constinit std::atomic<std::uint32_t> g_rate_epoch{1};
thread_local std::uint32_t t_rate_epoch = 0;
thread_local std::uint64_t t_random_state = 0;

std::int64_t current_rate() {
  std::int64_t rate = g_rate.load(std::memory_order_acquire);
  if (rate != kRateUnset) return rate;
  std::int64_t expected = kRateUnset;
  const std::int64_t from_environment = settings().mem_profile_rate;
  g_rate.compare_exchange_strong(expected, from_environment, std::memory_order_acq_rel);
  return g_rate.load(std::memory_order_acquire);
}

// splitmix64: a thread's stream, seeded from the clock and the thread's own address.
std::uint64_t next_random() {
  if (t_random_state == 0)
    t_random_state = static_cast<std::uint64_t>(now_ns()) ^
                     reinterpret_cast<std::uintptr_t>(&t_random_state) ^ 0x9E3779B97F4A7C15ull;
  std::uint64_t z = (t_random_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Bytes until the next sample: exponentially distributed with mean `rate`.
std::int64_t draw_countdown(std::int64_t rate) {
  if (rate == 0) return kOffCountdown;
  if (rate == 1) return 0;
  // u in (0, 1]: -log(u) is exponential with mean 1.
  const double u = static_cast<double>((next_random() >> 11) + 1) * 0x1.0p-53;
  const double bytes = -std::log(u) * static_cast<double>(rate);
  return bytes >= 0x1.0p62 ? std::int64_t{1} << 62 : static_cast<std::int64_t>(bytes);
}

__attribute__((noinline)) void take_sample(void* object, std::size_t size, std::uintptr_t first) {
  std::uintptr_t stack[kMaxProfileDepth];
  const std::size_t depth = capture_stack(first, stack);
  record_heap_sample(object, size, stack, depth);
}

}  // namespace

__attribute__((noinline)) void* sample_allocation(void* object, std::size_t size) {
  MutatorState& m = t_mutator;
  const auto bytes = static_cast<std::int64_t>(size);
  const std::uint32_t epoch = g_rate_epoch.load(std::memory_order_acquire);
  const std::int64_t rate = current_rate();
  if (t_rate_epoch != epoch) {
    t_rate_epoch = epoch;
    m.bytes_until_sample = draw_countdown(rate) - bytes;
    if (m.bytes_until_sample >= 0) return object;
  }
  m.bytes_until_sample = draw_countdown(rate);
  if (rate == 0) return object;
  take_sample(object, size, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  return object;
}

}  // namespace gc::detail

namespace gc {

std::size_t set_mem_profile_rate(std::size_t bytes) {
  const auto rate = static_cast<std::int64_t>(
      bytes > static_cast<std::size_t>(INT64_MAX) ? static_cast<std::size_t>(INT64_MAX) : bytes);
  detail::current_rate();  // the environment's rate, if nothing was set yet
  const std::int64_t previous = detail::g_rate.exchange(rate, std::memory_order_acq_rel);
  detail::g_rate_epoch.fetch_add(1, std::memory_order_acq_rel);
  return static_cast<std::size_t>(previous);
}

std::size_t mem_profile_rate() { return static_cast<std::size_t>(detail::current_rate()); }

}  // namespace gc
