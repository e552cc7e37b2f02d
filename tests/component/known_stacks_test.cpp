// The known stacks' table alone (src/runtime/known_stacks.hpp): ranges added, found and forgotten,
// overlaps refused, the sorted array grown past its first capacities; and the seqlock under
// pressure: readers that look up addresses while writers insert and remove ranges around them (each
// edit shifts entries, and some grow the array) must never miss a range that stays known, and never
// find an address that no range ever held. The ranges are made-up addresses far from any real
// stack (the table only compares them); every test forgets what it added.
#include "runtime/known_stacks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

using gc::detail::add_known_stack;
using gc::detail::on_known_stack;
using gc::detail::remove_known_stack;

constexpr std::uintptr_t kBase = 0x100000000000;  // 16 TiB: no thread's stack lies here
constexpr std::uintptr_t kStride = 0x10000;       // one slot per range, 64 KiB apart
constexpr std::uintptr_t kSize = 0x8000;          // each range fills half its slot

std::uintptr_t slot_lo(std::size_t i) { return kBase + i * kStride; }

TEST(KnownStacks, AddsFindsAndForgetsARange) {
  const std::uintptr_t lo = slot_lo(0), hi = lo + kSize;
  EXPECT_FALSE(on_known_stack(lo));
  ASSERT_TRUE(add_known_stack(lo, hi));
  EXPECT_TRUE(on_known_stack(lo));
  EXPECT_TRUE(on_known_stack(hi - 1));
  EXPECT_FALSE(on_known_stack(hi));
  EXPECT_FALSE(on_known_stack(lo - 1));
  remove_known_stack(lo, hi);
  EXPECT_FALSE(on_known_stack(lo));
}

TEST(KnownStacks, RefusesAnOverlap) {
  const std::uintptr_t lo = slot_lo(1), hi = lo + kSize;
  ASSERT_TRUE(add_known_stack(lo, hi));
  EXPECT_FALSE(add_known_stack(lo - 0x100, lo + 0x100));  // over its start
  EXPECT_FALSE(add_known_stack(hi - 0x100, hi + 0x100));  // over its end
  EXPECT_FALSE(add_known_stack(lo + 0x100, hi - 0x100));  // inside
  EXPECT_FALSE(add_known_stack(lo - 0x100, hi + 0x100));  // around
  EXPECT_TRUE(add_known_stack(hi, hi + 0x100));           // touching is not overlapping
  remove_known_stack(hi, hi + 0x100);
  remove_known_stack(lo, hi);
  EXPECT_FALSE(on_known_stack(lo));
}

// 1,500 ranges added in a random order grow the array past 256 and 512 and 1,024 entries; the
// order stays sorted through the growth and through removals from the middle.
TEST(KnownStacks, StaysSortedThroughGrowthAndRemoval) {
  constexpr std::size_t kRanges = 1500;
  std::vector<std::size_t> order(kRanges);
  for (std::size_t i = 0; i < kRanges; ++i) order[i] = i;
  std::mt19937 random(7);
  std::shuffle(order.begin(), order.end(), random);
  for (std::size_t i : order) ASSERT_TRUE(add_known_stack(slot_lo(i), slot_lo(i) + kSize));
  for (std::size_t i = 0; i < kRanges; ++i) {
    ASSERT_TRUE(on_known_stack(slot_lo(i) + kSize / 2)) << i;
    ASSERT_FALSE(on_known_stack(slot_lo(i) + kSize)) << i;  // the gap after it
  }
  for (std::size_t i = 0; i < kRanges; i += 2) remove_known_stack(slot_lo(i), slot_lo(i) + kSize);
  for (std::size_t i = 0; i < kRanges; ++i) ASSERT_EQ(on_known_stack(slot_lo(i)), i % 2 == 1) << i;
  for (std::size_t i = 1; i < kRanges; i += 2) remove_known_stack(slot_lo(i), slot_lo(i) + kSize);
}

// Stable ranges sit in every fourth slot; two writers insert and remove ranges in the slots
// between (each insertion or removal shifts the stable entries above it, and the first burst grows
// the array) while two readers look up stable addresses, which must always be found, and addresses
// in the gaps no range ever covers, which never may.
TEST(KnownStacks, ReadersNeverMissAStableRangeWhileWritersEdit) {
  constexpr std::size_t kSlots = 2048;
  for (std::size_t i = 0; i < kSlots; i += 4)
    ASSERT_TRUE(add_known_stack(slot_lo(i), slot_lo(i) + kSize));

  std::atomic<bool> stop{false};
  std::atomic<long> missed{0}, phantom{0}, lookups{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      // Writer w owns the slots i % 4 == 1 + 2 * w: adds them all, then removes them all, for half
      // a second.
      std::vector<std::size_t> mine;
      for (std::size_t i = 1 + 2 * w; i < kSlots; i += 4) mine.push_back(i);
      std::mt19937 random(w);
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      while (std::chrono::steady_clock::now() < until) {
        std::shuffle(mine.begin(), mine.end(), random);
        for (std::size_t i : mine) add_known_stack(slot_lo(i), slot_lo(i) + kSize);
        for (std::size_t i : mine) remove_known_stack(slot_lo(i), slot_lo(i) + kSize);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 random(100 + r);
      std::uniform_int_distribution<std::size_t> slot(0, kSlots / 4 - 1);
      std::uniform_int_distribution<std::uintptr_t> offset(0, kSize - 1);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uintptr_t stable = slot_lo(4 * slot(random)) + offset(random);
        if (!on_known_stack(stable)) missed.fetch_add(1);
        const std::uintptr_t gap = slot_lo(4 * slot(random) + 1) + kSize + offset(random);
        if (on_known_stack(gap)) phantom.fetch_add(1);
        ++n;
      }
      lookups.fetch_add(n);
    });
  }
  threads[0].join();
  threads[1].join();
  stop.store(true);
  threads[2].join();
  threads[3].join();
  EXPECT_GT(lookups.load(), 0);
  EXPECT_EQ(missed.load(), 0) << "of " << lookups.load() << " lookups";
  EXPECT_EQ(phantom.load(), 0) << "of " << lookups.load() << " lookups";
  for (std::size_t i = 0; i < kSlots; i += 4) remove_known_stack(slot_lo(i), slot_lo(i) + kSize);
}

}  // namespace
