// gc::write_heap_profile: the published heap profile (heap_profile.hpp) as pprof's profile.proto,
// gzipped, laid out as Go's runtime/pprof writes heap profiles (writeHeapProto).
//
//   sample types  alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes
//                 (inuse_space is the default shown); period_type space/bytes; period = the rate
//   sample        one per bucket with a sample: its stack as location ids, innermost first; the
//                 four values, scaled; a numeric label "bytes" with the objects' size
//   location      one per distinct return address: address pc - 1 (inside the call), the mapping
//                 it lies in, and its lines, innermost inlined function first; the library's own
//                 functions inlined at the innermost end are left out, and so are locations that
//                 are the library's alone at the leaf end of a stack
//   function      one per distinct (name, file)
//   mapping       one per loaded object with code, the program first; has_functions and the
//                 others are set, so pprof takes the names given and does not look for binaries
//   drop_frames   the library's own functions (gc::make, gc::detail::...), which pprof hides
//                 with whatever they called, should any be left
//
// Scaling (Go's scaleHeapSample): a sample stands for objects of s bytes, each sampled with
// probability 1 - exp(-s/rate), so counts and bytes are divided by that; rate 0 or 1 leaves them.
// Strings are interned in the string table, whose entry 0 is "".
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gc/gzip_writer.hpp"
#include "gc/heap_profile.hpp"
#include "gc/proto_encoder.hpp"
#include "gc/symbolizer.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/profile.hpp"

namespace gc::detail {

namespace {

// profile.proto's field numbers.
namespace field {
constexpr std::uint32_t kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5,
                        kStringTable = 6, kDropFrames = 7, kTimeNanos = 9, kPeriodType = 11,
                        kPeriod = 12, kDefaultSampleType = 14;
}  // namespace field

constexpr const char* kLibraryFrames = "(.* )?gc::(make<|detail::).*";

class StringTable {
 public:
  StringTable() { intern(""); }
  std::int64_t intern(const std::string& s) {
    const auto [it, added] = index_.try_emplace(s, static_cast<std::int64_t>(strings_.size()));
    if (added) strings_.push_back(s);
    return it->second;
  }
  void encode(ProtoEncoder& profile) const {
    for (const std::string& s : strings_) profile.bytes_field(field::kStringTable, s);
  }

 private:
  std::unordered_map<std::string, std::int64_t> index_;
  std::vector<std::string> strings_;
};

struct ScaledValues {
  std::int64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
};

std::pair<std::int64_t, std::int64_t> scale(std::uint64_t count, std::uint64_t bytes,
                                            std::int64_t rate) {
  if (count == 0 || bytes == 0) return {0, 0};
  if (rate <= 1) return {static_cast<std::int64_t>(count), static_cast<std::int64_t>(bytes)};
  const double average = static_cast<double>(bytes) / static_cast<double>(count);
  const double factor = 1 / (1 - std::exp(-average / static_cast<double>(rate)));
  return {static_cast<std::int64_t>(static_cast<double>(count) * factor),
          static_cast<std::int64_t>(static_cast<double>(bytes) * factor)};
}

ScaledValues scaled_values(const ProfileCounts& c, std::int64_t rate) {
  const auto [alloc_objects, alloc_space] = scale(c.allocs, c.alloc_bytes, rate);
  const std::uint64_t live = c.allocs > c.frees ? c.allocs - c.frees : 0;
  const std::uint64_t live_bytes = c.alloc_bytes > c.free_bytes ? c.alloc_bytes - c.free_bytes : 0;
  const auto [inuse_objects, inuse_space] = scale(live, live_bytes, rate);
  return {alloc_objects, alloc_space, inuse_objects, inuse_space};
}

class ProfileBuilder {
 public:
  ProfileBuilder() : objects_(loaded_objects()) {}

  std::string build(const std::vector<ProfileEntry>& entries, std::int64_t rate) {
    value_type(profile_, field::kSampleType, "alloc_objects", "count");
    value_type(profile_, field::kSampleType, "alloc_space", "bytes");
    value_type(profile_, field::kSampleType, "inuse_objects", "count");
    value_type(profile_, field::kSampleType, "inuse_space", "bytes");
    for (const ProfileEntry& e : entries)
      if (e.counts.allocs != 0) sample(e, rate);
    for (std::size_t i = 0; i < objects_.size(); ++i) mapping(i);
    // Fields may come in any order: locations and functions were gathered apart, as met.
    ProtoEncoder rest;
    rest.int64_field(field::kDropFrames, strings_.intern(kLibraryFrames));
    rest.int64_field(field::kTimeNanos, wall_clock_ns());
    value_type(rest, field::kPeriodType, "space", "bytes");
    rest.int64_field(field::kPeriod, rate);
    rest.int64_field(field::kDefaultSampleType, strings_.intern("inuse_space"));
    strings_.encode(rest);
    return profile_.bytes() + locations_.bytes() + functions_.bytes() + rest.bytes();
  }

 private:
  void value_type(ProtoEncoder& into, std::uint32_t where, const char* type, const char* unit) {
    ProtoEncoder vt;
    vt.int64_field(1, strings_.intern(type));
    vt.int64_field(2, strings_.intern(unit));
    into.message_field(where, vt);
  }

  void sample(const ProfileEntry& e, std::int64_t rate) {
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < e.depth; ++i) {
      const Location location = location_for(e.stack[i]);
      // The library's own frames at the leaf end (gc::make, the allocator) are left out.
      if (ids.empty() && location.library_only && i + 1 < e.depth) continue;
      ids.push_back(location.id);
    }
    const ScaledValues v = scaled_values(e.counts, rate);
    ProtoEncoder s;
    s.packed_field(1, ids);
    s.packed_field(
        2,
        {static_cast<std::uint64_t>(v.alloc_objects), static_cast<std::uint64_t>(v.alloc_space),
         static_cast<std::uint64_t>(v.inuse_objects), static_cast<std::uint64_t>(v.inuse_space)});
    ProtoEncoder label;
    label.int64_field(1, strings_.intern("bytes"));
    label.int64_field(3, static_cast<std::int64_t>(e.size));
    s.message_field(3, label);
    profile_.message_field(field::kSample, s);
  }

  struct Location {
    std::uint64_t id = 0;
    bool library_only = false;  // every line of it is the library's own
  };

  // gc::make and gc::detail (named in full by the symbol table), or a function inlined from the
  // library's headers (whose DWARF name may be bare: "make", "allocate_for").
  static bool is_library_frame(const SourceFrame& f) {
    const std::string& name = f.function;
    return name.starts_with("gc::detail::") || name.starts_with("gc::make<") ||
           name.find(" gc::detail::") != std::string::npos ||
           name.find(" gc::make<") != std::string::npos ||
           f.file.find("/include/tricolor/") != std::string::npos;
  }

  Location location_for(std::uintptr_t return_address) {
    const auto [it, added] = locations_by_address_.try_emplace(
        return_address, Location{locations_by_address_.size() + 1, false});
    if (!added) return it->second;
    const std::uintptr_t pc = return_address - 1;  // inside the call instruction
    std::vector<SourceFrame> frames = symbolize(pc);
    // Inlined library functions at the innermost end are left out, unless they are all there is.
    std::size_t first = 0;
    while (first < frames.size() && is_library_frame(frames[first])) ++first;
    if (first == frames.size()) {
      it->second.library_only = true;
      first = 0;
    }
    ProtoEncoder location;
    location.varint_field(1, it->second.id);
    location.varint_field(2, mapping_id(pc));
    location.varint_field(3, pc);
    for (std::size_t i = first; i < frames.size(); ++i) {
      ProtoEncoder line;
      line.varint_field(1, function_id(frames[i]));
      line.int64_field(2, frames[i].line);
      location.message_field(4, line);
    }
    locations_.message_field(field::kLocation, location);
    return it->second;
  }

  std::uint64_t function_id(const SourceFrame& frame) {
    const auto [it, added] =
        function_ids_.try_emplace({frame.function, frame.file}, function_ids_.size() + 1);
    if (!added) return it->second;
    ProtoEncoder function;
    function.varint_field(1, it->second);
    function.int64_field(2, strings_.intern(frame.function));
    function.int64_field(3, strings_.intern(frame.function));
    function.int64_field(4, strings_.intern(frame.file));
    functions_.message_field(field::kFunction, function);
    return it->second;
  }

  std::uint64_t mapping_id(std::uintptr_t pc) const {
    for (std::size_t i = 0; i < objects_.size(); ++i)
      if (pc >= objects_[i].start && pc < objects_[i].limit) return i + 1;
    return 0;
  }

  void mapping(std::size_t i) {
    const LoadedObject& o = objects_[i];
    ProtoEncoder m;
    m.varint_field(1, i + 1);
    m.varint_field(2, o.start);
    m.varint_field(3, o.limit);
    m.varint_field(4, o.file_offset);
    m.int64_field(5, strings_.intern(o.path));
    m.int64_field(6, strings_.intern(o.build_id));
    for (std::uint32_t flag = 7; flag <= 10; ++flag) m.bool_field(flag, true);
    profile_.message_field(field::kMapping, m);
  }

  static std::int64_t wall_clock_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  std::vector<LoadedObject> objects_;
  StringTable strings_;
  ProtoEncoder profile_;    // sample types, samples, mappings
  ProtoEncoder locations_;  // the location fields, in the order met
  ProtoEncoder functions_;  // the function fields
  std::unordered_map<std::uintptr_t, Location> locations_by_address_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> function_ids_;
};

}  // namespace

std::string encode_heap_profile() {
  return ProfileBuilder().build(heap_profile_snapshot(),
                                static_cast<std::int64_t>(gc::mem_profile_rate()));
}

}  // namespace gc::detail

namespace gc {

bool write_heap_profile(std::ostream& out) {
  detail::ensure_registered();
  return detail::write_gzipped(detail::encode_heap_profile(), out);
}

bool write_heap_profile(const char* path) {
  if (path == nullptr) {
    std::fprintf(stderr, "tricolor: gc::write_heap_profile: the path is null\n");
    return false;
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    std::fprintf(stderr, "tricolor: gc::write_heap_profile: cannot open \"%s\": %s\n", path,
                 std::strerror(errno));
    return false;
  }
  const bool written = write_heap_profile(file);
  file.close();
  if (!written || !file) {
    std::fprintf(stderr, "tricolor: gc::write_heap_profile: cannot write \"%s\": %s\n", path,
                 std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace gc
