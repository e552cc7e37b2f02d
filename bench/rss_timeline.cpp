// bench_rss_timeline — resident memory over time under a steady-state, server-like load, tricolor
// next to Go.
//
// Why: the other benches report ru_maxrss, a single high-water mark. A long-running server cares
// about something else: how much memory it holds while its live set is constant, how far a burst
// drives that up, and whether the footprint comes back down afterwards without anyone calling
// free_os_memory() — the background scavenger's job in Go, and in tricolor. So this bench samples
// RSS every 100 ms through three phases and prints the curves of four configurations side by side.
//
// Workload (bench/go/rss_timeline/main.go is the same program in Go, operation for operation):
//   a table of 100,000 slots, each holding a node (256 bytes of payload, an id and one or two
//   64-byte leaf children: 288 + 64..128 bytes), about 37 MiB live. One operation replaces a random
//   slot with a fresh node. Operations are paced at 400,000/s, like requests arriving at a server,
//   so every configuration sees the same allocation rate (~150 MB/s) on the same time axis; a
//   configuration that cannot keep up simply takes longer (its column runs on).
//     phase 1  1.2M operations (3 s) of steady state;
//     phase 2  a spike: allocate and keep 546,133 more nodes (~200 MiB) at full speed, go on with
//              400k operations (1 s), then drop them all;
//     phase 3  1.6M operations (4 s) of steady state, with no explicit collection.
//   At the end every node still in the table is checked (payload and children), so a collector that
//   freed something live fails the run instead of looking thrifty.
//
// Configurations, each a fresh child process (bench/driver.hpp), the environment set as for Go:
//   tricolor GOGC=100; tricolor GOGC=100 GOMEMLIMIT=150MiB; go GOGC=100; go GOGC=100
//   GOMEMLIMIT=150MiB. The Go program is built with the bench (bench/CMakeLists.txt); without a go
//   tool the Go configurations are reported as skipped. GODEBUG (e.g. gctrace=1) is passed through.
//
// Output: one table row per 100 ms (each configuration's phase and RSS in MiB; RSS is resident
// pages from /proc/self/statm), then one summary line per configuration: the median RSS of phase 1,
// the peak (ru_maxrss, which no 100 ms sample can miss), the RSS when phase 3 ends, the number of
// GC cycles and the wall time of the workload (8 s plus the spike's allocation when on pace).
//
// Usage: bench_rss_timeline                    driver: all four configurations, ~35 s
//        bench_rss_timeline --impl=tricolor     one child in this process (environment as is)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

#include "driver.hpp"

namespace {

constexpr std::size_t kSlots = 100'000;
constexpr long kOpsPerSecond = 400'000;
constexpr long kPhase1Ops = 3 * kOpsPerSecond;
constexpr long kSpikeOps = 1 * kOpsPerSecond;
constexpr long kPhase3Ops = 4 * kOpsPerSecond;
constexpr std::size_t kSpikeNodes = (200u << 20) / 384;  // 384: a node plus 1.5 leaves on average
constexpr auto kSamplePeriod = std::chrono::milliseconds(100);

struct Leaf {
  std::uint64_t id;
  std::uint64_t data[7];
};

struct Node {
  gc::ptr<Leaf> a, b;
  std::uint64_t id;
  std::uint64_t payload[32];
};

}  // namespace
// Go objects have no destructors; queueing one per dead node would charge tricolor for work its
// Go twin does not do. Node holds only gc::ptr and plain words, so it may skip the queue.
template <>
inline constexpr bool gc::collect_without_destructor<Node> = true;
namespace {

std::uint64_t pattern(std::uint64_t id, std::uint64_t j) { return id * 0x9e3779b97f4a7c15u ^ j; }

gc::ptr<Leaf> make_leaf(std::uint64_t id) {
  gc::ptr<Leaf> l = gc::make<Leaf>();
  l->id = id;
  for (std::uint64_t j = 0; j < 7; ++j) l->data[j] = pattern(id, j);
  return l;
}

// Every word is written so that the pages are really touched, as a server filling a response would.
gc::ptr<Node> make_node(std::uint64_t id) {
  gc::ptr<Node> n = gc::make<Node>();
  n->id = id;
  for (std::uint64_t j = 0; j < 32; ++j) n->payload[j] = pattern(id, j);
  n->a = make_leaf(id);
  if (id % 2 == 1) n->b = make_leaf(id);
  return n;
}

bool leaf_ok(const Leaf* l, std::uint64_t id) {
  if (l == nullptr || l->id != id) return false;
  for (std::uint64_t j = 0; j < 7; ++j)
    if (l->data[j] != pattern(id, j)) return false;
  return true;
}

bool node_ok(const Node* n) {
  if (n == nullptr) return false;
  for (std::uint64_t j = 0; j < 32; ++j)
    if (n->payload[j] != pattern(n->id, j)) return false;
  return leaf_ok(n->a.get(), n->id) && (n->id % 2 == 1 ? leaf_ok(n->b.get(), n->id) : !n->b);
}

// splitmix64: the Go twin draws the very same slot sequence.
struct Rng {
  std::uint64_t s = 1;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
};

long rss_kb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident < 0 ? -1 : resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

struct Sample {
  double t;
  int phase;
  long rss_kb;
};

// Reads /proc only and never touches a managed object, so it needs no part in the collector's
// protocol; it samples on a fixed grid (sleep_until) so that row k of every child is at 0.1 k s.
class Sampler {
 public:
  explicit Sampler(std::chrono::steady_clock::time_point start) : start_(start) {
    samples_.reserve(1024);
    thread_ = std::thread([this] {
      for (int k = 1; !stop_.load(); ++k) {
        std::this_thread::sleep_until(start_ + k * kSamplePeriod);
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        samples_.push_back({t, phase.load(), rss_kb()});
      }
    });
  }
  std::vector<Sample> finish() {
    stop_.store(true);
    thread_.join();
    return std::move(samples_);
  }
  std::atomic<int> phase{1};

 private:
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::vector<Sample> samples_;
  std::thread thread_;
};

struct Workload {
  gc::ptr<gc::ptr<Node>[]> table = gc::make<gc::ptr<Node>[]>(kSlots);
  Rng rng;
  std::uint64_t next_id = 0;

  Workload() {
    for (std::size_t i = 0; i < kSlots; ++i) table[i] = make_node(next_id++);
  }
  // Paced in batches of 1000: finer sleeps would mostly measure the timer.
  void run(long ops) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < ops; ++i) {
      table[rng.next() % kSlots] = make_node(next_id++);
      if (i % 1000 == 999)
        std::this_thread::sleep_until(
            start + std::chrono::nanoseconds((i + 1) * 1'000'000'000L / kOpsPerSecond));
    }
  }
};

bool run_tricolor(const bench::Options&) {
  const auto start = std::chrono::steady_clock::now();
  Sampler sampler(start);
  Workload w;
  w.run(kPhase1Ops);

  sampler.phase.store(2);
  gc::ptr<gc::ptr<Node>[]> spike = gc::make<gc::ptr<Node>[]>(kSpikeNodes);
  for (std::size_t i = 0; i < kSpikeNodes; ++i) spike[i] = make_node(w.next_id++);
  w.run(kSpikeOps);
  spike = nullptr;

  sampler.phase.store(3);
  w.run(kPhase3Ops);
  const long end_rss = rss_kb();
  const std::uint64_t num_gc = gc::read_stats().num_gc;
  const std::vector<Sample> samples = sampler.finish();

  for (const Sample& s : samples) std::printf("SAMPLE %.3f %d %ld\n", s.t, s.phase, s.rss_kb);
  std::printf("STATS num_gc=%llu end_rss_kb=%ld\n", static_cast<unsigned long long>(num_gc),
              end_rss);
  for (std::size_t i = 0; i < kSlots; ++i)
    if (!node_ok(w.table[i].get())) {
      std::fprintf(stderr, "rss_timeline: slot %zu holds a corrupt node\n", i);
      return false;
    }
  return true;
}

// The Go child goes through the same spawn_child path as tricolor's (pipe, timeout, RESULT line):
// the child process replaces itself with the Go program, which prints the same lines.
const char* go_binary() {
  static const char* const path = TRICOLOR_RSS_TIMELINE_GO;
  return path[0] != '\0' && ::access(path, X_OK) == 0 ? path : nullptr;
}

void exec_go(const bench::Options&) {
  std::fflush(stdout);
  ::execl(go_binary(), go_binary(), static_cast<char*>(nullptr));
  std::perror("rss_timeline: exec of the Go program failed");
  std::_Exit(127);
}

// The go impl's run is never called: its setup does not return.
bool unreachable(const bench::Options&) { return false; }

// --- driver --------------------------------------------------------------------------------------

struct Config {
  Config(const char* label_, const char* impl_, const char* memlimit_)
      : label(label_), impl(impl_), memlimit(memlimit_) {}
  const char* label;
  const char* impl;
  const char* memlimit;  // nullptr: GOMEMLIMIT unset
  std::vector<Sample> samples;
  long peak_kb = 0, end_kb = -1;
  unsigned long long num_gc = 0;
  double seconds = 0;
  std::string failure;  // empty: ran; otherwise why there is no column
};

void parse(const std::string& out, Config& c) {
  bench::for_each_line(out, [&](const std::string& line) {
    Sample s{};
    if (std::sscanf(line.c_str(), "SAMPLE %lf %d %ld", &s.t, &s.phase, &s.rss_kb) == 3)
      c.samples.push_back(s);
    else
      std::sscanf(line.c_str(), "STATS num_gc=%llu end_rss_kb=%ld", &c.num_gc, &c.end_kb);
  });
}

double mib(long kb) { return static_cast<double>(kb) / 1024.0; }

int drive(const bench::Program& p, const bench::Options& o, const char* argv0) {
  std::vector<Config> configs = {{"tricolor", "tricolor", nullptr},
                                 {"tricolor+limit", "tricolor", "150MiB"},
                                 {"go", "go", nullptr},
                                 {"go+limit", "go", "150MiB"}};
  int status = 0;
  for (Config& c : configs) {
    const bench::Impl* impl = nullptr;
    for (const bench::Impl& i : p.impls)
      if (std::string(i.name) == c.impl) impl = &i;
    if (!impl->available) {
      c.failure = std::string("skipped: ") + impl->why_missing;
      std::printf("%s: the Go peer is skipped: %s\n", c.label, impl->why_missing);
      continue;
    }
    ::setenv("GOGC", "100", 1);
    if (c.memlimit != nullptr)
      ::setenv("GOMEMLIMIT", c.memlimit, 1);
    else
      ::unsetenv("GOMEMLIMIT");
    std::fprintf(stderr, "[rss_timeline] %s ...\n", c.label);
    const bench::detail::ChildRun run = bench::detail::spawn_child(argv0, *impl, o);
    if (!run.ok) {
      c.failure = "FAILED: " + run.failure;
      std::printf("%s: FAILED: %s; its stdout:\n", c.label, run.failure.c_str());
      bench::detail::print_indented(run.output);
      status = 1;
      continue;
    }
    parse(run.output, c);
    c.peak_kb = run.rss_kb;
    c.seconds = run.seconds;
  }

  std::printf(
      "RSS over time, GOGC=100 everywhere, +limit = GOMEMLIMIT=150MiB; each cell: phase "
      "and RSS in MiB\n%6s",
      "time_s");
  std::size_t rows = 0;
  for (const Config& c : configs) {
    if (c.failure.empty()) std::printf(" | %16s", c.label);
    rows = std::max(rows, c.samples.size());
  }
  std::printf("\n");
  for (std::size_t r = 0; r < rows; ++r) {
    std::printf("%6.1f", static_cast<double>(r + 1) * 0.1);
    for (const Config& c : configs) {
      if (!c.failure.empty()) continue;
      if (r < c.samples.size())
        std::printf(" | %5d %10.1f", c.samples[r].phase, mib(c.samples[r].rss_kb));
      else
        std::printf(" | %16s", "");
    }
    std::printf("\n");
  }

  std::printf("\n");
  for (const Config& c : configs) {
    if (!c.failure.empty()) {
      std::printf("SUMMARY %-15s %s\n", c.label, c.failure.c_str());
      continue;
    }
    std::vector<double> steady;
    for (const Sample& s : c.samples)
      if (s.phase == 1) steady.push_back(mib(s.rss_kb));
    std::printf(
        "SUMMARY %-15s phase1_median_MiB=%.1f peak_MiB=%.1f end_phase3_MiB=%.1f num_gc=%llu "
        "seconds=%.2f\n",
        c.label, bench::detail::median(steady), mib(c.peak_kb), mib(c.end_kb), c.num_gc, c.seconds);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const bool have_go = go_binary() != nullptr;
  const bench::Program program{"rss_timeline",
                               "unused",
                               0,
                               0,
                               0,
                               /*same_output=*/false,
                               {{"tricolor", true, "", nullptr, &run_tricolor},
                                {"go", have_go,
                                 TRICOLOR_RSS_TIMELINE_GO[0] == '\0'
                                     ? "no go tool was found when the bench was configured"
                                     : "the Go program " TRICOLOR_RSS_TIMELINE_GO " is missing",
                                 have_go ? &exec_go : nullptr, &unreachable}}};
  bench::Options o;
  if (!bench::detail::parse_args(program, argc, argv, o)) return 2;
  if (!o.impl.empty()) return bench::detail::run_child(program, o);
  return drive(program, o, argc > 0 ? argv[0] : program.name);
}
