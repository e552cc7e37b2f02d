// Names for addresses (symbols.hpp): the loaded object that maps the address, then its ELF symbol
// table, read from the file with mmap; the smallest function or object symbol that covers the
// address wins (st_size 0 counts as one byte).
#include "base/symbols.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace gc::detail {

namespace {

struct LoadedObject {
  std::uintptr_t address = 0;
  std::string path;
  std::uintptr_t bias = 0;
  bool found = false;
};

int find_loaded_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* wanted = static_cast<LoadedObject*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    const std::uintptr_t lo = info->dlpi_addr + segment.p_vaddr;
    if (wanted->address - lo < segment.p_memsz) {
      wanted->path = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0' ? info->dlpi_name
                                                                              : "/proc/self/exe";
      wanted->bias = info->dlpi_addr;
      wanted->found = true;
      return 1;
    }
  }
  return 0;
}

// A read-only mapping of a whole file, unmapped when it goes.
class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p =
          ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const unsigned char*>(p);
        size_ = static_cast<std::size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // `count` objects of type T at `offset`, or nullptr if they do not lie inside the file.
  template <class T>
  const T* at(std::uint64_t offset, std::uint64_t count = 1) const {
    if (data_ == nullptr || offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(data_ + offset);
  }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

// The smallest symbol of `table` (a SHT_SYMTAB or SHT_DYNSYM section) that covers `address`.
bool search_table(const MappedFile& file, const ElfW(Shdr) * sections, std::uint16_t section_count,
                  const ElfW(Shdr) & table, std::uintptr_t address, SymbolName& out) {
  if (table.sh_link >= section_count || table.sh_entsize != sizeof(ElfW(Sym))) return false;
  const ElfW(Shdr)& strings = sections[table.sh_link];
  const auto* symbols = file.at<ElfW(Sym)>(table.sh_offset, table.sh_size / sizeof(ElfW(Sym)));
  const auto* names = file.at<char>(strings.sh_offset, strings.sh_size);
  if (symbols == nullptr || names == nullptr) return false;
  const ElfW(Sym)* best = nullptr;
  for (std::uint64_t i = 0; i < table.sh_size / sizeof(ElfW(Sym)); ++i) {
    const ElfW(Sym)& s = symbols[i];
    const unsigned type = ELF64_ST_TYPE(s.st_info);
    if ((type != STT_FUNC && type != STT_OBJECT) || s.st_shndx == SHN_UNDEF) continue;
    if (s.st_name >= strings.sh_size) continue;
    const std::uint64_t size = s.st_size == 0 ? 1 : s.st_size;
    if (address - s.st_value >= size) continue;
    if (best == nullptr || size < (best->st_size == 0 ? 1 : best->st_size)) best = &s;
  }
  if (best == nullptr) return false;
  const char* name = names + best->st_name;
  if (std::memchr(name, '\0', strings.sh_size - best->st_name) == nullptr) return false;
  out.name = demangle(name);
  out.offset = address - best->st_value;
  return true;
}

bool search_file(const char* path, std::uintptr_t file_address, SymbolName& out) {
  MappedFile file(path);
  const auto* header = file.at<ElfW(Ehdr)>(0);
  if (header == nullptr || std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 ||
      header->e_shentsize != sizeof(ElfW(Shdr)))
    return false;
  const auto* sections = file.at<ElfW(Shdr)>(header->e_shoff, header->e_shnum);
  if (sections == nullptr) return false;
  for (const std::uint32_t wanted : {SHT_SYMTAB, SHT_DYNSYM}) {
    for (std::uint16_t i = 0; i < header->e_shnum; ++i) {
      if (sections[i].sh_type == wanted &&
          search_table(file, sections, header->e_shnum, sections[i], file_address, out))
        return true;
    }
  }
  return false;
}

}  // namespace

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || readable == nullptr) return name;
  std::string result(readable);
  std::free(readable);
  return result;
}

SymbolName symbol_at(std::uintptr_t address) {
  SymbolName result;
  LoadedObject object;
  object.address = address;
  if (::dl_iterate_phdr(find_loaded_object, &object) != 0 && object.found &&
      search_file(object.path.c_str(), address - object.bias, result))
    return result;
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(address), &info) != 0 && info.dli_sname != nullptr) {
    result.name = demangle(info.dli_sname);
    result.offset = address - reinterpret_cast<std::uintptr_t>(info.dli_saddr);
  }
  return result;
}

}  // namespace gc::detail
