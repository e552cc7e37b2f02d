// bench_memory_limit — how closely a memory limit is kept: tricolor next to Go, under GOGC=off and
// GOMEMLIMIT=256MiB, peak resident memory of the whole process and the number of cycles.
//
// Why: GOMEMLIMIT is a promise about the process's memory, not the heap's. Go counts everything
// its runtime maps (the heap, span descriptors, bitmaps, stacks) against the limit; a collector
// that counted only its heap would overshoot by its bookkeeping, which for small objects is tens
// of MiB. With GOGC=off the limit alone decides when to collect, so the peak and the cycle count
// show how precisely each runtime paces itself to it.
//
// Workload (bench/go/memory_limit/main.go is the same program in Go): a ring of 102,400 slots
// (100 MiB of 1016-byte blocks: 1016 bytes, pointer-free, take 1024-byte slots in both runtimes)
// whose slots are replaced in turn by fresh blocks until --depth GiB (default 4) have been
// allocated. Each block's first and last bytes are written; at the end every slot is checked to
// hold the last block written into it.
//   tricolor   gc::make<Block>() into a gc::make<gc::ptr<Block>[]> ring
//   go         the Go twin, built with the bench (bench/CMakeLists.txt, TRICOLOR_MEMORY_LIMIT_GO);
//              reported as skipped without a go tool
//
// The driver sets GOGC=off and GOMEMLIMIT=256MiB for every child unless the environment already
// has them (then it passes them on), runs tricolor and Go in turn --repeat times (default 3), each
// a fresh process, and prints the median, least and most of the peak RSS (ru_maxrss), the cycle
// count and the workload's wall time, and one line per implementation for scripts:
//   SUMMARY impl=<name> runs=<r> peak_rss_MiB=.. num_gc=.. seconds=..
// tricolor's child also prints what its limit counted at the end (gc::stats::sys - heap_released)
// and how much of it was the collector's bookkeeping (metadata_sys).
//
// Usage: bench_memory_limit [--depth=GiB] [--repeat=R] [--timeout=S]
//        bench_memory_limit --impl=tricolor|go [--depth=GiB]   (one child run)
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tricolor/gc.hpp>
#include <vector>

#include "driver.hpp"

namespace {

constexpr std::size_t kRing = (std::size_t{100} << 20) / 1024;

struct Block {
  unsigned char data[1016];
};

std::size_t allocations(const bench::Options& o) {
  return (static_cast<std::size_t>(o.depth) << 30) / sizeof(Block);
}

bool run_tricolor(const bench::Options& o) {
  const std::size_t n = allocations(o);
  auto ring = gc::make<gc::ptr<Block>[]>(kRing);
  for (std::size_t i = 0; i < n; ++i) {
    gc::ptr<Block> b = gc::make<Block>();
    b->data[0] = static_cast<unsigned char>(i);
    b->data[1015] = static_cast<unsigned char>(i / 256);
    ring[i % kRing] = std::move(b);
  }
  for (std::size_t j = 0; j < kRing; ++j) {
    const std::size_t last = (n - 1 - j) / kRing * kRing + j;
    if (ring[j]->data[0] != static_cast<unsigned char>(last) ||
        ring[j]->data[1015] != static_cast<unsigned char>(last / 256)) {
      std::fprintf(stderr, "memory_limit: slot %zu does not hold block %zu\n", j, last);
      return false;
    }
  }
  const gc::stats s = gc::read_stats();
  std::printf("STATS num_gc=%llu counted_kb=%llu metadata_kb=%llu\n",
              static_cast<unsigned long long>(s.num_gc),
              static_cast<unsigned long long>((s.sys - s.heap_released) >> 10),
              static_cast<unsigned long long>(s.metadata_sys >> 10));
  return true;
}

const char* go_binary() {
  static const char* const path = TRICOLOR_MEMORY_LIMIT_GO;
  return path[0] != '\0' && ::access(path, X_OK) == 0 ? path : nullptr;
}

// --- driver --------------------------------------------------------------------------------------

struct Row {
  const bench::Impl* impl;
  std::vector<double> rss_mib, num_gc, seconds;
  std::string failure;  // empty: every run ran
};

double least(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double most(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

int drive(const bench::Program& p, const bench::Options& o, const char* argv0) {
  ::setenv("GOGC", "off", /*overwrite=*/0);
  ::setenv("GOMEMLIMIT", "256MiB", 0);
  const int repeat = o.repeat > 0 ? o.repeat : 3;
  std::printf(
      "memory_limit: GOGC=%s GOMEMLIMIT=%s, a ring of 100 MiB of 1016-byte blocks, %d GiB "
      "allocated; %d runs each, every run a fresh process\n",
      std::getenv("GOGC"), std::getenv("GOMEMLIMIT"), o.depth, repeat);
  std::vector<Row> rows;
  for (const bench::Impl& impl : p.impls) rows.push_back({&impl, {}, {}, {}, {}});
  int status = 0;
  for (int r = 0; r < repeat; ++r) {
    for (Row& row : rows) {  // in turn, so a slow minute of a shared machine hurts both alike
      if (!row.impl->available || !row.failure.empty()) continue;
      std::fprintf(stderr, "[memory_limit] %s run %d/%d ...\n", row.impl->name, r + 1, repeat);
      const bench::detail::ChildRun run = bench::detail::spawn_child(argv0, *row.impl, o);
      unsigned long long num_gc = 0, counted_kb = 0, metadata_kb = 0;
      bench::for_each_line(run.output, [&](const std::string& line) {
        std::sscanf(line.c_str(), "STATS num_gc=%llu counted_kb=%llu metadata_kb=%llu", &num_gc,
                    &counted_kb, &metadata_kb);
      });
      if (!run.ok) {
        row.failure = run.failure;
        std::printf("%s: FAILED: %s; its stdout:\n", row.impl->name, run.failure.c_str());
        bench::detail::print_indented(run.output);
        status = 1;
        continue;
      }
      std::printf("  %-9s run %d: peak RSS %6.1f MiB, %3llu cycles, %5.2f s", row.impl->name, r + 1,
                  static_cast<double>(run.rss_kb) / 1024, num_gc, run.seconds);
      if (counted_kb != 0)
        std::printf("; the limit counted %.1f MiB at the end, %.1f MiB of it bookkeeping",
                    static_cast<double>(counted_kb) / 1024,
                    static_cast<double>(metadata_kb) / 1024);
      std::printf("\n");
      row.rss_mib.push_back(static_cast<double>(run.rss_kb) / 1024);
      row.num_gc.push_back(static_cast<double>(num_gc));
      row.seconds.push_back(run.seconds);
    }
  }
  std::printf("\n%-9s | %-23s | %-17s | %s\n", "impl", "peak RSS MiB (min..max)",
              "cycles (min..max)", "seconds (min..max)");
  for (const Row& row : rows) {
    if (!row.impl->available) {
      std::printf("%-9s | skipped: %s\n", row.impl->name, row.impl->why_missing);
      std::printf("SUMMARY impl=%s status=skipped\n", row.impl->name);
      continue;
    }
    if (!row.failure.empty() || row.rss_mib.empty()) {
      std::printf("%-9s | FAILED: %s\n", row.impl->name, row.failure.c_str());
      std::printf("SUMMARY impl=%s status=FAILED\n", row.impl->name);
      continue;
    }
    std::printf("%-9s | %6.1f (%6.1f..%6.1f) | %5.0f (%4.0f..%4.0f)  | %5.2f (%.2f..%.2f)\n",
                row.impl->name, bench::detail::median(row.rss_mib), least(row.rss_mib),
                most(row.rss_mib), bench::detail::median(row.num_gc), least(row.num_gc),
                most(row.num_gc), bench::detail::median(row.seconds), least(row.seconds),
                most(row.seconds));
  }
  for (const Row& row : rows)
    if (row.impl->available && row.failure.empty() && !row.rss_mib.empty())
      std::printf("SUMMARY impl=%s runs=%zu peak_rss_MiB=%.1f num_gc=%.0f seconds=%.2f\n",
                  row.impl->name, row.rss_mib.size(), bench::detail::median(row.rss_mib),
                  bench::detail::median(row.num_gc), bench::detail::median(row.seconds));
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const bool have_go = go_binary() != nullptr;
  const bench::Program program{"memory_limit",
                               "GiB allocated",
                               4,
                               1,
                               64,
                               /*same_output=*/false,
                               {{"tricolor", true, "", nullptr, &run_tricolor},
                                {"go", have_go,
                                 TRICOLOR_MEMORY_LIMIT_GO[0] == '\0'
                                     ? "no go tool was found when the bench was configured"
                                     : "the Go program " TRICOLOR_MEMORY_LIMIT_GO " is missing",
                                 nullptr, nullptr, have_go ? go_binary() : nullptr}}};
  bench::Options o;
  if (!bench::detail::parse_args(program, argc, argv, o)) return 2;
  if (!o.impl.empty()) return bench::detail::run_child(program, o);
  return drive(program, o, argc > 0 ? argv[0] : program.name);
}
