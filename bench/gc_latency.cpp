// bench_gc_latency — how long single allocations are held up by the memory manager: tricolor next
// to Boehm's collector, std::shared_ptr and Go.
//
// Why: the throughput benches report totals. A server cares about its slowest requests, and those
// are where a collector's stop-the-world pauses, mark assists and sweeping land. This is the shape
// of Go's gc_latency benchmark (golang.org/x/benchmarks/gc_latency): the live set is large and
// constant, garbage is made at a steady rate, and every single store is timed.
//
// Workload (bench/go/gc_latency/main.go is the same program in Go): a ring of 200,000 slots; each
// iteration i allocates a 1 KiB buffer (a struct holding `unsigned char data[1024]`: trivially
// copyable, so tricolor allocates it noscan; Go's []byte is noscan too), fills all of it with the
// byte i (memset; so the memory is really touched) and stores it into slot i % 200,000. So ~200 MiB
// stay live, and after the first 200,000 stores each store makes one 1 KiB buffer garbage. Every
// iteration — allocate, fill, store — is timed on its own with std::chrono::steady_clock (in Go,
// time.Now()). The durations go into a preallocated array of uint32 nanoseconds outside the
// managed heap (malloc; Go: mmap), touched before the loop. After the loop every slot is checked
// (a collector that freed a live buffer fails the run), then the durations are sorted.
//   tricolor    ring = gc::make<gc::ptr<Buf>[]>(200000), buffers gc::make<Buf>()
//   boehm       ring = GC_MALLOC(200000 pointers), buffers GC_MALLOC_ATOMIC(1024) (only when
//               libgc-dev was found, TRICOLOR_HAVE_BOEHM)
//   shared_ptr  std::vector<std::shared_ptr<Buf>>(200000), buffers std::make_shared<Buf>() (the
//               buffer a store replaces is freed inside that store's timed interval)
//   go          the Go twin, built with the bench (bench/CMakeLists.txt, TRICOLOR_GC_LATENCY_GO);
//               reported as skipped without a go tool
//
// Per implementation: the loop's total wall time; the p50, p99, p99.9, p99.99 (nearest rank, the
// same integer rule in both languages) and worst store latency in µs; peak RSS (ru_maxrss); and the
// collector's own stop-the-world figures: tricolor from gc::read_stats() (num_gc, pause_total_ns,
// pause_max_ns over all cycles, median of the last min(num_gc, 256) pause_ns), Go from
// runtime.ReadMemStats (NumGC, PauseTotalNs, median and max of the last min(NumGC, 256) PauseNs),
// Boehm from its collection-event callback (the time between GC_EVENT_PRE_STOP_WORLD and
// GC_EVENT_POST_START_WORLD of each collection; num_gc = GC_get_gc_no()).
//
// Every run is a fresh child process (fork + exec of this program with --impl=NAME, or of the Go
// program), so each peak RSS is its own; children inherit the environment (GOGC, GOMEMLIMIT,
// GODEBUG reach tricolor and Go alike). Each implementation runs --repeat times (default 3) and the
// table shows the median of every figure separately. A child that crashes, fails its check, prints
// no RESULT line or runs past --timeout is reported as FAILED (and the driver exits 1); the other
// implementations still run. Besides the table, one line per implementation for scripts:
//   LATENCY impl=<name> status=ok runs=<r> iterations=<n> seconds=.. p50_us=.. p99_us=.. p999_us=..
//           p9999_us=.. max_us=.. peak_rss_kb=.. [num_gc=.. pause_total_ns=.. pause_p50_ns=..
//           pause_max_ns=..]
//   LATENCY impl=<name> status=FAILED|skipped why="<reason>"
// Each child also prints the whole distribution for plots (tools/bench_suite.py draws the CDF from
// it), after its RESULT line:
//   CDF impl=<name> ppm_us=<ppm>:<µs>,<ppm>:<µs>,...
// the nearest-rank latency at each of kCdfPpm's quantiles in parts per million (0 = the fastest
// store, 999999 = p99.9999) and at 1000000, the slowest store; the Go twin prints the same line.
//
// Usage: bench_gc_latency [--iterations=N | --quick] [--repeat=R] [--timeout=S] [--verbose]
//        bench_gc_latency --impl=tricolor|boehm|shared_ptr|go [--iterations=N]   (one child run;
//        go execs the Go twin)
//        bench_gc_latency --impl=tricolor --explain [--iterations=N]   (the slow stores' time by
//        where it went: run_tricolor_explained)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tricolor/gc.hpp>
#include <type_traits>
#include <utility>
#include <vector>

#include "driver.hpp"  // bench::for_each_line and bench::detail::{run_program, for_each_arg, median, ...}
#if TRICOLOR_HAVE_BOEHM
#include "boehm_peer.hpp"
#endif

namespace {

constexpr std::size_t kSlots = 200'000;
constexpr std::size_t kBufSize = 1024;
constexpr long kDefaultIterations = 2'000'000;
constexpr long kQuickIterations = 500'000;

// The quantiles of the CDF line, in parts per million: denser towards the tail, where collectors
// differ (three points a decade of 1 - q). The Go twin prints the same ones.
constexpr long kCdfPpm[] = {0,      100000, 250000, 500000, 750000, 900000, 950000,
                            980000, 990000, 995000, 998000, 999000, 999500, 999800,
                            999900, 999950, 999980, 999990, 999995, 999998, 999999};

struct Buf {
  unsigned char data[kBufSize];
};
static_assert(std::is_trivially_copyable_v<Buf> && sizeof(Buf) == kBufSize);

using Clock = std::chrono::steady_clock;

// --- child mode: the timed loop ------------------------------------------------------------------

// Store latencies, one uint32 of nanoseconds per iteration (saturating at ~4.3 s; the worst one is
// also kept exactly). Zero-initialised, so every page is touched before the loop starts.
class Latencies {
 public:
  explicit Latencies(long n) : ns_(static_cast<std::size_t>(n)) {}
  void record(long i, std::int64_t ns) {
    worst_ = std::max(worst_, ns);
    ns_[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(
        std::min<std::int64_t>(ns, std::numeric_limits<std::uint32_t>::max()));
  }
  // Nearest-rank percentile for q/10000 (5000 = median, 9999 = p99.99), integer arithmetic like
  // the Go twin's. Sorts on first use.
  double percentile_us(long q) {
    if (!sorted_) std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
    const std::size_t rank =
        std::max<std::size_t>(1, (static_cast<std::size_t>(q) * ns_.size() + 9999) / 10000);
    return static_cast<double>(ns_[rank - 1]) / 1000.0;
  }
  double worst_us() const { return static_cast<double>(worst_) / 1000.0; }
  // Nearest-rank quantile for ppm/1000000 (0: the smallest), in the same integers as the Go twin.
  double quantile_ppm_us(long ppm) {
    if (!sorted_) std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
    const std::size_t rank = std::max<std::size_t>(
        1, (static_cast<std::size_t>(ppm) * ns_.size() + 999'999) / 1'000'000);
    return static_cast<double>(ns_[rank - 1]) / 1000.0;
  }

 private:
  std::vector<std::uint32_t> ns_;
  std::int64_t worst_ = 0;
  bool sorted_ = false;
};

// Runs the n timed stores; returns the loop's wall time in seconds.
template <class Store>
double timed_loop(long n, Latencies& lat, Store&& store) {
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    store(i);
    const auto t1 = Clock::now();
    lat.record(i, std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

unsigned char fill_byte(long i) { return static_cast<unsigned char>(i); }

// Slot s was last written by the largest i < n with i % kSlots == s; all its bytes must be i's.
bool slot_ok(const unsigned char* data, std::size_t s, long n) {
  if (data == nullptr) return false;
  const long slots = static_cast<long>(kSlots);
  const long i = (n - 1 - static_cast<long>(s)) / slots * slots + static_cast<long>(s);
  for (std::size_t j = 0; j < kBufSize; ++j)
    if (data[j] != fill_byte(i)) return false;
  return true;
}

template <class Get>
bool check_ring(const char* impl, long n, Get&& get) {
  for (std::size_t s = 0; s < kSlots; ++s)
    if (!slot_ok(get(s), s, n)) {
      std::fprintf(stderr, "gc_latency: impl=%s: slot %zu holds a wrong or no buffer\n", impl, s);
      return false;
    }
  return true;
}

// The collector's own pause figures, as far as an implementation has them.
struct Pauses {
  bool known = false;
  std::uint64_t num_gc = 0, total_ns = 0, max_ns = 0, p50_ns = 0;
};

std::uint64_t lower_median(std::vector<std::uint64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[(v.size() + 1) / 2 - 1];
}

void print_result(const char* impl, long n, double seconds, Latencies& lat, const Pauses& p) {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "RESULT impl=%s iterations=%ld seconds=%.6f p50_us=%.3f p99_us=%.3f p999_us=%.3f "
      "p9999_us=%.3f max_us=%.3f peak_rss_kb=%ld",
      impl, n, seconds, lat.percentile_us(5000), lat.percentile_us(9900), lat.percentile_us(9990),
      lat.percentile_us(9999), lat.worst_us(), ru.ru_maxrss);
  if (p.known)
    std::printf(
        " num_gc=%llu pause_total_ns=%llu pause_max_ns=%llu pause_p50_ns=%llu",
        static_cast<unsigned long long>(p.num_gc), static_cast<unsigned long long>(p.total_ns),
        static_cast<unsigned long long>(p.max_ns), static_cast<unsigned long long>(p.p50_ns));
  std::printf("\nCDF impl=%s ppm_us=", impl);
  for (long ppm : kCdfPpm) std::printf("%ld:%.3f,", ppm, lat.quantile_ppm_us(ppm));
  std::printf("1000000:%.3f\n", lat.worst_us());
  std::fflush(stdout);
}

int run_tricolor(long n) {
  Latencies lat(n);
  gc::ptr<gc::ptr<Buf>[]> ring = gc::make<gc::ptr<Buf>[]>(kSlots);
  const double seconds = timed_loop(n, lat, [&](long i) {
    gc::ptr<Buf> b = gc::make<Buf>();
    std::memset(b->data, fill_byte(i), kBufSize);
    ring[static_cast<std::size_t>(i) % kSlots] = std::move(b);
  });
  const gc::stats st = gc::read_stats();
  if (!check_ring("tricolor", n, [&](std::size_t s) {
        const Buf* b = ring[s].get();
        return b != nullptr ? b->data : nullptr;
      }))
    return 1;
  Pauses p{true, st.num_gc, st.pause_total_ns, st.pause_max_ns, 0};
  std::vector<std::uint64_t> recent;
  for (std::uint64_t k = 0; k < std::min<std::uint64_t>(st.num_gc, st.pause_ns.size()); ++k)
    recent.push_back(st.pause_ns[(st.num_gc - 1 - k) % st.pause_ns.size()]);
  p.p50_ns = lower_median(recent);
  print_result("tricolor", n, seconds, lat, p);
  return 0;
}

// --explain: the same tricolor loop, with each store's time split by where it went. Around every
// store it reads gc::this_thread_gc_time() (the collector's slow paths, by kind) and, after it, the
// thread's page faults and involuntary context switches (getrusage(RUSAGE_THREAD), a system call
// outside the timed interval; a switch during that call is charged to the store before it). The
// stores at or above p99, p99.9 and p99.99, and the ten slowest, are then summed by kind: the
// collector's kinds, and "other", the time no slow path of the collector claims (the program's
// own work, page faults, the scheduler). This run's latencies include the instrumentation; the
// plain run above is the one to compare with other collectors.
struct SlowStore {
  std::int64_t ns = 0;
  gc::thread_gc_time gc;
  long faults = 0;
  long switches = 0;
};

constexpr std::int64_t kExplainFloorNs = 5'000;  // stores faster than this are not kept

void print_explained_band(const char* band, const std::vector<SlowStore>& stores) {
  std::int64_t total = 0;
  gc::thread_gc_time sum;
  long faulting = 0, faults = 0, switched = 0;
  for (const SlowStore& s : stores) {
    total += s.ns;
    sum += s.gc;
    faulting += s.faults > 0;
    faults += s.faults;
    switched += s.switches > 0;
  }
  const auto pct = [&](std::int64_t ns) {
    return total > 0 ? 100.0 * static_cast<double>(ns) / static_cast<double>(total) : 0.0;
  };
  const double n = static_cast<double>(std::max<std::size_t>(stores.size(), 1));
  std::printf(
      "| %s | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | "
      "%.0f%% (%.1f) | %.0f%% |\n",
      band, stores.size(), static_cast<double>(total) / n / 1000.0, pct(sum.assist_ns),
      pct(sum.assist_wait_ns), pct(sum.sweep_ns), pct(sum.span_ns), pct(sum.cycle_start_ns),
      pct(sum.stopped_ns), pct(sum.stack_scan_ns), pct(sum.barrier_ns), pct(sum.lock_wait_ns),
      pct(total - sum.total_ns()), 100.0 * static_cast<double>(faulting) / n,
      static_cast<double>(faults) / n, 100.0 * static_cast<double>(switched) / n);
}

int run_tricolor_explained(long n) {
  Latencies lat(n);
  std::vector<SlowStore> slow;
  slow.reserve(static_cast<std::size_t>(n / 50));
  gc::ptr<gc::ptr<Buf>[]> ring = gc::make<gc::ptr<Buf>[]>(kSlots);
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  gc::thread_gc_time before = gc::this_thread_gc_time();
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    {
      gc::ptr<Buf> b = gc::make<Buf>();
      std::memset(b->data, fill_byte(i), kBufSize);
      ring[static_cast<std::size_t>(i) % kSlots] = std::move(b);
    }
    const auto t1 = Clock::now();
    const gc::thread_gc_time after = gc::this_thread_gc_time();
    const rusage ru_before = ru;
    ::getrusage(RUSAGE_THREAD, &ru);
    const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    lat.record(i, ns);
    if (ns >= kExplainFloorNs)
      slow.push_back({ns, after - before, ru.ru_minflt - ru_before.ru_minflt,
                      ru.ru_nivcsw - ru_before.ru_nivcsw});
    before = after;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!check_ring("tricolor", n, [&](std::size_t s) {
        const Buf* b = ring[s].get();
        return b != nullptr ? b->data : nullptr;
      }))
    return 1;
  std::sort(slow.begin(), slow.end(),
            [](const SlowStore& a, const SlowStore& b) { return a.ns > b.ns; });
  std::printf(
      "gc_latency --explain: %ld stores in %.2f s; %zu took %lld us or more\n\n"
      "| stores | count | mean us | assist | assist wait | sweep | span | cycle start | stopped | "
      "stack scan | barrier | lock wait | other | page faults (mean) | preempted |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
      "---: | ---: |\n",
      n, seconds, slow.size(), static_cast<long long>(kExplainFloorNs / 1000));
  const struct {
    const char* name;
    long q;  // percentile in 1/10000, or 0: the ten slowest
  } bands[] = {
      {"p99 and up", 9900}, {"p99.9 and up", 9990}, {"p99.99 and up", 9999}, {"10 slowest", 0}};
  for (const auto& band : bands) {
    const auto floor_ns =
        band.q == 0 ? 0 : static_cast<std::int64_t>(lat.percentile_us(band.q) * 1000.0 + 0.5);
    std::vector<SlowStore> in_band;
    for (const SlowStore& s : slow) {
      if (band.q == 0 ? in_band.size() >= 10 : s.ns < floor_ns) break;
      in_band.push_back(s);
    }
    print_explained_band(band.name, in_band);
  }
  std::printf("\n(p99 %.1f us, p99.9 %.1f us, p99.99 %.1f us, worst %.1f us in this run)\n",
              lat.percentile_us(9900), lat.percentile_us(9990), lat.percentile_us(9999),
              lat.worst_us());
  return 0;
}

int run_shared_ptr(long n) {
  Latencies lat(n);
  std::vector<std::shared_ptr<Buf>> ring(kSlots);
  const double seconds = timed_loop(n, lat, [&](long i) {
    std::shared_ptr<Buf> b = std::make_shared<Buf>();
    std::memset(b->data, fill_byte(i), kBufSize);
    ring[static_cast<std::size_t>(i) % kSlots] = std::move(b);
  });
  if (!check_ring("shared_ptr", n, [&](std::size_t s) {
        const Buf* b = ring[s].get();
        return b != nullptr ? b->data : nullptr;
      }))
    return 1;
  print_result("shared_ptr", n, seconds, lat, Pauses{});
  return 0;
}

#if TRICOLOR_HAVE_BOEHM
// Boehm's stop-the-world intervals, recorded by its collection-event callback (which runs with the
// allocation lock held, on whichever thread collects: no allocation here, only fixed storage).
struct BoehmPauses {
  Clock::time_point stop_began;
  std::uint64_t count = 0, total_ns = 0, max_ns = 0;
  std::array<std::uint64_t, 1 << 16> ns{};
};
BoehmPauses g_boehm_pauses;

void GC_CALLBACK on_boehm_event(GC_EventType e) {
  BoehmPauses& p = g_boehm_pauses;
  if (e == GC_EVENT_PRE_STOP_WORLD) {
    p.stop_began = Clock::now();
  } else if (e == GC_EVENT_POST_START_WORLD) {
    const auto d = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - p.stop_began).count());
    if (p.count < p.ns.size()) p.ns[p.count] = d;
    ++p.count;
    p.total_ns += d;
    p.max_ns = std::max(p.max_ns, d);
  }
}

int run_boehm(long n) {
  bench::boehm_setup();
  GC_set_on_collection_event(&on_boehm_event);
  Latencies lat(n);
  auto** ring = static_cast<unsigned char**>(GC_MALLOC(kSlots * sizeof(unsigned char*)));
  if (ring == nullptr) {
    std::fprintf(stderr, "gc_latency: GC_MALLOC of the ring failed\n");
    return 1;
  }
  const GC_word gc_no_before = GC_get_gc_no();
  const double seconds = timed_loop(n, lat, [&](long i) {
    auto* b = static_cast<unsigned char*>(GC_MALLOC_ATOMIC(kBufSize));
    if (b == nullptr) std::abort();
    std::memset(b, fill_byte(i), kBufSize);
    ring[static_cast<std::size_t>(i) % kSlots] = b;
  });
  GC_set_on_collection_event(nullptr);
  const BoehmPauses& bp = g_boehm_pauses;
  if (!check_ring("boehm", n, [&](std::size_t s) { return ring[s]; })) return 1;
  Pauses p{true, GC_get_gc_no() - gc_no_before, bp.total_ns, bp.max_ns, 0};
  const std::size_t kept = std::min<std::size_t>(bp.count, bp.ns.size());
  p.p50_ns = lower_median(std::vector<std::uint64_t>(bp.ns.begin(), bp.ns.begin() + kept));
  print_result("boehm", n, seconds, lat, p);
  GC_reachable_here(ring);
  return 0;
}
#endif

// --- driver mode ---------------------------------------------------------------------------------

const char* go_binary() {
  static const char* const path = TRICOLOR_GC_LATENCY_GO;
  return path[0] != '\0' && ::access(path, X_OK) == 0 ? path : nullptr;
}

struct Impl {
  const char* name;
  const char* missing;  // nullptr: available; otherwise why not
};

#if TRICOLOR_HAVE_BOEHM
constexpr const char* kBoehmMissing = nullptr;
#else
constexpr const char* kBoehmMissing =
    "Boehm GC (pkg-config bdw-gc) was not found when the bench was configured";
#endif

std::vector<Impl> implementations() {
  const char* go_missing = go_binary() != nullptr ? nullptr
                           : TRICOLOR_GC_LATENCY_GO[0] == '\0'
                               ? "no go tool was found when the bench was configured"
                               : "the Go program " TRICOLOR_GC_LATENCY_GO " is missing";
  return {
      {"tricolor", nullptr}, {"boehm", kBoehmMissing}, {"shared_ptr", nullptr}, {"go", go_missing}};
}

struct Options {
  std::string impl;  // empty: driver mode
  long iterations = kDefaultIterations;
  int repeat = 3;
  int timeout_s = 600;
  bool verbose = false;
  bool explain = false;  // --impl=tricolor only: where the slow stores' time went
};

struct ChildRun {
  bool ok = false;
  std::map<std::string, double> fields;  // the RESULT line's numeric key=value pairs
  std::string output;                    // stdout without the RESULT line
  std::string failure;                   // why !ok
};

// Runs `path` with `args` (args[0] is argv[0]) through bench::detail::run_program and parses its
// RESULT line.
ChildRun spawn(const char* path, std::vector<std::string> args, int timeout_s) {
  ChildRun result;
  const bench::detail::ProgramRun run =
      bench::detail::run_program(path, std::move(args), timeout_s, "bench_gc_latency");

  bool have_result = false;
  bench::for_each_line(run.out, [&](const std::string& line) {
    if (line.rfind("RESULT ", 0) != 0) {
      result.output += line + '\n';
      return;
    }
    have_result = true;
    std::size_t pos = 7;
    while (pos < line.size()) {
      std::size_t end = line.find(' ', pos);
      if (end == std::string::npos) end = line.size();
      const std::string token = line.substr(pos, end - pos);
      const std::size_t eq = token.find('=');
      if (eq != std::string::npos && token.substr(0, eq) != "impl")
        result.fields[token.substr(0, eq)] = std::strtod(token.c_str() + eq + 1, nullptr);
      pos = end + 1;
    }
  });
  if (!run.failure.empty())
    result.failure = run.failure;
  else if (!have_result)
    result.failure = bench::detail::kNoResultLine;
  else
    result.ok = true;
  return result;
}

struct Column {
  const char* key;    // RESULT field
  const char* title;  // table header
  double scale;       // table value = field / scale
  const char* format;
};

constexpr Column kColumns[] = {
    {"seconds", "total_s", 1, "%9.3f"},
    {"p50_us", "p50_us", 1, "%9.3f"},
    {"p99_us", "p99_us", 1, "%9.2f"},
    {"p999_us", "p99.9_us", 1, "%9.1f"},
    {"p9999_us", "p99.99_us", 1, "%10.1f"},
    {"max_us", "max_us", 1, "%10.1f"},
    {"peak_rss_kb", "rss_MiB", 1024, "%8.1f"},
    {"num_gc", "num_gc", 1, "%7.0f"},
    {"pause_total_ns", "gc_pause_ms", 1e6, "%11.2f"},
    {"pause_p50_ns", "pause_p50_us", 1e3, "%12.1f"},
    {"pause_max_ns", "pause_max_us", 1e3, "%12.1f"},
};

// The width of a printf format such as "%9.3f".
int width(const char* format) { return std::atoi(format + 1); }

struct Row {
  const Impl* impl;
  std::vector<ChildRun> runs;
  std::string failure;  // empty: every run succeeded
  std::map<std::string, double> median;
};

std::string quoted(std::string s) {
  std::replace(s.begin(), s.end(), '"', '\'');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return '"' + s + '"';
}

// One key=value of a LATENCY line, if every run reported it: µs with 3 decimals, seconds with 6,
// counts, bytes and nanoseconds as integers.
void print_field(const Row& row, std::string_view key) {
  const auto it = row.median.find(std::string(key));
  if (it == row.median.end()) return;
  const char* format = key.ends_with("_us") ? " %s=%.3f"
                       : key == "seconds"   ? " %s=%.6f"
                                            : " %s=%.0f";
  std::printf(format, it->first.c_str(), it->second);
}

int drive(const Options& o, const char* argv0) {
  const std::vector<Impl> impls = implementations();
  std::printf(
      "gc_latency: ring of %zu slots, %ld stores of a fresh %zu-byte buffer, each timed; "
      "repeat=%d (a fresh process per run, median of each figure)\n",
      kSlots, o.iterations, kBufSize, o.repeat);
  std::fflush(stdout);
  const std::string iterations_arg = "--iterations=" + std::to_string(o.iterations);

  std::vector<Row> rows;
  int status = 0;
  for (const Impl& impl : impls) {
    Row row{&impl, {}, impl.missing != nullptr ? std::string("skipped: ") + impl.missing : "", {}};
    for (int r = 0; impl.missing == nullptr && r < o.repeat; ++r) {
      std::fprintf(stderr, "[gc_latency] %s run %d/%d ...\n", impl.name, r + 1, o.repeat);
      ChildRun run =
          std::string_view(impl.name) == "go"
              ? spawn(go_binary(), {go_binary(), iterations_arg}, o.timeout_s)
              : spawn("/proc/self/exe", {argv0, std::string("--impl=") + impl.name, iterations_arg},
                      o.timeout_s);
      if (o.verbose || (!run.ok && !run.output.empty())) {
        std::printf("output of %s, run %d:\n", impl.name, r + 1);
        bench::detail::print_indented(run.output);
      }
      if (!run.ok) {
        row.failure = "FAILED on run " + std::to_string(r + 1) + ": " + run.failure;
        std::printf("%s: %s\n", impl.name, row.failure.c_str());
        status = 1;
        break;  // a broken implementation is not run again
      }
      row.runs.push_back(std::move(run));
    }
    if (row.failure.empty())
      for (const auto& [key, value] : row.runs.front().fields) {
        std::vector<double> values;
        for (const ChildRun& run : row.runs)
          if (auto it = run.fields.find(key); it != run.fields.end()) values.push_back(it->second);
        if (values.size() == row.runs.size()) row.median[key] = bench::detail::median(values);
      }
    rows.push_back(std::move(row));
  }

  std::printf(
      "\ngc_latency  %ld stores into a %zu-slot ring of 1 KiB buffers; median of %d runs; store "
      "latencies in µs; gc_pause/pause_* = the collector's own stop-the-world figures\n",
      o.iterations, kSlots, o.repeat);
  std::printf("%-11s %4s", "impl", "runs");
  for (const Column& c : kColumns) std::printf(" %*s", width(c.format), c.title);
  std::printf("\n");
  for (const Row& row : rows) {
    if (!row.failure.empty()) {
      std::printf("%-11s %4zu  %s\n", row.impl->name, row.runs.size(), row.failure.c_str());
      continue;
    }
    std::printf("%-11s %4zu", row.impl->name, row.runs.size());
    for (const Column& c : kColumns) {
      if (auto it = row.median.find(c.key); it != row.median.end()) {
        std::printf(" ");
        std::printf(c.format, it->second / c.scale);
      } else {
        std::printf(" %*s", width(c.format), "-");
      }
    }
    std::printf("\n");
  }
  std::printf(
      "(pause_p50_us: median over the last <= 256 cycles, boehm: all; pause_max_us: all cycles, "
      "go: "
      "the last <= 256; boehm: from stopping the world to restarting it, by its event "
      "callback)\n\n");

  for (const Row& row : rows) {
    if (!row.failure.empty()) {
      const bool skipped = row.impl->missing != nullptr;
      std::printf("LATENCY impl=%s status=%s why=%s\n", row.impl->name,
                  skipped ? "skipped" : "FAILED",
                  quoted(skipped ? row.impl->missing : row.failure).c_str());
      continue;
    }
    std::printf("LATENCY impl=%s status=ok runs=%zu", row.impl->name, row.runs.size());
    print_field(row, "iterations");
    for (const Column& c : kColumns) print_field(row, c.key);
    std::printf("\n");
  }
  std::fflush(stdout);
  return status;
}

// --- main ----------------------------------------------------------------------------------------

void usage(const char* argv0, std::FILE* to) {
  std::fprintf(
      to,
      "usage: %s [--iterations=N | --quick] [--repeat=R] [--timeout=S] [--verbose]\n"
      "       %s --impl=tricolor|boehm|shared_ptr|go [--iterations=N]\n"
      "       %s --impl=tricolor --explain [--iterations=N]\n"
      "  --iterations=N  timed stores per run (default %ld, at least %zu)\n"
      "  --quick         --iterations=%ld\n"
      "  --repeat=R      child processes per implementation (default 3)\n"
      "  --timeout=S     kill a child after S seconds (default 600)\n"
      "  --verbose       print every child's output\n"
      "  --impl=NAME     run one implementation in this process and print its RESULT line\n"
      "  --explain       with --impl=tricolor: split the slow stores' time by where it went\n",
      argv0, argv0, argv0, kDefaultIterations, kSlots, kQuickIterations);
}

bool parse_args(int argc, char** argv, Options& o) {
  using bench::detail::parse_int;
  return bench::detail::for_each_arg(
      "gc_latency", argc, argv, [&](std::FILE* to) { usage(argv[0], to); },
      [&](const bench::detail::Arg& a) {
        std::string_view v;
        if (a.text == "--verbose") {
          o.verbose = true;
          return true;
        }
        if (a.text == "--explain") {
          o.explain = true;
          return true;
        }
        if (a.text == "--quick") {
          o.iterations = kQuickIterations;
          return true;
        }
        if (a.value("--impl=", v)) {
          o.impl = std::string(v);
          return !o.impl.empty();
        }
        if (a.value("--iterations=", v))
          return parse_int<long>(v, static_cast<long>(kSlots), 1'000'000'000, o.iterations);
        if (a.value("--repeat=", v)) return parse_int(v, 1, 1000, o.repeat);
        if (a.value("--timeout=", v)) return parse_int(v, 1, 86400, o.timeout_s);
        return false;
      });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) return 2;
  if (o.impl.empty()) return drive(o, argc > 0 ? argv[0] : "bench_gc_latency");
  if (o.explain && o.impl != "tricolor") {
    std::fprintf(stderr, "gc_latency: --explain goes with --impl=tricolor\n");
    return 2;
  }
  if (o.impl == "tricolor")
    return o.explain ? run_tricolor_explained(o.iterations) : run_tricolor(o.iterations);
  if (o.impl == "shared_ptr") return run_shared_ptr(o.iterations);
  if (o.impl == "go") {
    // The twin as a child of its own: exec'd, so that it is this process (and its peak RSS).
    const char* go = go_binary();
    if (go == nullptr) {
      std::fprintf(stderr, "gc_latency: the Go twin is not available\n");
      return 2;
    }
    std::string iterations = "--iterations=" + std::to_string(o.iterations);
    char* args[] = {const_cast<char*>(go), iterations.data(), nullptr};
    std::fflush(stdout);
    ::execv(go, args);
    std::fprintf(stderr, "gc_latency: execv(%s): %s\n", go, std::strerror(errno));
    return 127;
  }
#if TRICOLOR_HAVE_BOEHM
  if (o.impl == "boehm") return run_boehm(o.iterations);
#endif
  std::fprintf(stderr, "gc_latency: implementation '%s' is unknown or not built in\n",
               o.impl.c_str());
  return 2;
}
