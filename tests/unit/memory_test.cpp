// ctest-env: GODEBUG=scavtrace=1
// Returning memory and keeping to a memory limit: the scavenger gives idle pages back after the
// heap shrinks, GOGC=off with a limit keeps the memory the heap retains near the limit and the
// whole process's resident memory under it (the limit counts the collector's bookkeeping too), an
// impossible limit gives way (the CPU limiter) instead of collecting back to back, and scavtrace
// reports it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "../support/sanitizers.hpp"
#include "gc/pacer.hpp"
#include "tricolor/detail/span.hpp"

namespace {

constexpr std::uint64_t kTag = 0x5CA7E5CA7E5CA7E5ull;

// The tag checks that no page under a live object was released: released pages read as zero.
struct Node {
  gc::ptr<Node> next;
  std::uint64_t tag = kTag;
  char payload[232];
};

bool all_intact(const std::vector<gc::ptr<Node>>& nodes) {
  for (const auto& n : nodes)
    if (n->tag != kTag) return false;
  return true;
}

std::int64_t retained_bytes() {
  const gc::stats s = gc::read_stats();
  return static_cast<std::int64_t>(s.heap_sys - s.heap_released);
}

// What the memory limit counts: everything the library holds from the OS and has not given back.
std::int64_t limit_counted_bytes() {
  const gc::stats s = gc::read_stats();
  return static_cast<std::int64_t>(s.sys - s.heap_released);
}

// The most resident memory the process has had (VmHWM), from /proc.
std::int64_t peak_rss_bytes() {
  long kib = 0;
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  if (f != nullptr) std::fclose(f);
  return std::int64_t{kib} * 1024;
}

// Resident memory of the whole process, from /proc.
std::int64_t rss_bytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr || std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  if (f != nullptr) std::fclose(f);
  return resident * 4096;
}

__attribute__((noinline)) void hold_and_drop(std::size_t nodes) {
  std::vector<gc::ptr<Node>> held(nodes);
  for (auto& p : held) p = gc::make<Node>();
}

TEST(Scavenger, GivesIdlePagesBackAfterTheHeapShrinks) {
  // Under TSan about half of the dropped heap was still in use after the two collections (not yet
  // understood), and the wait takes 40 s: the other builds run this test.
  if (test::kThreadSanitizer) GTEST_SKIP() << "not meaningful under ThreadSanitizer yet";
  hold_and_drop(600'000);  // about 150 MiB
  const std::int64_t peak = retained_bytes();
  gc::collect();
  gc::collect();  // the goal follows the now small live heap
  // No free_os_memory(): the background scavenger returns the idle pages, at its own pace (about
  // 1% of a CPU: 15 to 30 s for these 73 MiB on an idle 2-core machine, longer when it is loaded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (retained_bytes() > peak / 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const gc::stats s = gc::read_stats();
  std::printf("retained %lld MiB at the peak, %lld MiB now; %llu MiB released\n",
              static_cast<long long>(peak >> 20), static_cast<long long>(retained_bytes() >> 20),
              static_cast<unsigned long long>(s.heap_released >> 20));
  EXPECT_LE(retained_bytes(), peak / 2);
  EXPECT_GE(s.heap_released, static_cast<std::uint64_t>(peak / 2));
}

TEST(Scavenger, FreeOsMemoryBringsResidentMemoryDown) {
  const std::int64_t before = rss_bytes();
  hold_and_drop(600'000);
  const std::int64_t peak = rss_bytes();
  gc::free_os_memory();
  const std::int64_t after = rss_bytes();
  std::printf("RSS %lld MiB before, %lld MiB at the peak, %lld MiB after free_os_memory\n",
              static_cast<long long>(before >> 20), static_cast<long long>(peak >> 20),
              static_cast<long long>(after >> 20));
  // The heap gives back every idle page; what stays is bookkeeping kept for reuse (span
  // descriptors, destructor tables, zombie batches, root tables), about a quarter of the peak.
  EXPECT_LT(retained_bytes(), std::int64_t{1} << 20);
  // The sanitizers' shadow memory follows the heap's pages up but not back down.
  if (!test::kAddressSanitizer && !test::kThreadSanitizer) {
    EXPECT_LT(after - before, (peak - before) / 2);
  }
}

TEST(MemoryLimit, GogcOffKeepsRetainedMemoryNearTheLimit) {
  constexpr std::int64_t kLimit = std::int64_t{64} << 20;
  gc::set_percent(-1);
  gc::set_memory_limit(kLimit);
  std::vector<gc::ptr<Node>> live(60'000);  // about 16 MiB live, well under the limit
  for (auto& p : live) p = gc::make<Node>();
  const std::int64_t rss_start = rss_bytes();
  std::int64_t most_retained = 0;
  std::int64_t most_rss = 0;
  unsigned r = 1;
  for (int i = 0; i < 4'000'000; ++i) {  // about 1 GiB allocated
    r = r * 1103515245u + 12345u;
    live[(r >> 8) % live.size()] = gc::make<Node>();
    if (i % 100'000 == 0) {
      most_retained = std::max(most_retained, retained_bytes());
      most_rss = std::max(most_rss, rss_bytes());
    }
  }
  const gc::stats s = gc::read_stats();
  std::printf("%llu cycles; retained at most %lld MiB; RSS from %lld to at most %lld MiB\n",
              static_cast<unsigned long long>(s.num_gc),
              static_cast<long long>(most_retained >> 20), static_cast<long long>(rss_start >> 20),
              static_cast<long long>(most_rss >> 20));
  EXPECT_GE(s.num_gc, 10u);  // GOGC=off alone would never collect
  EXPECT_TRUE(all_intact(live));
  // Span-granular accounting, the 1 MiB growth step and the concurrent mark leave slack: objects
  // allocated while marking take fresh pages (nothing is swept during a mark), and this cycle's
  // garbage holds its pages until the sweep after it. Since the limit counts the bookkeeping too
  // (17-19 MiB of it here: descriptors, destructor tables, zombie batches), the heap retains at
  // most 51-55 MiB (67-75 MiB, once 82 MiB, when only the heap counted). GOGC=off alone would
  // retain the whole gibibyte.
  EXPECT_LE(most_retained, kLimit + kLimit / 2);
  // The sanitizers' own memory (shadow, quarantine) is not the heap's. RSS also counts what the
  // sweep has not reached yet: 50-53 MiB over the start on a loaded machine (72-75 MiB standalone,
  // 96 MiB once under a loaded CI run, when the limit counted the heap alone).
  if (!test::kAddressSanitizer && !test::kThreadSanitizer) {
    EXPECT_LE(most_rss - rss_start, 2 * kLimit);
  }
}

// The limit counts what the library maps for itself as it counts the heap: a heap of 256-byte
// objects needs a span descriptor per span (its objects, all of one type, need no destructor
// table: the span's own destructor and a bit per slot do), and the share of the span table and
// pointer bitmap that covers it. What the limit counts grows as resident memory does.
TEST(MemoryLimit, TheLimitCountsTheCollectorsBookkeeping) {
  constexpr std::size_t kNodes = 600'000;  // about 150 MiB
  constexpr std::size_t kObjectsPerSpan =
      gc::detail::kClassToObjects[gc::detail::size_to_class(sizeof(Node))];
  const gc::stats before = gc::read_stats();
  const std::int64_t rss_before = rss_bytes();
  auto nodes = gc::make<gc::ptr<Node>[]>(kNodes);  // in the heap: malloc memory is not counted
  for (std::size_t i = 0; i < kNodes; ++i) nodes[i] = gc::make<Node>();
  const gc::stats after = gc::read_stats();
  const std::int64_t rss_growth = rss_bytes() - rss_before;
  const auto counted = [](const gc::stats& s) {
    return static_cast<std::int64_t>(s.sys - s.heap_released);
  };
  const std::int64_t counted_growth = counted(after) - counted(before);
  std::printf(
      "bookkeeping %.1f MiB -> %.1f MiB; the limit counted %.1f MiB more, RSS grew %.1f MiB\n",
      static_cast<double>(before.metadata_sys) / (1 << 20),
      static_cast<double>(after.metadata_sys) / (1 << 20),
      static_cast<double>(counted_growth) / (1 << 20), static_cast<double>(rss_growth) / (1 << 20));
  EXPECT_EQ(after.sys, after.heap_sys + after.metadata_sys);
  EXPECT_GE(after.metadata_sys - before.metadata_sys,
            kNodes / kObjectsPerSpan * sizeof(gc::detail::Span));
  // Within a twentieth: a large bookkeeping structure left out shows. The span descriptors, sized
  // by their spans, are about 3% of it now, under that bound: the check above covers them. The
  // sanitizers' shadow memory grows with the heap.
  if (!test::kAddressSanitizer && !test::kThreadSanitizer) {
    EXPECT_NEAR(static_cast<double>(rss_growth), static_cast<double>(counted_growth),
                static_cast<double>(counted_growth) / 20);
  }
  std::size_t bad = 0;
  for (std::size_t i = 0; i < kNodes; ++i) bad += nodes[i]->tag != kTag;
  EXPECT_EQ(bad, 0u);
}

// A 1016-byte buffer, noscan, in the 1024-byte size class: Go's [1016]byte.
struct Block {
  unsigned char data[1016];
};

// Go's program for the same test (bench/go/memory_limit): GOGC=off, GOMEMLIMIT=256MiB, a ring of
// 100 MiB of 1016-byte blocks, 4 GiB allocated, slots replaced in turn. Go 1.19 peaks at 251 MiB of
// RSS with 36 cycles. Before the limit counted the collector's own memory, tricolor peaked at
// 290 MiB: the heap alone filled the limit, and the 32,768 span descriptors (28 MiB) and the tables
// came on top. The whole process must stay under the limit: the binary, the C library and the
// test's own memory fit in the headroom, as they do in Go's.
TEST(MemoryLimit, ResidentMemoryStaysUnderTheLimitWithGogcOffAndARingOfBlocks) {
  constexpr std::int64_t kLimit = std::int64_t{256} << 20;
  constexpr std::size_t kRing = (std::size_t{100} << 20) / 1024;
  // Under the sanitizers the run is a quarter as long, and resident memory holds their shadow and
  // quarantine: there the library's own count is checked, not the process's.
  constexpr bool kSanitized = test::kAddressSanitizer || test::kThreadSanitizer;
  constexpr std::size_t kAllocations = (std::size_t{4} << 30) / 1016 / (kSanitized ? 4 : 1);
  gc::set_percent(-1);
  gc::set_memory_limit(kLimit);
  auto ring = gc::make<gc::ptr<Block>[]>(kRing);
  std::int64_t most_counted = 0;
  for (std::size_t i = 0; i < kAllocations; ++i) {
    gc::ptr<Block> b = gc::make<Block>();
    b->data[0] = static_cast<unsigned char>(i);
    b->data[1015] = static_cast<unsigned char>(i / 256);
    ring[i % kRing] = std::move(b);
    if (i % 65'536 == 0) most_counted = std::max(most_counted, limit_counted_bytes());
  }
  const std::int64_t peak = peak_rss_bytes();
  const gc::stats s = gc::read_stats();
  std::printf(
      "%llu cycles; peak RSS %.1f MiB; the limit counted at most %.1f MiB, of which the "
      "bookkeeping %.1f MiB at the end\n",
      static_cast<unsigned long long>(s.num_gc), static_cast<double>(peak) / (1 << 20),
      static_cast<double>(most_counted) / (1 << 20),
      static_cast<double>(s.metadata_sys) / (1 << 20));
  std::size_t bad = 0;
  for (std::size_t j = 0; j < kRing; ++j) {
    const std::size_t last = (kAllocations - 1 - j) / kRing * kRing + j;  // the slot's last block
    if (ring[j]->data[0] != static_cast<unsigned char>(last) ||
        ring[j]->data[1015] != static_cast<unsigned char>(last / 256))
      ++bad;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(s.metadata_sys, 0u);
  EXPECT_LE(most_counted, kLimit);
  if (!kSanitized) {
    EXPECT_LE(peak, kLimit);
  }
  // GOGC=off alone never collects; a goal that collapsed to the live heap would collect hundreds
  // of times (Go: 36).
  EXPECT_GE(s.num_gc, kSanitized ? 5u : 20u);
  EXPECT_LE(s.num_gc, kSanitized ? 40u : 80u);
}

TEST(MemoryLimit, AnImpossibleLimitGivesWayInsteadOfCollectingBackToBack) {
  gc::set_percent(-1);
  gc::set_memory_limit(std::int64_t{8} << 20);  // far below the live heap
  std::vector<gc::ptr<Node>> live(200'000);     // about 50 MiB live
  for (auto& p : live) p = gc::make<Node>();
  unsigned r = 1;
  for (int i = 0; i < 2'000'000; ++i) {
    r = r * 1103515245u + 12345u;
    live[(r >> 8) % live.size()] = gc::make<Node>();
  }
  const gc::stats s = gc::read_stats();
  const std::uint64_t held_back = gc::detail::pacer().limited_cycles();
  std::printf("%llu cycles, %llu held back by the CPU limiter, GC CPU fraction %.2f\n",
              static_cast<unsigned long long>(s.num_gc), static_cast<unsigned long long>(held_back),
              s.gc_cpu_fraction);
  EXPECT_GT(held_back, 0u);
  EXPECT_TRUE(all_intact(live));
  EXPECT_GT(s.heap_sys, std::uint64_t{8} << 20);  // the heap grew past the limit instead
}

TEST(ScavTrace, PrintsALinePerCycleInGosFormat) {
  ::testing::internal::CaptureStderr();
  gc::collect();
  gc::free_os_memory();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("KiB work (bg), "), std::string::npos) << err;
  EXPECT_NE(err.find("% util (forced)\n"), std::string::npos) << err;
}

}  // namespace
