#include "gc/proto_encoder.hpp"

namespace gc::detail {

namespace {
constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kLengthDelimited = 2;
}  // namespace

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void ProtoEncoder::raw_varint(std::uint64_t value) { append_varint(out_, value); }

void ProtoEncoder::key(std::uint32_t field, std::uint32_t wire_type) {
  raw_varint((static_cast<std::uint64_t>(field) << 3) | wire_type);
}

void ProtoEncoder::varint_field(std::uint32_t field, std::uint64_t value) {
  if (value == 0) return;
  key(field, kVarint);
  raw_varint(value);
}

void ProtoEncoder::bytes_field(std::uint32_t field, std::string_view bytes) {
  key(field, kLengthDelimited);
  raw_varint(bytes.size());
  out_.append(bytes);
}

void ProtoEncoder::packed_field(std::uint32_t field, const std::vector<std::uint64_t>& values) {
  if (values.empty()) return;
  std::string packed;
  for (const std::uint64_t v : values) append_varint(packed, v);
  bytes_field(field, packed);
}

}  // namespace gc::detail
