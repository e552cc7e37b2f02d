// Where a thread's time goes inside the library: the account behind gc::this_thread_gc_time()
// (control.hpp), which tells a program what the collector added to a piece of its own work, and
// tells us where a slow allocation or store spent its time (bench_gc_latency --explain).
//
// Each slow path that can hold a thread up opens a ThreadGcTimeScope of its kind for as long as it
// runs. Scopes nest, and every nanosecond goes to the innermost one: opening a scope stops the
// clock of the one around it, closing it starts that clock again. So a lock wait inside a sweep
// inside a new span counts once, as a lock wait, and the kinds add up to the total.
//
// The account is the thread's own, written only by the thread and its stop signal's handler (a
// park is a scope too, nested in whatever the signal interrupted). A signal that lands between a
// scope's clock read and its store of `since` may charge the stop to the interrupted kind as well;
// a diagnostic can live with that, and it needs no atomic operation.
//
// Only slow paths open scopes (a new span, an assist, a stop, a full barrier buffer, a lock that
// its spin did not get), each already microseconds long: the two clock reads (about 30 ns on a
// virtual machine's clock) are lost in them. The allocation and barrier fast paths are untouched,
// and the library's own threads, whose accounts nobody reads, read no clock at all (`off`).
#pragma once

#include <array>
#include <cstdint>

#include "base/clock.hpp"

namespace gc::detail {

// In the order of gc::thread_gc_time::kFields (control.cpp checks the count).
enum class GcTimeKind : std::uint8_t {
  kAssist,      // scanning grey objects to pay for allocation during a mark
  kAssistWait,  // an assist waiting, past the heap goal, for the mark workers' credit
  kSweep,       // sweeping spans
  kSpan,        // taking a span from the central lists or the page heap, and giving one back
  kCycleStart,  // starting a cycle: the stop of the world at mark start, the mark set-up
  kStopped,     // stopped by another thread's stop of the world
  kStackScan,   // scanning its own stack when a mark asked it to
  kBarrier,     // shading the write barrier's buffer when it filled
  kLockWait,    // waiting for a library lock that another thread held
  kCollect,     // gc::collect() and gc::free_os_memory(), marking while they wait included
  kCount,
};

struct ThreadGcTimeAccount {
  std::array<std::int64_t, static_cast<std::size_t>(GcTimeKind::kCount)> ns{};
  // Set on the library's own threads (the sweeper, the mark workers, the destructor thread), whose
  // accounts nobody can read: their scopes read no clock.
  bool off = false;
  int current = -1;        // the kind whose clock runs; -1: none (the thread's own work)
  std::int64_t since = 0;  // when that clock last started
};

inline constinit thread_local ThreadGcTimeAccount t_gc_time{};

class ThreadGcTimeScope {
 public:
  explicit ThreadGcTimeScope(GcTimeKind kind) {
    ThreadGcTimeAccount& a = t_gc_time;
    off_ = a.off;
    if (off_) return;
    const std::int64_t now = now_ns();
    if (a.current >= 0) a.ns[static_cast<std::size_t>(a.current)] += now - a.since;
    outer_ = a.current;
    a.current = static_cast<int>(kind);
    a.since = now;
  }
  ~ThreadGcTimeScope() {
    if (off_) return;
    ThreadGcTimeAccount& a = t_gc_time;
    const std::int64_t now = now_ns();
    if (a.current >= 0) a.ns[static_cast<std::size_t>(a.current)] += now - a.since;
    a.current = outer_;
    a.since = now;
  }
  ThreadGcTimeScope(const ThreadGcTimeScope&) = delete;
  ThreadGcTimeScope& operator=(const ThreadGcTimeScope&) = delete;

 private:
  int outer_ = -1;
  bool off_;
};

using GcTimeTotals = std::array<std::int64_t, static_cast<std::size_t>(GcTimeKind::kCount)>;

// The calling thread's totals, the time of a scope still open included up to now.
inline GcTimeTotals read_thread_gc_time() {
  const ThreadGcTimeAccount& a = t_gc_time;
  GcTimeTotals totals = a.ns;
  if (a.current >= 0) totals[static_cast<std::size_t>(a.current)] += now_ns() - a.since;
  return totals;
}

}  // namespace gc::detail
