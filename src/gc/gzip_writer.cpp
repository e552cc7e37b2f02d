#include "gc/gzip_writer.hpp"

#include <zlib.h>

#include <ostream>

namespace gc::detail {

bool write_gzipped(std::string_view data, std::ostream& out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char chunk[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = deflate(&z, Z_FINISH);
    if (status != Z_OK && status != Z_STREAM_END) break;
    out.write(chunk, static_cast<std::streamsize>(sizeof chunk - z.avail_out));
  }
  deflateEnd(&z);
  return status == Z_STREAM_END && static_cast<bool>(out);
}

}  // namespace gc::detail
