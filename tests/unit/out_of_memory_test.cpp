// Running out of memory: under RLIMIT_AS the heap's reservation shrinks to what the OS grants,
// gc::make throws std::bad_alloc once even a full collection cannot make room, and the heap stays
// usable: after the program drops data, allocation succeeds again.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <tricolor/gc.hpp>
#include <vector>

#include "../support/sanitizers.hpp"

namespace {

// Runs in a fresh process (threadsafe death-test style), before the library reserves anything.
int exhaust_and_recover() {
  rlimit limit{std::size_t{1} << 30, std::size_t{1} << 30};  // 1 GiB of address space
  if (::setrlimit(RLIMIT_AS, &limit) != 0) return 10;
  std::vector<gc::ptr<char[]>> hoard;
  bool refused = false;
  try {
    for (int i = 0; i < 4096; ++i) hoard.push_back(gc::make<char[]>(std::size_t{1} << 20));
  } catch (const std::bad_alloc&) {
    refused = true;
  }
  if (!refused) return 11;  // 4 GiB fitted under a 1 GiB limit?
  const std::size_t held = hoard.size();
  std::fprintf(stderr, "refused after %zu MiB\n", held);
  hoard.clear();
  hoard.shrink_to_fit();
  gc::collect();
  try {
    for (std::size_t i = 0; i < held / 2; ++i)
      hoard.push_back(gc::make<char[]>(std::size_t{1} << 20));
    for (int i = 0; i < 100000; ++i) gc::make<long>(i);  // small objects too
  } catch (const std::bad_alloc&) {
    return 12;
  }
  return 0;
}

TEST(OutOfMemoryDeathTest, BadAllocThenRecovery) {
  if (test::kAddressSanitizer || test::kThreadSanitizer)
    GTEST_SKIP() << "the sanitizers' shadow memory does not fit under an address-space limit";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(exhaust_and_recover()), ::testing::ExitedWithCode(0), "refused after");
}

}  // namespace
