// ctest-env: GOGC=25
// The heap profile under concurrency: allocating threads take samples (inserting buckets and
// records) while collections sweep sampled objects (counting their frees through the specials
// table), a writer symbolises and writes profiles, and another thread changes the rate, all at
// once, for TSan to watch. Objects with destructors and constructors that throw take the other two
// ways out. How many samples the threads take depends on where the rate was at each one, so the
// end adds 1000 objects at rate 1; then, with every thread gone and two collections done, no
// bucket has more frees than allocations and (nearly) everything is freed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "gc/heap_profile.hpp"
#include "support/profile_reader.hpp"
#include "support/support.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Small {
  char bytes[48];
};
struct WithDestructor {
  std::vector<int> owned = std::vector<int>(4);
};
struct ThrowsSometimes {
  explicit ThrowsSometimes(int i) {
    if (i % 7 == 0) throw std::runtime_error("constructor threw");
  }
  char bytes[96];
};

__attribute__((noinline)) void site_small(std::vector<gc::ptr<Small>>& ring, std::size_t i) {
  ring[i % ring.size()] = gc::make<Small>();
}
__attribute__((noinline)) void site_array(std::size_t i) { gc::make<char[]>(64 + i % 4000); }
__attribute__((noinline)) void site_destructor() { gc::make<WithDestructor>(); }
__attribute__((noinline)) void site_throwing(int i) {
  try {
    gc::make<ThrowsSometimes>(i);
  } catch (const std::runtime_error&) {
  }
}

void allocate_until(Clock::time_point end) {
  std::vector<gc::ptr<Small>> ring(256);
  for (std::size_t i = 0; Clock::now() < end; ++i) {
    site_small(ring, i);
    site_array(i);
    if (i % 8 == 0) site_destructor();
    if (i % 16 == 0) site_throwing(static_cast<int>(i / 16));
  }
}

TEST(HeapProfileStress, SamplersSweepersWriterAndRateChanges) {
  gc::set_mem_profile_rate(256);
  const auto end = Clock::now() + std::chrono::milliseconds(1500);
  std::atomic<long> bad_profiles{0};
  std::atomic<long> profiles{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(allocate_until, end);
  threads.emplace_back([&] {
    while (Clock::now() < end) gc::collect();
  });
  threads.emplace_back([&] {
    while (Clock::now() < end) {
      std::ostringstream out;
      if (!gc::write_heap_profile(out) || !test::decode_profile(out.str()).ok) ++bad_profiles;
      ++profiles;
    }
  });
  threads.emplace_back([&] {
    const std::size_t rates[] = {1, 0, 4096, 256};
    for (std::size_t i = 0; Clock::now() < end; ++i) {
      gc::set_mem_profile_rate(rates[i % 4]);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad_profiles.load(), 0);
  EXPECT_GT(profiles.load(), 0);

  // Then at rate 1, on a fresh thread: 1000 objects that die, all of them sampled and freed.
  gc::set_mem_profile_rate(1);
  test::in_thread([] {
    for (int i = 0; i < 1000; ++i) gc::make<Small>();
  });
  test::collect_clean();
  test::collect_clean();
  std::uint64_t allocs = 0, frees = 0;
  for (const auto& e : gc::detail::heap_profile_snapshot()) {
    EXPECT_LE(e.counts.frees, e.counts.allocs);
    EXPECT_LE(e.counts.free_bytes, e.counts.alloc_bytes);
    allocs += e.counts.allocs;
    frees += e.counts.frees;
  }
  EXPECT_GE(allocs, 1000u);
  EXPECT_GE(frees, allocs - allocs / 100) << "allocs " << allocs;
}

}  // namespace
