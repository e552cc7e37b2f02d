// ctest-env: GOGC=100
// When the OS refuses the library a thread (a container's process limit, RLIMIT_NPROC), the
// library goes on without it: a cycle whose mark controller cannot start marks with the world
// stopped, sweeping happens on allocation, and the refusal is reported once per thread on stderr.
// An allocation never throws for it: it has taken its slot, and registered its destructor, before
// it may start a cycle, so a throw there would leave a destructor for an object never built.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>
#include <tricolor/gc.hpp>

#include "../support/support.hpp"
#include "runtime/library_thread.hpp"

namespace {

using gc::detail::LibraryThread;

std::atomic<long> g_built{0};
std::atomic<long> g_destroyed{0};
std::atomic<long> g_destroyed_unbuilt{0};

// Its destructor tells an object its constructor built from a slot it never touched.
struct Checked {
  static constexpr std::uint64_t kBuilt = 0x600dcafe;
  std::uint64_t seal;
  gc::ptr<Checked> next;
  Checked() : seal(kBuilt) { g_built.fetch_add(1, std::memory_order_relaxed); }
  ~Checked() {
    if (seal != kBuilt) g_destroyed_unbuilt.fetch_add(1, std::memory_order_relaxed);
    g_destroyed.fetch_add(1, std::memory_order_relaxed);
  }
};

__attribute__((noinline)) void make_garbage(long count) {
  gc::ptr<Checked> chain;
  for (long i = 0; i < count; ++i) {
    gc::ptr<Checked> node = gc::make<Checked>();
    if (i % 64 != 0) node->next = chain;  // short chains: something for the mark to trace
    chain = node;
  }
}

std::string read_all(std::FILE* f) {
  std::string text;
  std::rewind(f);
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) text.append(buffer, n);
  return text;
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs in a fresh process (threadsafe death-test style): the collector's threads have not started.
int allocate_with_threads_refused() {
  gc::detail::ensure_registered();  // the destructor thread starts here, before the refusals
  // The library's messages go to a file, so that the child can count them.
  std::FILE* captured = std::tmpfile();
  if (captured == nullptr) return 20;
  const int saved_stderr = ::dup(2);
  ::dup2(::fileno(captured), 2);

  LibraryThread::refuse_starts_for_test(true);
  const std::uint64_t cycles_before = gc::read_stats().num_gc;
  // Two threads, so that two cycle starts, and two starts of the controller, meet.
  std::string thrown[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i)
    threads[i] = std::thread([&what = thrown[i]] {
      try {
        make_garbage(1'500'000);  // 36 MB each: a dozen cycles in all at the 4 MiB minimum goal
      } catch (const std::system_error& e) {
        what = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  test::collect_clean();
  for (const std::string& t : thrown) {
    if (t.empty()) continue;
    ::dup2(saved_stderr, 2);
    std::fprintf(stderr, "an allocation threw: %s\n", t.c_str());
    return 21;
  }
  const std::uint64_t cycles = gc::read_stats().num_gc - cycles_before;
  ::fflush(stderr);
  const std::string messages = read_all(captured);
  ::dup2(saved_stderr, 2);
  std::fputs(messages.c_str(), stderr);

  if (cycles < 5) return 22;  // the heap was collected, again and again, without the controller
  if (g_destroyed_unbuilt.load() != 0) return 23;
  // Everything built died in chains that nothing held: at most the few a stale word keeps.
  if (g_built.load() - g_destroyed.load() > 256) return 24;
  if (count_of(messages, "mark controller thread could not be started") != 1) return 25;
  if (count_of(messages, "sweeper thread could not be started") != 1) return 26;
  std::fprintf(stderr, "collected in %llu cycles without the collector's threads\n",
               static_cast<unsigned long long>(cycles));
  return 0;
}

TEST(ThreadRefusalDeathTest, CollectionGoesOnWithoutTheCollectorsThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(allocate_with_threads_refused()), ::testing::ExitedWithCode(0),
              "collected in [0-9]+ cycles without the collector's threads");
}

constinit LibraryThread g_refused_thread("test refused", [] {});

TEST(ThreadRefusal, TryStartReportsOnceAndTheNextStartTriesAgain) {
  // Every thread the test process needs is running before the refusals begin.
  gc::detail::ensure_registered();
  test::collect_clean();
  LibraryThread::refuse_starts_for_test(true);
  EXPECT_THROW(g_refused_thread.start(), std::system_error);
  EXPECT_FALSE(g_refused_thread.started());
  testing::internal::CaptureStderr();
  EXPECT_FALSE(g_refused_thread.try_wake());
  EXPECT_FALSE(g_refused_thread.try_start());
  const std::string said = testing::internal::GetCapturedStderr();
  LibraryThread::refuse_starts_for_test(false);
  EXPECT_EQ(count_of(said, "test refused thread could not be started"), 1) << said;
  EXPECT_TRUE(g_refused_thread.try_wake());
  EXPECT_TRUE(g_refused_thread.started());
  g_refused_thread.stop();
}

}  // namespace
