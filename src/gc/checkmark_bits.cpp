#include "gc/checkmark_bits.hpp"

#include <atomic>

#include "base/check.hpp"
#include "base/os_memory.hpp"
#include "heap/address_space.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

// The table of the pass under way; null between passes. Written only by the thread that stopped
// the world, before and after the pass.
constinit std::atomic<std::uint64_t>* g_words = nullptr;
constinit std::size_t g_bytes = 0;
constinit std::uintptr_t g_lo = 0;
constinit std::uintptr_t g_hi = 0;

constexpr std::uintptr_t kWordBytes = 8;  // the alignment of every object's start

}  // namespace

CheckmarkBits::CheckmarkBits(const WorldStopped&) {
  TRICOLOR_CHECK(g_words == nullptr, "two passes with the world stopped share the checkmark bits");
  g_lo = g_heap.lo.load(std::memory_order_relaxed);
  g_hi = heap_frontier();
  const std::size_t words = (g_hi - g_lo) / kWordBytes / 64 + 1;
  g_bytes = os::round_to_os_pages(words * sizeof(std::uint64_t));
  auto* const table = static_cast<std::atomic<std::uint64_t>*>(os::map_metadata(g_bytes));
  if (table == nullptr)
    os::fatal("out of memory for the checkmark bits of a %zu-byte heap (%zu bytes)", g_hi - g_lo,
              g_bytes);
  g_words = table;
}

CheckmarkBits::~CheckmarkBits() {
  os::unmap_metadata(g_words, g_bytes);
  g_words = nullptr;
}

bool CheckmarkBits::try_set(std::uintptr_t base) {
  TRICOLOR_CHECK(g_words != nullptr && base >= g_lo && base < g_hi,
                 "the checkmark bit of %p, outside a stopped pass over [%p, %p)",
                 reinterpret_cast<void*>(base), reinterpret_cast<void*>(g_lo),
                 reinterpret_cast<void*>(g_hi));
  const std::uintptr_t index = (base - g_lo) / kWordBytes;
  std::atomic<std::uint64_t>& word = g_words[index / 64];
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  // A pass's marker runs alone (Marker::drain), so a plain read and write do.
  const std::uint64_t bits = word.load(std::memory_order_relaxed);
  if ((bits & bit) != 0) return false;
  word.store(bits | bit, std::memory_order_relaxed);
  return true;
}

}  // namespace gc::detail
