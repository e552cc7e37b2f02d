// The heap profile opened by Go's own tool: a program with two allocation sites whose live bytes
// differ threefold writes a profile, and `go tool pprof -top -sample_index=inuse_space` must name
// both sites with their in-use bytes in a 1:3 ratio (within 10%). The site with a third of the live
// bytes also makes as much garbage as the other keeps, which must not count as in use.
//
// Skipped when `go` is not on the PATH; ctest labels it "pprof" too (ctest -LE pprof leaves it
// out).
//
// At rate 1024, 1 KiB objects are sampled with probability 0.63: 4 MiB and 12 MiB live give about
// 2,600 and 7,800 samples, so the ratio's standard deviation is about 2.3%.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <tricolor/gc.hpp>
#include <vector>

#include "support/support.hpp"

struct ProfiledChunk {
  char bytes[1024];
};

std::vector<gc::ptr<ProfiledChunk>> g_live_chunks;

__attribute__((noinline)) void pprof_site_one_share(std::size_t live_bytes) {
  for (std::size_t done = 0; done < live_bytes; done += sizeof(ProfiledChunk)) {
    g_live_chunks.push_back(gc::make<ProfiledChunk>());
    gc::make<ProfiledChunk>();  // garbage
    gc::make<ProfiledChunk>();  // garbage
  }
}

__attribute__((noinline)) void pprof_site_three_shares(std::size_t live_bytes) {
  for (std::size_t done = 0; done < live_bytes; done += sizeof(ProfiledChunk))
    g_live_chunks.push_back(gc::make<ProfiledChunk>());
}

namespace {

std::string run(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
  }
  return out;
}

// "12.50MB" in bytes (pprof's units are powers of 1024); -1 if it is not a size.
double parse_size(const std::string& text) {
  static const std::map<std::string, double> kUnits = {
      {"B", 1}, {"kB", 1024}, {"MB", 1024.0 * 1024}, {"GB", 1024.0 * 1024 * 1024}};
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    return -1;
  }
  const auto unit = kUnits.find(text.substr(end));
  return unit == kUnits.end() ? -1 : value * unit->second;
}

// The cum column of the -top line naming `function`; -1 if there is none.
double cum_bytes(const std::string& top, const std::string& function) {
  std::istringstream lines(top);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(function) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string flat, flat_percent, sum_percent, cum;
    fields >> flat >> flat_percent >> sum_percent >> cum;
    return parse_size(cum);
  }
  return -1;
}

TEST(HeapProfilePprof, GoToolPprofShowsBothSitesInTheirRatio) {
  if (run("command -v go").empty()) GTEST_SKIP() << "go is not on the PATH";
  gc::set_mem_profile_rate(1024);
  pprof_site_one_share(4 << 20);
  pprof_site_three_shares(12 << 20);
  test::collect_clean();
  const std::string path = testing::TempDir() + "tricolor_heap_profile_pprof_test.pb.gz";
  ASSERT_TRUE(gc::write_heap_profile(path.c_str()));
  const std::string top = run("go tool pprof -top -sample_index=inuse_space '" + path + "' 2>&1");
  std::printf("%s", top.c_str());
  const double one = cum_bytes(top, "pprof_site_one_share");
  const double three = cum_bytes(top, "pprof_site_three_shares");
  ASSERT_GT(one, 0) << top;
  ASSERT_GT(three, 0) << top;
  EXPECT_NEAR(three / one, 3.0, 0.3) << top;
  EXPECT_EQ(g_live_chunks.size(), 16u * 1024);
  std::remove(path.c_str());
}

}  // namespace
