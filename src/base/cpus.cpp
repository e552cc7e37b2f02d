#include "base/cpus.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace gc::detail {

namespace {

// A cgroup's directory: Kubernetes' deepest are about 200 bytes. The buffers live on the stack of
// whichever thread asks first (a fiber's, perhaps), so they are kept small: about 4 KiB in all.
constexpr std::size_t kPathMax = 1024;
// /proc/self/cgroup and mountinfo lines of this many bytes or more are skipped: an overlay mount's
// line can be longer, a cgroup mount's has a path that fits kPathMax.
constexpr std::size_t kLineMax = 1024;

// Reads a small file whole into `buf` (NUL-terminated, cut at `size` - 1 bytes). False if it cannot
// be opened or is empty.
bool read_small_file(const char* path, char* buf, std::size_t size) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t used = 0;
  while (used < size - 1) {
    const ssize_t n = ::read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buf[used] = '\0';
  return used > 0;
}

// Calls on_line(line) for each line of the file at `path` (NUL-terminated, without its newline,
// writable) until on_line returns true. A line of kLineMax bytes or more is skipped. False if the
// file cannot be opened or a read fails (the lines before the failure were seen).
template <class OnLine>
bool for_each_line(const char* path, OnLine&& on_line) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[kLineMax];
  std::size_t used = 0;
  bool skipping = false;  // in the rest of a line too long for buf
  bool ok = true;
  for (bool done = false; !done;) {
    const ssize_t n = ::read(fd, buf + used, sizeof buf - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {  // not the end: what is left may be half a line
      ok = false;
      break;
    }
    if (n == 0) {  // the end: a last line without a newline
      buf[used] = '\0';
      if (used > 0 && !skipping) on_line(buf);
      break;
    }
    used += static_cast<std::size_t>(n);
    std::size_t start = 0;
    while (!done) {
      char* const newline = static_cast<char*>(std::memchr(buf + start, '\n', used - start));
      if (newline == nullptr) break;
      *newline = '\0';
      done = !skipping && on_line(buf + start);
      skipping = false;
      start = static_cast<std::size_t>(newline - buf) + 1;
    }
    std::memmove(buf, buf + start, used - start);
    used -= start;
    if (used == sizeof buf - 1) {  // no newline in a full buffer
      skipping = true;
      used = 0;
    }
  }
  ::close(fd);
  return ok;
}

// Splits `text` in place at each `separator` into at most `max` fields (the last keeps any
// separators left); returns how many.
int split(char* text, char separator, char** fields, int max) {
  int n = 0;
  for (char* p = text; n < max;) {
    fields[n++] = p;
    if (n == max) break;
    char* const end = std::strchr(p, separator);
    if (end == nullptr) break;
    *end = '\0';
    p = end + 1;
  }
  return n;
}

// Whether the comma-separated `list` holds `token`.
bool has_token(const char* list, const char* token) {
  const std::size_t length = std::strlen(token);
  for (const char* p = list; *p != '\0';) {
    const char* end = std::strchr(p, ',');
    if (end == nullptr) end = p + std::strlen(p);
    if (static_cast<std::size_t>(end - p) == length && std::strncmp(p, token, length) == 0)
      return true;
    p = *end == ',' ? end + 1 : end;
  }
  return false;
}

// mountinfo writes a space, tab, newline or backslash in a path as \ooo: undone in place.
void unescape_octal(char* s) {
  char* out = s;
  for (const char* p = s; *p != '\0';) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
        p[3] <= '7') {
      *out++ = static_cast<char>((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
      p += 4;
    } else {
      *out++ = *p++;
    }
  }
  *out = '\0';
}

bool append(char* dst, std::size_t size, const char* a, const char* b = "") {
  const std::size_t used = std::strlen(dst), la = std::strlen(a), lb = std::strlen(b);
  if (used + la + lb >= size) return false;
  std::memcpy(dst + used, a, la);
  std::memcpy(dst + used + la, b, lb + 1);
  return true;
}

// A number at the start of `text`; false if none.
bool parse_number(const char* text, long long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(text, &end, 10);
  return end != text && errno == 0;
}

// The file `name` ("/cpu.max") of the cgroup directory `dir`, read whole into `text`.
bool read_cgroup_file(const char* dir, const char* name, char (&text)[64]) {
  char path[kPathMax + 32] = "";
  return append(path, sizeof path, dir, name) && read_small_file(path, text, sizeof text);
}

// One cgroup directory's own limit in CPUs, 0 for none.
double v1_limit(const char* dir) {
  char text[64];
  long long quota = 0, period = 0;
  if (!read_cgroup_file(dir, "/cpu.cfs_quota_us", text) || !parse_number(text, quota) ||
      quota <= 0 || !read_cgroup_file(dir, "/cpu.cfs_period_us", text) ||
      !parse_number(text, period) || period <= 0)
    return 0;
  return static_cast<double>(quota) / static_cast<double>(period);
}

double v2_limit(const char* dir) {
  char text[64];
  if (!read_cgroup_file(dir, "/cpu.max", text)) return 0;
  char* fields[2];
  long long quota = 0, period = 0;
  if (split(text, ' ', fields, 2) != 2 || !parse_number(fields[0], quota) || quota <= 0 ||
      !parse_number(fields[1], period) || period <= 0)
    return 0;  // "max 100000": no limit
  return static_cast<double>(quota) / static_cast<double>(period);
}

// The process's cgroup in one hierarchy: v1's with the cpu controller, or v2's ("0::/path").
struct Cgroup {
  bool v1 = false;
  bool found = false;
  char path[kPathMax] = "";
};

// Whether `path` has a ".." part.
bool climbs_out(const char* path) {
  for (const char* p = std::strstr(path, "/.."); p != nullptr; p = std::strstr(p + 1, "/.."))
    if (p[3] == '/' || p[3] == '\0') return true;
  return false;
}

// The process's cgroup in the hierarchy `v1` says, from /proc/self/cgroup. A path that climbs out
// of the namespace (`/..`, a process moved out of its cgroup namespace's root) is not used.
Cgroup find_cgroup(const char* self_cgroup, bool v1) {
  Cgroup c;
  c.v1 = v1;
  for_each_line(self_cgroup, [&](char* line) {
    char* fields[3];
    if (split(line, ':', fields, 3) != 3) return false;
    const bool is_v2 = std::strcmp(fields[0], "0") == 0 && fields[1][0] == '\0';
    if (v1 ? is_v2 || !has_token(fields[1], "cpu") : !is_v2) return false;
    if (std::strlen(fields[2]) >= sizeof c.path || climbs_out(fields[2])) return true;
    std::strcpy(c.path, fields[2]);
    c.found = true;
    return true;
  });
  return c;
}

// The directory of `cgroup` under the mount of its hierarchy, into `dir`; the length of the
// mount point's part into `top` (the walk up stops there: above it is not visible).
bool find_directory(const CgroupFiles& files, const Cgroup& cgroup, char (&dir)[kPathMax],
                    std::size_t& top) {
  bool found = false;
  for_each_line(files.mountinfo, [&](char* line) {
    // "id parent major:minor root mount_point options [optional...] - fstype source superoptions"
    char* fields[16];
    const int n = split(line, ' ', fields, 16);
    int dash = 6;
    while (dash < n && std::strcmp(fields[dash], "-") != 0) ++dash;
    if (dash + 3 >= n) return false;
    const char* const fstype = fields[dash + 1];
    const char* const super_options = fields[dash + 3];
    if (cgroup.v1 ? std::strcmp(fstype, "cgroup") != 0 || !has_token(super_options, "cpu")
                  : std::strcmp(fstype, "cgroup2") != 0)
      return false;
    char* const root = fields[3];
    char* const mount_point = fields[4];
    unescape_octal(root);
    unescape_octal(mount_point);
    // The cgroup's path is relative to its namespace's root; a mount of a subtree (root not "/")
    // shows only what lies under it.
    const std::size_t root_length = std::strcmp(root, "/") == 0 ? 0 : std::strlen(root);
    if (std::strncmp(cgroup.path, root, root_length) != 0 ||
        (cgroup.path[root_length] != '/' && cgroup.path[root_length] != '\0'))
      return false;
    dir[0] = '\0';
    if (!append(dir, kPathMax, files.root, mount_point)) return false;
    top = std::strlen(dir);
    if (!append(dir, kPathMax, cgroup.path + root_length)) return false;
    found = true;
    return true;
  });
  if (!found) return false;
  for (std::size_t length = std::strlen(dir); length > top && dir[length - 1] == '/';)
    dir[--length] = '\0';
  return true;
}

// The tightest limit of `cgroup` and its ancestors up to its mount point (the kernel throttles at
// each level); -1 if its directory is not mounted where this process can see it.
double tightest_limit(const CgroupFiles& files, const Cgroup& cgroup) {
  char dir[kPathMax];
  std::size_t top = 0;
  if (!cgroup.found || !find_directory(files, cgroup, dir, top)) return -1;
  double tightest = 0;
  for (;;) {
    const double limit = cgroup.v1 ? v1_limit(dir) : v2_limit(dir);
    if (limit > 0 && (tightest == 0 || limit < tightest)) tightest = limit;
    if (std::strlen(dir) <= top) break;
    char* const slash = std::strrchr(dir + top, '/');
    if (slash == nullptr) break;
    *slash = '\0';
  }
  return tightest;
}

}  // namespace

double cgroup_cpu_limit(const CgroupFiles& files) {
  // The v1 cpu controller where the process has one (a hybrid system's v2 hierarchy then has no
  // cpu controller), else v2's cpu.max.
  const double v1 = tightest_limit(files, find_cgroup(files.self_cgroup, /*v1=*/true));
  if (v1 >= 0) return v1;
  return std::max(0.0, tightest_limit(files, find_cgroup(files.self_cgroup, /*v1=*/false)));
}

int cpus_allowed(int affinity_cpus, double cgroup_limit) {
  if (!(cgroup_limit > 0)) return affinity_cpus;
  const double rounded = std::max(2.0, std::ceil(cgroup_limit));
  return rounded < affinity_cpus ? static_cast<int>(rounded) : affinity_cpus;
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
  const int saved_errno = errno;  // the first call may come from any program thread
  // The CPUs this process may run on (as Go sets GOMAXPROCS): taskset limits the collector too.
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    n = CPU_COUNT(&set);
  } else {
    const long c = ::sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? static_cast<int>(c) : 1;
  }
  n = cpus_allowed(n, cgroup_cpu_limit());
  errno = saved_errno;
  // The first answer stays: a thread with a narrower affinity mask could otherwise change the
  // count after the mark worker count was read from it.
  int none = 0;
  return g_cpu_count.compare_exchange_strong(none, n, std::memory_order_relaxed) ? n : none;
}

int parse_runnable_threads(const char* loadavg) {
  // "1-minute 5-minute 15-minute runnable/threads last-pid"
  const char* p = loadavg;
  for (int field = 0; field < 3; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return -1;
    ++p;
  }
  long long runnable = 0;
  if (!parse_number(p, runnable) || runnable < 0) return -1;
  const char* slash = p;
  while (*slash >= '0' && *slash <= '9') ++slash;
  if (*slash != '/') return -1;
  return static_cast<int>(std::min<long long>(runnable, 1 << 30));
}

int runnable_threads() {
  // Opened each time (about a microsecond): a descriptor kept open could be closed under the
  // library by a program that closes every descriptor it does not know, or reused for another file.
  char text[128];
  if (!read_small_file("/proc/loadavg", text, sizeof text)) return -1;
  return parse_runnable_threads(text);
}

}  // namespace gc::detail
