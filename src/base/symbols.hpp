// Names for addresses: the function or global variable an address lies in, for reports a person
// reads (gc::why_alive).
//
// dladdr alone is not enough: it reads only the dynamic symbol table, which in an executable linked
// without -rdynamic holds neither its functions nor its globals. So the full symbol table (.symtab)
// of the loaded object that holds the address is read from its file, found through
// dl_iterate_phdr; .dynsym serves where .symtab was stripped. Names are demangled.
//
// Reads files and allocates: never with the world stopped or inside a critical section.
#pragma once

#include <cstdint>
#include <string>

namespace gc::detail {

struct SymbolName {
  std::string name;           // demangled; empty when no symbol covers the address
  std::uintptr_t offset = 0;  // of the address from the symbol's start
};

// The function or object symbol that covers `address`.
SymbolName symbol_at(std::uintptr_t address);

// `name` demangled if it is a mangled C++ name, else as is ("" for nullptr).
std::string demangle(const char* name);

}  // namespace gc::detail
