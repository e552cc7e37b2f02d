// The heap profile (include/tricolor/profile.hpp): the sampler's rate (rate 1 samples every
// allocation, 0 none, and otherwise one sample per `rate` bytes on average), frees counted by the
// sweep, counts published as of the last collection, the protobuf and gzip writers, and a path
// that cannot be written.
//
// Each test allocates objects of a size no other test uses and reads the published counts of that
// size (gc/heap_profile.hpp), allocating on a fresh thread so that the thread's first countdown is
// drawn at the rate the test set.
#include "gc/heap_profile.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <tricolor/gc.hpp>
#include <vector>

#include "gc/gzip_writer.hpp"
#include "gc/proto_encoder.hpp"
#include "support/profile_reader.hpp"
#include "support/support.hpp"

namespace {

using gc::detail::ProfileCounts;

template <std::size_t N>
struct Blob {
  char bytes[N];
};

// The published counts of every bucket of objects of `size` bytes.
ProfileCounts published(std::size_t size) {
  ProfileCounts sum;
  for (const auto& e : gc::detail::heap_profile_snapshot()) {
    if (e.size != size) continue;
    sum.allocs += e.counts.allocs;
    sum.alloc_bytes += e.counts.alloc_bytes;
    sum.frees += e.counts.frees;
    sum.free_bytes += e.counts.free_bytes;
  }
  return sum;
}

// Allocates `n` Blob<N> on a thread of its own, keeping them in `keep` if given.
template <std::size_t N>
__attribute__((noinline)) void allocate_blobs(std::size_t n,
                                              std::vector<gc::ptr<Blob<N>>>* keep = nullptr) {
  test::in_thread([&] {
    for (std::size_t i = 0; i < n; ++i) {
      auto p = gc::make<Blob<N>>();
      if (keep != nullptr) keep->push_back(p);
    }
  });
}

TEST(HeapProfile, DefaultRateIsGos) {
  EXPECT_EQ(gc::mem_profile_rate(), 512u * 1024);
  EXPECT_EQ(gc::set_mem_profile_rate(4096), 512u * 1024);
  EXPECT_EQ(gc::set_mem_profile_rate(1), 4096u);
  EXPECT_EQ(gc::mem_profile_rate(), 1u);
}

TEST(HeapProfile, RateOneSamplesEveryAllocation) {
  gc::set_mem_profile_rate(1);
  allocate_blobs<208>(1000);
  gc::collect();
  const ProfileCounts c = published(208);
  EXPECT_EQ(c.allocs, 1000u);
  EXPECT_EQ(c.alloc_bytes, 208u * 1000);
}

TEST(HeapProfile, RateZeroSamplesNothing) {
  gc::set_mem_profile_rate(0);
  allocate_blobs<224>(100'000);
  gc::collect();
  EXPECT_EQ(published(224).allocs, 0u);
}

// Sampling is a Poisson process over bytes: an object of s bytes is sampled with probability
// 1 - exp(-s/rate). 200,000 objects of 64 bytes at rate 4096 give about 3,100 samples (standard
// deviation 55); the estimate scaled back, as the writer scales it, is the number allocated.
TEST(HeapProfile, MeanIntervalIsTheRate) {
  constexpr std::size_t kObjects = 200'000;
  constexpr double kRate = 4096;
  gc::set_mem_profile_rate(static_cast<std::size_t>(kRate));
  allocate_blobs<64>(kObjects);
  gc::collect();
  const double p = 1 - std::exp(-64 / kRate);
  const auto samples = static_cast<double>(published(64).allocs);
  EXPECT_NEAR(samples, kObjects * p, kObjects * p * 0.08);
  EXPECT_NEAR(samples / p, kObjects, kObjects * 0.08);
}

TEST(HeapProfile, SweepCountsFrees) {
  gc::set_mem_profile_rate(1);
  allocate_blobs<240>(1000);  // garbage once the thread is gone
  test::collect_clean();
  const ProfileCounts c = published(240);
  EXPECT_EQ(c.allocs, 1000u);
  EXPECT_GE(c.frees, 990u);  // a stale stack word may keep a few
  EXPECT_EQ(c.free_bytes, c.frees * 240);
}

// Counts are those of the last mark: nothing allocated since shows until the next collection.
TEST(HeapProfile, PublishedAsOfTheLastCollection) {
  gc::set_mem_profile_rate(1);
  std::vector<gc::ptr<Blob<176>>> keep;
  allocate_blobs<176>(100, &keep);
  EXPECT_EQ(published(176).allocs, 0u);
  gc::collect();
  const ProfileCounts c = published(176);
  EXPECT_EQ(c.allocs, 100u);
  EXPECT_EQ(c.frees, 0u);
}

// On this thread, so that the stack leads here (the rate's change reaches this thread at once).
__attribute__((noinline)) void heap_profile_test_site() {
  static std::vector<gc::ptr<Blob<192>>> keep;
  for (int i = 0; i < 50; ++i) keep.push_back(gc::make<Blob<192>>());
}

TEST(HeapProfile, WritesASymbolisedPprofProfile) {
  gc::set_mem_profile_rate(1);
  heap_profile_test_site();
  gc::collect();
  std::ostringstream out;
  ASSERT_TRUE(gc::write_heap_profile(out));
  const test::DecodedProfile p = test::decode_profile(out.str());
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.sample_types, (std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes",
                                                      "inuse_objects/count", "inuse_space/bytes"}));
  EXPECT_EQ(p.period_type, "space/bytes");
  EXPECT_EQ(p.period, 1);
  EXPECT_GE(p.mappings, 1u);
  bool found_site = false;
  for (std::size_t i = 0; i < p.sample_values.size(); ++i) {
    if (p.sample_values[i] != std::vector<std::uint64_t>{50, 50 * 192, 50, 50 * 192}) continue;
    for (const std::uint64_t location : p.sample_locations[i]) {
      const std::string& name = p.function_names.at(p.location_function.at(location));
      found_site |= name.find("heap_profile_test_site") != std::string::npos;
    }
  }
  EXPECT_TRUE(found_site);
  if (const char* dump = std::getenv("TRICOLOR_HEAP_PROFILE_DUMP")) gc::write_heap_profile(dump);
}

TEST(HeapProfile, UnwritablePathIsReported) {
  testing::internal::CaptureStderr();
  EXPECT_FALSE(gc::write_heap_profile("/nonexistent-directory/heap.pb.gz"));
  EXPECT_FALSE(gc::write_heap_profile(static_cast<const char*>(nullptr)));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("tricolor: gc::write_heap_profile: cannot open "
                     "\"/nonexistent-directory/heap.pb.gz\": No such file or directory"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("the path is null"), std::string::npos) << err;
}

TEST(HeapProfile, FailedStreamIsReported) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  EXPECT_FALSE(gc::write_heap_profile(out));
}

TEST(ProtoEncoder, EncodesAsProtobufDoes) {
  using gc::detail::ProtoEncoder;
  std::string v;
  gc::detail::append_varint(v, 0);
  gc::detail::append_varint(v, 1);
  gc::detail::append_varint(v, 150);
  gc::detail::append_varint(v, ~std::uint64_t{0});
  EXPECT_EQ(v, std::string("\x00\x01\x96\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 14));
  // The examples of protobuf's encoding guide.
  ProtoEncoder m;
  m.varint_field(1, 150);
  m.bytes_field(2, "testing");
  m.packed_field(4, {3, 270, 86942});
  m.varint_field(5, 0);  // a zero scalar is left out
  m.int64_field(6, -2);  // int64: two's complement, ten bytes
  EXPECT_EQ(m.bytes(), std::string("\x08\x96\x01"
                                   "\x12\x07testing"
                                   "\x22\x06\x03\x8e\x02\x9e\xa7\x05"
                                   "\x30\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                   3 + 9 + 8 + 11));
  ProtoEncoder outer;
  outer.message_field(3, m);
  EXPECT_EQ(outer.bytes().substr(0, 2), std::string("\x1a\x1f", 2));
  EXPECT_EQ(outer.bytes().substr(2), m.bytes());
}

TEST(GzipWriter, RoundTrips) {
  std::string data;
  for (int i = 0; i < 100'000; ++i) data += static_cast<char>(i * 7 % 251);
  std::ostringstream out;
  ASSERT_TRUE(gc::detail::write_gzipped(data, out));
  const std::string gz = out.str();
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip's magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_EQ(test::gunzip(gz), data);
  std::ostringstream empty;
  ASSERT_TRUE(gc::detail::write_gzipped("", empty));
  EXPECT_EQ(test::gunzip(empty.str()), "");
}

}  // namespace
