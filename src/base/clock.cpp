#include "base/clock.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

namespace gc::detail {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// Not a function-local static: its first initialisation holds a guard, a lock, and a thread stopped
// by signal inside it (in sched_getaffinity) would hold that lock while the collector, which reads
// the count with the world stopped (cycle_stats.cpp), waited for it forever. Two threads that both
// find no count yet each ask the kernel; the first to store its answer sets it.
constinit std::atomic<int> g_cpu_count{0};

}  // namespace

int cpu_count() {
  int n = g_cpu_count.load(std::memory_order_relaxed);
  if (n != 0) [[likely]]
    return n;
  // The CPUs this process may run on (as Go sets GOMAXPROCS): taskset limits the collector too.
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    n = CPU_COUNT(&set);
  } else {
    const long c = ::sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? static_cast<int>(c) : 1;
  }
  // The first answer stays: a thread with a narrower affinity mask could otherwise change the
  // count after the mark worker count was read from it.
  int none = 0;
  return g_cpu_count.compare_exchange_strong(none, n, std::memory_order_relaxed) ? n : none;
}

}  // namespace gc::detail
