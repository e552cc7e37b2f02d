// The CPUs the library may use, and how many threads want a CPU now.
//
// cpu_count() sizes the mark workers, the pool shards and the pacer's CPU accounting. It follows
// Go 1.25's default GOMAXPROCS: the CPUs of the affinity mask, lowered to the CPU bandwidth limit
// of the process's cgroup (quota / period), rounded up and never below 2. Go reads only the
// cgroup that holds the process; the kernel throttles at every level, so here the tightest limit
// on the path from that cgroup up to its hierarchy's root counts. A container limited to 2 CPUs on
// a 64-CPU host then gets the mark workers of 2 CPUs, not of 64.
//
// runnable_threads() tells the spare-CPU mark workers (gc/mark_workers.hpp) whether a CPU is idle:
// the threads of the whole machine that run or wait for a CPU at this instant, from the kernel's
// run queues (/proc/loadavg's fourth field), the caller included.
//
// Both read files with open/read and fixed buffers: no allocation and no lock, so a thread that a
// stop of the world catches inside them holds nothing the collector needs.
#pragma once

namespace gc::detail {

// The CPUs this process may run on, read once (the files are far too slow for a pause).
int cpu_count();

// Where the cgroup files are: the real ones by default; a test points them at files of its own.
// `root` prefixes every mount point found in `mountinfo`.
struct CgroupFiles {
  const char* self_cgroup = "/proc/self/cgroup";
  const char* mountinfo = "/proc/self/mountinfo";
  const char* root = "";
};

// The tightest CPU bandwidth limit, in CPUs, of the cgroup that holds the process and its
// ancestors: cgroup v1's cpu controller (cpu.cfs_quota_us / cpu.cfs_period_us) if the process has
// one, else cgroup v2's cpu.max. 0 when there is none, or the files cannot be read.
double cgroup_cpu_limit(const CgroupFiles& files = {});

// The rule: `affinity_cpus` lowered to a limit of `cgroup_limit` CPUs (0: none), rounded up and at
// least 2.
int cpus_allowed(int affinity_cpus, double cgroup_limit);

// Threads that run or wait for a CPU on the whole machine now, the caller included; -1 if the
// kernel does not say.
int runnable_threads();
// The same, from the text of /proc/loadavg ("0.10 0.39 0.96 3/113 9405"); -1 if malformed.
int parse_runnable_threads(const char* loadavg);

}  // namespace gc::detail
