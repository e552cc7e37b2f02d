// ctest-env: GOGC=off
// The heap's address space alone (src/heap/address_space.hpp): grow_heap moves the frontier by what
// it is asked and commits ahead of it, in steps of a quarter of what is committed, from 1 MiB to
// 64 MiB, so that a heap that grows a MiB at a time makes a commit (an mprotect, which waits for
// the process's memory-map lock) now and then rather than every time. Nothing here allocates
// through gc::make: only the test grows the heap.
#include "heap/address_space.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "gc/startup.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using gc::detail::g_heap;
using gc::detail::grow_heap;
using gc::detail::heap_committed_end;
using gc::detail::heap_frontier;
using gc::detail::kCommitGranule;
using gc::detail::kMaxCommitStep;

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(AddressSpace, CommitsAheadOfTheFrontierInStepsThatGrowWithTheHeap) {
  gc::detail::ensure_runtime();
  const std::uintptr_t lo = g_heap.lo.load();
  if (g_heap.size.load() < 512 * kMiB) GTEST_SKIP() << "the reservation is under 512 MiB";
  // Under strict overcommit the OS may refuse a step, and then exactly what is needed is committed.
  if (std::ifstream overcommit("/proc/sys/vm/overcommit_memory"); overcommit.get() == '2')
    GTEST_SKIP() << "strict overcommit";
  std::uintptr_t committed = heap_committed_end();
  int commits = 0;
  while (heap_frontier() - lo < 256 * kMiB) {
    const std::uintptr_t frontier = heap_frontier();
    ASSERT_EQ(grow_heap(kCommitGranule), frontier);
    ASSERT_EQ(heap_frontier(), frontier + kCommitGranule);
    const std::uintptr_t now = heap_committed_end();
    ASSERT_GE(now, heap_frontier());
    if (now == committed) continue;
    ++commits;
    // A quarter of what was committed, whole MiBs, at least 1 and at most 64.
    const std::size_t step = std::clamp((committed - lo) / 4 / kMiB * kMiB, kMiB, kMaxCommitStep);
    EXPECT_GE(now - committed, step) << "at " << (committed - lo) / kMiB << " MiB committed";
    EXPECT_LE(now - committed, step + kCommitGranule) << "at " << (committed - lo) / kMiB << " MiB";
    committed = now;
  }
  // Committed: the last page below the frontier can be written.
  *reinterpret_cast<volatile char*>(heap_frontier() - 1) = 1;
  // From nothing to 256 MiB: 25 commits (8 of 1 MiB, then a quarter more each time), not 256.
  EXPECT_LE(commits, 32);
}

}  // namespace
