#include "heap/scavenger.hpp"

#include <time.h>

#include <atomic>

#include "base/clock.hpp"
#include "heap/central.hpp"
#include "heap/page_heap.hpp"
#include "runtime/library_thread.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

constexpr std::size_t kChunkBytes = std::size_t{64} << 10;
constexpr std::int64_t kWorkSliceNs = 1'000'000;  // then sleep 99 times as long: 1% of a CPU
constexpr int kIdleRounds = 50;
constexpr std::int64_t kIdleSleepNs = 100'000'000;

std::atomic<std::size_t> g_retained_goal{SIZE_MAX};
std::atomic<std::size_t> g_ready_goal{SIZE_MAX};
std::atomic<std::size_t> g_background_released{0};

bool above_goal() {
  const PageHeap& heap = page_heap();
  return heap.retained_now() > g_retained_goal.load(std::memory_order_relaxed) ||
         heap.ready_bytes_now() > g_ready_goal.load(std::memory_order_relaxed);
}

void sleep_ns(std::int64_t ns) {
  // A stop does not wait for a sleeping scavenger, and a mark does not read its stack: it never
  // holds an object.
  IdleScope idle;
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  ::nanosleep(&ts, nullptr);
}

void scavenge_to_goal() {
  int idle_rounds = 0;
  while (above_goal()) {
    const std::int64_t start = now_ns();
    std::int64_t worked = 0;
    while (worked < kWorkSliceNs && above_goal()) {
      std::size_t released = 0;
      {
        CriticalSection critical;
        released = page_heap().scavenge(kChunkBytes);
      }
      if (released == 0) {
        // Nothing idle: spans kept empty for their size class may hold what is over the goal (a
        // program gone quiet sweeps them no more), and go back first. Else the sweeper and the
        // destructor thread may still be freeing spans that the last cycle found dead: look again
        // a few times, then wait for the next cycle.
        if (idle_rounds == 0 && release_kept_empty_spans()) {
          ++idle_rounds;
          continue;
        }
        if (++idle_rounds > kIdleRounds) return;
        sleep_ns(kIdleSleepNs);
        break;
      }
      idle_rounds = 0;
      g_background_released.fetch_add(released, std::memory_order_relaxed);
      worked = now_ns() - start;
      poll_safepoint();
    }
    if (page_heap().ready_bytes_now() <= page_heap().memory_limit()) sleep_ns(worked * 99);
  }
}

constinit LibraryThread g_scavenger("scavenger", scavenge_to_goal);

}  // namespace

void set_scavenger_goal(std::size_t retained_goal, std::size_t ready_goal) {
  g_retained_goal.store(retained_goal, std::memory_order_relaxed);
  g_ready_goal.store(ready_goal, std::memory_order_relaxed);
  // Without the thread (the OS refused it), idle pages stay mapped until gc::free_os_memory().
  if (above_goal()) g_scavenger.try_wake();
}

std::size_t take_background_released() { return g_background_released.exchange(0); }

void forget_scavenger_after_fork() { g_scavenger.forget_after_fork(); }

}  // namespace gc::detail
