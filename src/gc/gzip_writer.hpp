// Gzip compression of a whole buffer into a stream, with zlib (deflate with a gzip header:
// windowBits 15 + 16), as pprof expects its profile.proto files.
#pragma once

#include <iosfwd>
#include <string_view>

namespace gc::detail {

// Writes `data`, gzipped, to `out`. False if zlib fails or the stream does.
bool write_gzipped(std::string_view data, std::ostream& out);

}  // namespace gc::detail
