// Reads back what gc::write_heap_profile writes, for tests: gunzips it (zlib) and decodes the
// profile.proto fields the tests look at — the string table, sample types, samples' values and
// the functions' names — with a minimal protobuf reader (varints and length-delimited fields).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace test {

// `gz` inflated; empty on a zlib error.
inline std::string gunzip(std::string_view gz) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return {};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char chunk[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
  }
  inflateEnd(&z);
  return status == Z_STREAM_END ? out : std::string();
}

// One field of a message: a varint, or bytes.
struct ProtoField {
  std::uint32_t number = 0;
  std::uint64_t varint = 0;
  std::string_view bytes;
  bool is_bytes = false;
};

// The fields of an encoded message, in order; stops at the first malformed byte (and sets `ok`).
inline std::vector<ProtoField> proto_fields(std::string_view m, bool* ok = nullptr) {
  std::vector<ProtoField> fields;
  std::size_t i = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; i < m.size() && shift < 64; shift += 7) {
      const auto byte = static_cast<unsigned char>(m[i++]);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  };
  if (ok != nullptr) *ok = true;
  while (i < m.size()) {
    std::uint64_t key = 0;
    ProtoField f;
    bool good = varint(key);
    f.number = static_cast<std::uint32_t>(key >> 3);
    if (good && (key & 7) == 0) {
      good = varint(f.varint);
    } else if (good && (key & 7) == 2) {
      std::uint64_t n = 0;
      good = varint(n) && n <= m.size() - i;
      if (good) {
        f.bytes = m.substr(i, n);
        f.is_bytes = true;
        i += n;
      }
    } else {
      good = false;
    }
    if (!good) {
      if (ok != nullptr) *ok = false;
      break;
    }
    fields.push_back(f);
  }
  return fields;
}

inline std::vector<std::uint64_t> packed_varints(std::string_view bytes) {
  std::vector<std::uint64_t> values;
  std::uint64_t v = 0;
  int shift = 0;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) == 0) {
      values.push_back(v);
      v = 0;
      shift = 0;
    }
  }
  return values;
}

// The parts of a decoded profile the tests check.
struct DecodedProfile {
  bool ok = false;
  std::vector<std::string> strings;
  std::vector<std::string> sample_types;  // "alloc_objects/count", ...
  std::vector<std::vector<std::uint64_t>> sample_values;
  std::vector<std::vector<std::uint64_t>> sample_locations;
  std::map<std::uint64_t, std::string> function_names;       // by function id
  std::map<std::uint64_t, std::uint64_t> location_function;  // location id -> innermost fn id
  std::size_t mappings = 0;
  std::string period_type;
  std::int64_t period = 0;
};

inline DecodedProfile decode_profile(std::string_view gz) {
  DecodedProfile p;
  const std::string raw = gunzip(gz);
  bool ok = !raw.empty();
  const auto top = proto_fields(raw, &ok);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> types;  // string indexes
  std::map<std::uint64_t, std::uint64_t> function_name_index;
  std::pair<std::uint64_t, std::uint64_t> period_type{0, 0};
  for (const ProtoField& f : top) {
    if (f.number == 6) p.strings.emplace_back(f.bytes);
    if (f.number == 12) p.period = static_cast<std::int64_t>(f.varint);
    if (f.number == 3) ++p.mappings;
    if (f.number == 1 || f.number == 11) {
      std::pair<std::uint64_t, std::uint64_t> t{0, 0};
      for (const ProtoField& g : proto_fields(f.bytes))
        (g.number == 1 ? t.first : t.second) = g.varint;
      if (f.number == 1)
        types.push_back(t);
      else
        period_type = t;
    }
    if (f.number == 2) {
      std::vector<std::uint64_t> values, locations;
      for (const ProtoField& g : proto_fields(f.bytes)) {
        if (g.number == 1) locations = packed_varints(g.bytes);
        if (g.number == 2) values = packed_varints(g.bytes);
      }
      p.sample_values.push_back(values);
      p.sample_locations.push_back(locations);
    }
    if (f.number == 5) {
      std::uint64_t id = 0, name = 0;
      for (const ProtoField& g : proto_fields(f.bytes)) {
        if (g.number == 1) id = g.varint;
        if (g.number == 2) name = g.varint;
      }
      function_name_index[id] = name;
    }
    if (f.number == 4) {
      std::uint64_t id = 0, function = 0;
      for (const ProtoField& g : proto_fields(f.bytes)) {
        if (g.number == 1) id = g.varint;
        if (g.number == 4 && function == 0)
          for (const ProtoField& h : proto_fields(g.bytes))
            if (h.number == 1) function = h.varint;
      }
      p.location_function[id] = function;
    }
  }
  auto str = [&](std::uint64_t i) {
    return i < p.strings.size() ? p.strings[i] : std::string("?");
  };
  for (const auto& [type, unit] : types) p.sample_types.push_back(str(type) + "/" + str(unit));
  p.period_type = str(period_type.first) + "/" + str(period_type.second);
  for (const auto& [id, name] : function_name_index) p.function_names[id] = str(name);
  p.ok = ok && !p.strings.empty() && p.strings[0].empty();
  return p;
}

}  // namespace test
