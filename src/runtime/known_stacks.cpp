// The known stacks' table (known_stacks.hpp says what it is for and how it is read).
#include "runtime/known_stacks.hpp"

#include <atomic>
#include <cstddef>

#include "base/check.hpp"
#include "base/mutex.hpp"
#include "base/os_memory.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

struct Range {
  std::atomic<std::uintptr_t> lo;
  std::atomic<std::uintptr_t> hi;
};

constinit Mutex g_writers{LockRank::kLeaf};
constinit std::atomic<std::uint64_t> g_sequence{0};  // odd while a writer edits
constinit std::atomic<Range*> g_ranges{nullptr};
constinit std::atomic<std::size_t> g_count{0};
std::size_t g_capacity = 0;  // writers only

// The first index whose range starts above `address`.
std::size_t upper_bound(const Range* ranges, std::size_t count, std::uintptr_t address) {
  std::size_t lo = 0, hi = count;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (ranges[mid].lo.load(std::memory_order_acquire) <= address)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void begin_write() { g_sequence.fetch_add(1, std::memory_order_acq_rel); }
void end_write() { g_sequence.fetch_add(1, std::memory_order_release); }

void copy_range(Range& to, const Range& from) {
  to.lo.store(from.lo.load(std::memory_order_relaxed), std::memory_order_release);
  to.hi.store(from.hi.load(std::memory_order_relaxed), std::memory_order_release);
}

}  // namespace

bool add_known_stack(std::uintptr_t lo, std::uintptr_t hi) {
  TRICOLOR_CHECK(lo < hi, "an empty stack range [%#lx, %#lx)", static_cast<unsigned long>(lo),
                 static_cast<unsigned long>(hi));
  // A writer stopped in the middle of an edit would leave readers spinning, and a reader inside a
  // critical section would hold up the stop: no stop lands inside an edit.
  CriticalSection critical;
  MutexLock lock(g_writers);
  Range* ranges = g_ranges.load(std::memory_order_relaxed);
  const std::size_t count = g_count.load(std::memory_order_relaxed);
  if (count == g_capacity) {
    // A new, larger array, filled before it is published; the old one stays mapped for readers.
    const std::size_t capacity = g_capacity == 0 ? 256 : g_capacity * 2;
    auto* grown = static_cast<Range*>(os::map_table(capacity * sizeof(Range)));
    if (grown == nullptr) os::fatal("out of memory for the table of stacks");
    for (std::size_t i = 0; i < count; ++i) copy_range(grown[i], ranges[i]);
    g_ranges.store(grown, std::memory_order_release);
    g_capacity = capacity;
    ranges = grown;
  }
  const std::size_t at = upper_bound(ranges, count, lo);
  if (at > 0 && ranges[at - 1].hi.load(std::memory_order_relaxed) > lo) return false;
  if (at < count && ranges[at].lo.load(std::memory_order_relaxed) < hi) return false;
  begin_write();
  for (std::size_t i = count; i > at; --i) copy_range(ranges[i], ranges[i - 1]);
  ranges[at].lo.store(lo, std::memory_order_release);
  ranges[at].hi.store(hi, std::memory_order_release);
  // Release: a reader that sees the new count sees the array that holds it.
  g_count.store(count + 1, std::memory_order_release);
  end_write();
  return true;
}

void remove_known_stack(std::uintptr_t lo, std::uintptr_t hi) {
  CriticalSection critical;
  MutexLock lock(g_writers);
  Range* ranges = g_ranges.load(std::memory_order_relaxed);
  const std::size_t count = g_count.load(std::memory_order_relaxed);
  const std::size_t at = upper_bound(ranges, count, lo);
  TRICOLOR_CHECK(at > 0 && ranges[at - 1].lo.load(std::memory_order_relaxed) == lo &&
                     ranges[at - 1].hi.load(std::memory_order_relaxed) == hi,
                 "forgetting the stack [%#lx, %#lx), which is not known",
                 static_cast<unsigned long>(lo), static_cast<unsigned long>(hi));
  begin_write();
  for (std::size_t i = at - 1; i + 1 < count; ++i) copy_range(ranges[i], ranges[i + 1]);
  g_count.store(count - 1, std::memory_order_release);
  end_write();
}

bool on_known_stack(std::uintptr_t address) {
  for (;;) {
    const std::uint64_t before = g_sequence.load(std::memory_order_acquire);
    if (before % 2 == 1) continue;  // a writer is editing: its edit takes a few hundred ns
    // The count first: the array it was counted in is published before it, so `ranges` holds at
    // least `count` entries even when a writer grows the table meanwhile.
    const std::size_t count = g_count.load(std::memory_order_acquire);
    const Range* ranges = g_ranges.load(std::memory_order_acquire);
    const std::size_t at = ranges == nullptr ? 0 : upper_bound(ranges, count, address);
    const bool found = at > 0 && address < ranges[at - 1].hi.load(std::memory_order_acquire);
    // Entries are stored with release and loaded with acquire (free on x86): a reader that sees
    // any entry a writer stored also sees the writer's odd counter, and retries.
    if (g_sequence.load(std::memory_order_relaxed) == before) return found;
  }
}

}  // namespace gc::detail
