// A protocol-buffers encoder, just enough for pprof's profile.proto: varints, packed repeated
// varints, and length-delimited fields (strings, nested messages).
//
// The wire format: each field is a key, (field number << 3) | wire type, as a varint, then its
// value: type 0 a varint (7 bits a byte, low first, high bit set on all but the last byte); type 2
// a varint length and that many bytes. A nested message is encoded into its own encoder and
// appended as bytes. Signed int64 values are written as their two's-complement uint64 (protobuf's
// int64, not sint64). Nothing is written for a zero scalar, as proto3 omits defaults.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gc::detail {

class ProtoEncoder {
 public:
  void varint_field(std::uint32_t field, std::uint64_t value);
  void int64_field(std::uint32_t field, std::int64_t value) {
    varint_field(field, static_cast<std::uint64_t>(value));
  }
  void bool_field(std::uint32_t field, bool value) { varint_field(field, value ? 1 : 0); }
  // Length-delimited: a string, or an encoded nested message. Written even when empty (the string
  // table's first entry must be "").
  void bytes_field(std::uint32_t field, std::string_view bytes);
  void message_field(std::uint32_t field, const ProtoEncoder& message) {
    bytes_field(field, message.bytes());
  }
  // A packed repeated varint field; nothing for an empty list.
  void packed_field(std::uint32_t field, const std::vector<std::uint64_t>& values);

  const std::string& bytes() const { return out_; }

 private:
  void key(std::uint32_t field, std::uint32_t wire_type);
  void raw_varint(std::uint64_t value);

  std::string out_;
};

// Encodes `value` as a varint into `out` (exposed for tests).
void append_varint(std::string& out, std::uint64_t value);

}  // namespace gc::detail
