// bench/driver.hpp — the driver/child harness shared by bench_binary_trees and bench_gcbench
// (bench_rss_timeline uses its parsing, child mode and spawn_child with a driver of its own;
// bench_gc_latency uses run_program, the fork/exec/pipe/wait underneath spawn_child, for its own
// children and its Go twin).
//
// A program built on this header has two modes:
//
//   child mode   `bench_X --impl=NAME [--depth=N] [--threads=T] [--repeat=R]`
//                Runs the workload with one implementation (tricolor, boehm, shared_ptr,
//                new_delete) in this process, R times (default 1); an implementation that is a
//                twin in another language (Impl::program, e.g. go) is exec'd with the same
//                --depth/--threads/--repeat and prints the same lines. Each run prints the
//                program's normal output, verifies its checks (node counts etc.; a failed check
//                exits with status 1) and then prints one machine-readable line:
//                  RESULT impl=<name> depth=<d> threads=<t> seconds=<wall> peak_rss_kb=<ru_maxrss>
//                `seconds` is the wall-clock time of the workload alone (process start-up and, for
//                Boehm, GC_INIT are excluded); `peak_rss_kb` is getrusage(RUSAGE_SELF).ru_maxrss,
//                i.e. the peak resident set of the whole process so far (so with R > 1 it is the
//                peak over all runs).
//
//   driver mode  `bench_X [--depth=N] [--threads=T] [--repeat=R] [--timeout=S] [--verbose]`
//                For every implementation that was compiled in, runs R (default 3) children,
//                each a fresh process (fork + exec of /proc/self/exe with --impl=NAME), so that
//                each one's peak RSS is its own and no implementation inherits another's heap. It
//                prints the first child's program output once (all of them with --verbose), then a
//                table with the median / min / max time and the median peak RSS per implementation,
//                and a line for every implementation that is not available. The children inherit
//                the environment (GOGC, GOMEMLIMIT, GODEBUG=gctrace=1 ... reach tricolor) and
//                stderr. A child that fails (check failure, crash, no RESULT line, or killed after
//                --timeout seconds, default 600) is reported as FAILED with its exit status or
//                signal, and the driver then exits with status 1.
//
// The fork (detail::run_program) happens before the driver touches any collector, and only
// async-signal-safe calls (dup2, alarm, execv; write and _exit if execv fails) run between fork and
// exec. Peak RSS of a child includes the few MiB the forked driver image had resident before exec
// (Linux carries ru_maxrss across exec); that is the same small constant for every implementation.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

// Calls f(line) for each line of `text`, without the newline.
template <class F>
void for_each_line(const std::string& text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    f(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

struct Options {
  std::string impl;      // empty: driver mode
  int depth = 0;         // the program's size parameter
  int threads = 1;       // worker threads inside one run
  int repeat = 0;        // 0: the mode's default (driver 3, child 1)
  int timeout_s = 600;   // driver: a child running longer is killed (SIGALRM)
  bool verbose = false;  // driver: print every child's program output
};

struct Impl {
  const char* name;
  bool available;
  const char* why_missing;        // shown when !available
  void (*setup)(const Options&);  // once per process, before the first timed run; may be null
  bool (*run)(const Options&);    // one run; prints the program output; false = check failed
  // A twin in another language (bench/go/...) instead of setup/run: this executable, run as
  // `program --depth=N --threads=T --repeat=R`, prints the same output and RESULT lines. Child mode
  // execs it, so `--impl=go` is a child like the others (and its peak RSS is its own).
  const char* program = nullptr;
};

struct Program {
  const char* name;           // for messages, e.g. "binary_trees"
  const char* depth_meaning;  // for --help
  int default_depth;
  int min_depth;
  int max_depth;
  bool same_output;  // driver: every child must print the same program output
  std::vector<Impl> impls;
};

namespace detail {

// Parses a decimal number of at most digits10 digits (no sign) into `out` if it lies in lo..hi.
template <class Int>
bool parse_int(std::string_view text, Int lo, Int hi, Int& out) {
  if (text.empty() || text.size() > static_cast<std::size_t>(std::numeric_limits<Int>::digits10))
    return false;
  Int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

inline void usage(const Program& p, const char* argv0, std::FILE* to) {
  std::fprintf(
      to,
      "usage: %s [--impl=NAME] [--depth=N] [--threads=T] [--repeat=R] [--timeout=S] "
      "[--verbose]\n"
      "  --impl=NAME   run one implementation in this process (child mode); NAME is one of:",
      argv0);
  for (const Impl& i : p.impls) std::fprintf(to, " %s%s", i.name, i.available ? "" : "(n/a)");
  std::fprintf(
      to,
      "\n"
      "                without --impl: driver mode, runs every available implementation as "
      "a child process\n"
      "  --depth=N     %s (default %d, %d..%d)\n"
      "  --threads=T   worker threads per run (default 1, 1..16)\n"
      "  --repeat=R    driver: child processes per implementation (default 3); child: runs "
      "in-process (default 1)\n"
      "  --timeout=S   driver: kill a child after S seconds (default 600)\n"
      "  --verbose     driver: print every child's output, not only the first\n",
      p.depth_meaning, p.default_depth, p.min_depth, p.max_depth);
}

// One command-line argument, as for_each_arg hands it to its handler.
struct Arg {
  std::string_view text;
  // True if the argument is `key` (e.g. "--depth=") followed by a value, which goes to v.
  bool value(std::string_view key, std::string_view& v) const {
    if (text.substr(0, key.size()) != key) return false;
    v = text.substr(key.size());
    return true;
  }
};

// Hands argv[1..] one by one to handle(const Arg&), which returns false for a bad argument; that
// one is reported as "<name>: bad argument '...'" followed by usage(stderr), and parsing stops
// (false). --help and -h print usage(stdout) and exit 0.
template <class Usage, class Handle>
bool for_each_arg(const char* name, int argc, char** argv, Usage&& usage, Handle&& handle) {
  for (int k = 1; k < argc; ++k) {
    const Arg a{argv[k]};
    if (a.text == "--help" || a.text == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (!handle(a)) {
      std::fprintf(stderr, "%s: bad argument '%s'\n", name, argv[k]);
      usage(stderr);
      return false;
    }
  }
  return true;
}

inline bool parse_args(const Program& p, int argc, char** argv, Options& o) {
  o.depth = p.default_depth;
  return for_each_arg(
      p.name, argc, argv, [&](std::FILE* to) { usage(p, argv[0], to); },
      [&](const Arg& a) {
        std::string_view v;
        if (a.text == "--verbose") {
          o.verbose = true;
          return true;
        }
        if (a.value("--impl=", v)) {
          o.impl = std::string(v);
          return !o.impl.empty();
        }
        if (a.value("--depth=", v)) return parse_int(v, p.min_depth, p.max_depth, o.depth);
        if (a.value("--threads=", v)) return parse_int(v, 1, 16, o.threads);
        if (a.value("--repeat=", v)) return parse_int(v, 1, 1000, o.repeat);
        if (a.value("--timeout=", v)) return parse_int(v, 1, 86400, o.timeout_s);
        return false;
      });
}

inline long peak_rss_kb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// --- child mode ---------------------------------------------------------------------------------

inline int run_child(const Program& p, const Options& o) {
  const Impl* impl = nullptr;
  for (const Impl& i : p.impls)
    if (o.impl == i.name) impl = &i;
  if (impl == nullptr) {
    std::fprintf(stderr, "%s: unknown implementation '%s'\n", p.name, o.impl.c_str());
    return 2;
  }
  if (!impl->available) {
    std::fprintf(stderr, "%s: %s: not available (%s)\n", p.name, impl->name, impl->why_missing);
    return 2;
  }
  if (impl->program != nullptr) {
    std::string depth = "--depth=" + std::to_string(o.depth);
    std::string threads = "--threads=" + std::to_string(o.threads);
    std::string repeat = "--repeat=" + std::to_string(o.repeat > 0 ? o.repeat : 1);
    char* args[] = {const_cast<char*>(impl->program), depth.data(), threads.data(), repeat.data(),
                    nullptr};
    std::fflush(stdout);
    ::execv(impl->program, args);
    std::fprintf(stderr, "%s: execv(%s): %s\n", p.name, impl->program, std::strerror(errno));
    return 127;
  }
  if (impl->setup != nullptr) impl->setup(o);
  const int repeat = o.repeat > 0 ? o.repeat : 1;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = impl->run(o);
    const auto t1 = std::chrono::steady_clock::now();
    std::fflush(stdout);
    if (!ok) {
      std::fprintf(stderr, "%s: impl=%s depth=%d threads=%d: CHECK FAILED (see above)\n", p.name,
                   impl->name, o.depth, o.threads);
      return 1;
    }
    std::printf("RESULT impl=%s depth=%d threads=%d seconds=%.6f peak_rss_kb=%ld\n", impl->name,
                o.depth, o.threads, std::chrono::duration<double>(t1 - t0).count(), peak_rss_kb());
    std::fflush(stdout);
  }
  return 0;
}

// --- driver mode --------------------------------------------------------------------------------

struct ChildRun {
  bool ok = false;
  double seconds = 0;
  long rss_kb = 0;
  std::string output;   // stdout without the RESULT line
  std::string failure;  // why !ok
};

inline std::string describe_status(int status, int timeout_s) {
  char buf[160];
  if (WIFEXITED(status)) {
    std::snprintf(buf, sizeof buf, "exit status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGALRM)
      std::snprintf(buf, sizeof buf, "killed by SIGALRM: timed out after %d s", timeout_s);
    else
      std::snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", sig, ::strsignal(sig),
                    WCOREDUMP(status) ? ", core dumped" : "");
  } else {
    std::snprintf(buf, sizeof buf, "wait status 0x%x", status);
  }
  return buf;
}

// What run_program saw of one child process.
struct ProgramRun {
  std::string out;      // everything it wrote to stdout
  rusage usage{};       // its resource usage (wait4); all zero when it was not started
  std::string failure;  // empty: it exited with status 0; else pipe/fork error or describe_status
};

// Forks and execs `path` with `args` (args[0] is its argv[0]), its stdout a pipe that is read to
// the end, stdin and stderr inherited, killed by SIGALRM after timeout_s seconds; then waits for
// it. `who` names the caller in the message the child writes to stderr when execv fails.
inline ProgramRun run_program(const char* path, std::vector<std::string> args, int timeout_s,
                              const char* who = "bench driver") {
  ProgramRun result;
  std::vector<char*> cargv;
  for (std::string& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  const std::string exec_failed = std::string(who) + ": execv(" + path + ") failed\n";

  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.failure = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.failure = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return result;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the new descriptor
    ::alarm(static_cast<unsigned>(timeout_s));
    ::execv(path, cargv.data());
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      result.out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::wait4(pid, &status, 0, &result.usage) < 0 && errno == EINTR) {
  }
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    result.failure = describe_status(status, timeout_s);
  return result;
}

// The failure of a child that exited with status 0 without its machine-readable line.
inline constexpr const char* kNoResultLine = "exited 0 but printed no RESULT line";

inline ChildRun spawn_child(const char* argv0, const Impl& impl, const Options& o) {
  ChildRun result;
  const std::string depth = "--depth=" + std::to_string(o.depth);
  const std::string threads = "--threads=" + std::to_string(o.threads);
  const ProgramRun run =
      impl.program != nullptr
          ? run_program(impl.program, {impl.program, depth, threads, "--repeat=1"}, o.timeout_s)
          : run_program("/proc/self/exe",
                        {argv0, std::string("--impl=") + impl.name, depth, threads, "--repeat=1"},
                        o.timeout_s);

  bool have_result = false;
  for_each_line(run.out, [&](const std::string& line) {
    if (line.rfind("RESULT ", 0) == 0) {
      const char* s = std::strstr(line.c_str(), " seconds=");
      const char* r = std::strstr(line.c_str(), " peak_rss_kb=");
      if (s != nullptr && r != nullptr) {
        result.seconds = std::strtod(s + 9, nullptr);
        result.rss_kb = std::strtol(r + 13, nullptr, 10);
        have_result = true;
      }
    } else {
      result.output += line;
      result.output += '\n';
    }
  });
  if (!run.failure.empty()) {
    result.failure = run.failure;
    result.rss_kb = run.usage.ru_maxrss;
  } else if (!have_result) {
    result.failure = kNoResultLine;
  } else {
    result.ok = true;
  }
  return result;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline void print_indented(const std::string& text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::printf("  | %.*s\n", static_cast<int>(end - pos), text.data() + pos);
    pos = end + 1;
  }
}

inline int run_driver(const Program& p, const Options& o, const char* argv0) {
  const int repeat = o.repeat > 0 ? o.repeat : 3;
  std::printf(
      "%s driver: depth=%d threads=%d repeat=%d (each run: a fresh process '%s "
      "--impl=NAME --depth=%d --threads=%d')\n",
      p.name, o.depth, o.threads, repeat, argv0, o.depth, o.threads);
  std::fflush(stdout);

  struct Row {
    const Impl* impl;
    std::vector<ChildRun> runs;
    bool failed = false;
  };
  std::vector<Row> rows;
  std::string reference_output;
  std::string reference_impl;
  bool any_failed = false;

  for (const Impl& impl : p.impls) {
    if (!impl.available) continue;
    Row row{&impl, {}, false};
    for (int r = 0; r < repeat; ++r) {
      std::fprintf(stderr, "[%s] %s run %d/%d ...\n", p.name, impl.name, r + 1, repeat);
      ChildRun run = spawn_child(argv0, impl, o);
      if (!run.ok) {
        std::printf("%s: FAILED on run %d: %s\n", impl.name, r + 1, run.failure.c_str());
        if (!run.output.empty()) {
          std::printf("  its stdout:\n");
          print_indented(run.output);
        }
        row.failed = true;
        any_failed = true;
        row.runs.push_back(std::move(run));
        break;  // a broken implementation is not run again
      }
      if (reference_output.empty()) {
        reference_output = run.output;
        reference_impl = impl.name;
        std::printf("output of %s, run %d:\n", impl.name, r + 1);
        print_indented(run.output);
      } else if (o.verbose) {
        std::printf("output of %s, run %d:\n", impl.name, r + 1);
        print_indented(run.output);
      }
      if (p.same_output && run.output != reference_output) {
        std::printf("%s: OUTPUT MISMATCH on run %d (differs from %s's); its output:\n", impl.name,
                    r + 1, reference_impl.c_str());
        print_indented(run.output);
        row.failed = true;
        any_failed = true;
      }
      std::fflush(stdout);
      row.runs.push_back(std::move(run));
    }
    rows.push_back(std::move(row));
  }

  double best = 0;
  for (const Row& row : rows) {
    if (row.failed) continue;
    std::vector<double> t;
    for (const ChildRun& r : row.runs) t.push_back(r.seconds);
    const double m = median(t);
    if (best == 0 || m < best) best = m;
  }

  std::printf(
      "\n%s  depth=%d threads=%d  (median of %d runs, wall seconds of the workload; peak "
      "RSS = ru_maxrss of the child)\n",
      p.name, o.depth, o.threads, repeat);
  std::printf("%-16s %5s %10s %10s %10s %15s %8s\n", "impl", "runs", "median_s", "min_s", "max_s",
              "peak_rss_MiB", "vs_best");
  for (const Row& row : rows) {
    if (row.failed) {
      std::printf("%-16s %5zu %10s  (FAILED: %s)\n", row.impl->name, row.runs.size(), "-",
                  row.runs.back().ok ? "output mismatch" : row.runs.back().failure.c_str());
      continue;
    }
    std::vector<double> t, rss;
    for (const ChildRun& r : row.runs) {
      t.push_back(r.seconds);
      rss.push_back(static_cast<double>(r.rss_kb));
    }
    const double m = median(t);
    std::printf("%-16s %5zu %10.3f %10.3f %10.3f %15.1f %7.2fx\n", row.impl->name, row.runs.size(),
                m, *std::min_element(t.begin(), t.end()), *std::max_element(t.begin(), t.end()),
                median(rss) / 1024.0, best > 0 ? m / best : 0.0);
  }
  for (const Impl& impl : p.impls)
    if (!impl.available) std::printf("%s: not available (%s)\n", impl.name, impl.why_missing);
  std::fflush(stdout);
  return any_failed ? 1 : 0;
}

}  // namespace detail

// The whole main() of a driver/child program.
inline int main(const Program& p, int argc, char** argv) {
  Options o;
  if (!detail::parse_args(p, argc, argv, o)) return 2;
  if (!o.impl.empty()) return detail::run_child(p, o);
  return detail::run_driver(p, o, argc > 0 ? argv[0] : p.name);
}

// Runs fn(0) on the calling thread and fn(1) .. fn(threads - 1) on new threads, then joins them.
// `Scope` is constructed first thing on every new thread (and destroyed last): it registers the
// thread with a collector that needs that (Boehm). `Wait` is held by the calling thread while it
// joins (tricolor: gc::blocking_region, so a collection need not interrupt the join).
template <class Scope, class Wait, class Fn>
void run_parallel(int threads, Fn&& fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads - 1));
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&fn, t] {
      [[maybe_unused]] Scope scope;
      fn(t);
    });
  fn(0);
  [[maybe_unused]] Wait wait;
  for (std::thread& th : pool) th.join();
}

}  // namespace bench
