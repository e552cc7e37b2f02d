// The CPU count and the run-queue reading (src/base/cpus.hpp), alone: the cgroup CPU limit found
// from files a test writes (cgroup v1 and v2, a limit on an ancestor, a namespace's subtree mount,
// escaped paths, lines too long), the rule that turns it into a CPU count, and /proc/loadavg's
// runnable count.
#include "base/cpus.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using gc::detail::cgroup_cpu_limit;
using gc::detail::CgroupFiles;
using gc::detail::cpus_allowed;
using gc::detail::parse_runnable_threads;

// A fake /proc/self/cgroup, /proc/self/mountinfo and cgroup tree under a directory of its own.
class FakeCgroups {
 public:
  FakeCgroups() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cpus_test.XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
  }
  ~FakeCgroups() { std::filesystem::remove_all(root_); }
  FakeCgroups(const FakeCgroups&) = delete;
  FakeCgroups& operator=(const FakeCgroups&) = delete;

  void write(const std::string& relative, const std::string& text) {
    const std::filesystem::path path = std::filesystem::path(root_) / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  double limit() {
    self_ = root_ + "/proc/self/cgroup";
    mountinfo_ = root_ + "/proc/self/mountinfo";
    return cgroup_cpu_limit(CgroupFiles{self_.c_str(), mountinfo_.c_str(), root_.c_str()});
  }

 private:
  std::string root_, self_, mountinfo_;
};

constexpr const char* kV2Mount =
    "31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate\n";

TEST(CgroupCpuLimit, ReadsCgroupV2CpuMax) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/app\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/cgroup/app/cpu.max", "150000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 1.5);
}

TEST(CgroupCpuLimit, NoneWhenCpuMaxSaysMax) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/app\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/cgroup/app/cpu.max", "max 100000\n");
  EXPECT_EQ(fake.limit(), 0);
}

// The kernel throttles at every level: an unlimited leaf in a limited parent is limited.
TEST(CgroupCpuLimit, TheTightestAncestorCounts) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/pod/leaf\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/cgroup/pod/leaf/cpu.max", "max 100000\n");
  fake.write("sys/fs/cgroup/pod/cpu.max", "200000 100000\n");
  fake.write("sys/fs/cgroup/cpu.max", "800000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 2.0);
}

// A hybrid system (this one's kind): the cpu controller on cgroup v1, mounted with cpuacct.
TEST(CgroupCpuLimit, ReadsCgroupV1CfsQuota) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "4:memory:/job\n3:cpu,cpuacct:/job\n1:name=systemd:/\n0::/job\n");
  fake.write("proc/self/mountinfo",
             std::string(kV2Mount) +
                 "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup "
                 "rw,cpu,cpuacct\n"
                 "33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n");
  fake.write("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "300000\n");
  fake.write("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
  fake.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  fake.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  // The v2 file would say otherwise: the v1 controller is the one that throttles.
  fake.write("sys/fs/cgroup/job/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 3.0);
}

TEST(CgroupCpuLimit, NoneWhenTheV1QuotaIsMinusOne) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "2:cpu:/\n");
  fake.write("proc/self/mountinfo",
             "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n");
  fake.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
  fake.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(fake.limit(), 0);
}

// A mount of a subtree (a container's view: the mount's root is the container's cgroup) shows
// the cgroup under the mount point without the subtree's part; an escaped space is a space.
TEST(CgroupCpuLimit, FindsTheCgroupUnderASubtreeMountWithAnEscapedPath) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/kube/pod1/app\n");
  fake.write("proc/self/mountinfo",
             "40 23 0:28 /kube/pod1 /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n");
  fake.write("sys/fs/my cgroup/app/cpu.max", "250000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 2.5);
}

TEST(CgroupCpuLimit, SkipsALineTooLongAndReadsTheNext) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/app\n");
  fake.write("proc/self/mountinfo",
             "30 23 0:27 / /" + std::string(10000, 'x') + " rw - tmpfs tmpfs rw\n" + kV2Mount);
  fake.write("sys/fs/cgroup/app/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 1.0);
}

// Lines that straddle the reader's buffer, many of them, and a last line without its newline.
TEST(CgroupCpuLimit, ReadsPastManyShortLinesToALastLineWithoutANewline) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/app");
  std::string mounts;
  for (int i = 0; i < 200; ++i)
    mounts += std::to_string(100 + i) + " 23 0:9" + std::to_string(i) + " / /mnt/m" +
              std::to_string(i) + " rw - tmpfs tmpfs rw\n";
  mounts += std::string(kV2Mount, std::strlen(kV2Mount) - 1);  // its newline cut
  fake.write("proc/self/mountinfo", mounts);
  fake.write("sys/fs/cgroup/app/cpu.max", "300000 100000");
  EXPECT_DOUBLE_EQ(fake.limit(), 3.0);
}

// A v1 cpu controller whose hierarchy is not mounted where the process can see it: v2 then.
TEST(CgroupCpuLimit, FallsBackToV2WhenTheV1HierarchyIsNotVisible) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "3:cpu,cpuacct:/job\n0::/job\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/cgroup/job/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 2.0);
}

// A process moved out of its cgroup namespace's root sees a path that climbs out of the mount.
TEST(CgroupCpuLimit, NoneForAPathThatClimbsOutOfTheMount) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/../other\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/other/cpu.max", "100000 100000\n");
  EXPECT_EQ(fake.limit(), 0);
}

// A directory whose name only begins with two dots is a directory like any other.
TEST(CgroupCpuLimit, ADirectoryNamedWithLeadingDotsIsNotAClimb) {
  FakeCgroups fake;
  fake.write("proc/self/cgroup", "0::/..data\n");
  fake.write("proc/self/mountinfo", kV2Mount);
  fake.write("sys/fs/cgroup/..data/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(fake.limit(), 1.0);
}

TEST(CgroupCpuLimit, NoneWithoutTheFiles) {
  FakeCgroups fake;
  EXPECT_EQ(fake.limit(), 0);
  fake.write("proc/self/cgroup", "0::/app\n");
  EXPECT_EQ(fake.limit(), 0);  // no mountinfo
  fake.write("proc/self/mountinfo", kV2Mount);
  EXPECT_EQ(fake.limit(), 0);  // no cpu.max
  fake.write("sys/fs/cgroup/app/cpu.max", "garbage\n");
  EXPECT_EQ(fake.limit(), 0);
}

// Go 1.25's rule: the limit rounded up, at least 2, never above the affinity mask's CPUs.
TEST(CpusAllowed, RoundsTheLimitUpToAtLeastTwoWithinTheAffinityMask) {
  EXPECT_EQ(cpus_allowed(64, 0), 64);
  EXPECT_EQ(cpus_allowed(64, 2.0), 2);
  EXPECT_EQ(cpus_allowed(64, 2.1), 3);
  EXPECT_EQ(cpus_allowed(64, 0.5), 2);
  EXPECT_EQ(cpus_allowed(1, 0.5), 1);
  EXPECT_EQ(cpus_allowed(4, 8.0), 4);
}

TEST(CpuCount, IsWithinTheAffinityMask) {
  cpu_set_t set;
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_GE(gc::detail::cpu_count(), 1);
  EXPECT_LE(gc::detail::cpu_count(), CPU_COUNT(&set));
}

TEST(RunnableThreads, ParsesLoadavg) {
  EXPECT_EQ(parse_runnable_threads("0.10 0.39 0.96 3/113 9405\n"), 3);
  EXPECT_EQ(parse_runnable_threads("12.00 11.50 10.00 17/2048 123456"), 17);
  EXPECT_EQ(parse_runnable_threads("0.10 0.39 0.96 x/113 9405\n"), -1);
  EXPECT_EQ(parse_runnable_threads("0.10 0.39 0.96 3 9405\n"), -1);
  EXPECT_EQ(parse_runnable_threads("garbage"), -1);
  EXPECT_EQ(parse_runnable_threads(""), -1);
}

// The caller runs, so the kernel counts at least one runnable thread.
TEST(RunnableThreads, CountsTheCaller) {
  if (::access("/proc/loadavg", R_OK) != 0) GTEST_SKIP() << "no /proc/loadavg";
  EXPECT_GE(gc::detail::runnable_threads(), 1);
}

}  // namespace
