// Names for the return addresses of heap-profile stacks, and the objects they lie in.
//
// With libbacktrace (GCC's, found at configure time; TRICOLOR_HAVE_LIBBACKTRACE): the DWARF debug
// information gives each address its function, file and line, inlined calls included, innermost
// first; the ELF symbol table names the outermost (the function the code lies in: DWARF may name
// it without its namespace), and alone names an address without debug information. Without it:
// the ELF symbol table (base/symbols.hpp). Mangled names are demangled. The libbacktrace state
// is made on first use and kept (it caches what it read), under a lock, since libbacktrace's
// readers are not safe to run at once.
//
// Symbolising allocates: only outside critical sections (the profile writer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/symbols.hpp"  // demangle

namespace gc::detail {

struct SourceFrame {
  std::string function;  // demangled; "0x..." when nothing is known
  std::string file;      // empty when unknown
  int line = 0;          // 0 when unknown
};

// The frames at `pc` (a code address, not a return address), innermost inlined call first; never
// empty.
std::vector<SourceFrame> symbolize(std::uintptr_t pc);

// A loaded object (the program or a shared library): where it is mapped, and its file.
struct LoadedObject {
  std::uintptr_t start = 0;
  std::uintptr_t limit = 0;
  std::uint64_t file_offset = 0;
  std::string path;
  std::string build_id;  // hex, empty when it has none
};

// Every object loaded now, the program first.
std::vector<LoadedObject> loaded_objects();

}  // namespace gc::detail
