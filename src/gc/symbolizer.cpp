#include "gc/symbolizer.hpp"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/symbols.hpp"

#if TRICOLOR_HAVE_LIBBACKTRACE
#include <backtrace.h>
#endif

namespace gc::detail {

namespace {

std::string hex_address(std::uintptr_t pc) {
  char text[32];
  std::snprintf(text, sizeof text, "%#lx", static_cast<unsigned long>(pc));
  return text;
}

#if TRICOLOR_HAVE_LIBBACKTRACE

std::mutex& backtrace_mutex() {
  static std::mutex* m = new std::mutex;
  return *m;
}

void ignore_error(void*, const char*, int) {}

backtrace_state* state() {
  static backtrace_state* s =
      backtrace_create_state(nullptr, /*threaded=*/1, ignore_error, nullptr);
  return s;
}

int add_line(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  if (function == nullptr) return 0;
  auto* frames = static_cast<std::vector<SourceFrame>*>(data);
  frames->push_back({demangle(function), file != nullptr ? file : "", line});
  return 0;
}

void add_symbol(void* data, std::uintptr_t, const char* name, std::uintptr_t, std::uintptr_t) {
  if (name != nullptr)
    static_cast<std::vector<SourceFrame>*>(data)->push_back({demangle(name), "", 0});
}

#endif

}  // namespace

std::vector<SourceFrame> symbolize(std::uintptr_t pc) {
  std::vector<SourceFrame> frames;
#if TRICOLOR_HAVE_LIBBACKTRACE
  {
    std::lock_guard lock(backtrace_mutex());
    if (backtrace_state* s = state()) {
      backtrace_pcinfo(s, pc, add_line, ignore_error, &frames);
      // The symbol table names the function the code lies in with its namespaces and class,
      // which DWARF's DW_AT_name may not (GCC's "TestBody"): it names the outermost frame.
      std::vector<SourceFrame> symbol;
      backtrace_syminfo(s, pc, add_symbol, ignore_error, &symbol);
      if (frames.empty())
        frames = std::move(symbol);
      else if (!symbol.empty())
        frames.back().function = std::move(symbol.front().function);
    }
  }
#endif
  if (frames.empty()) {
    std::string name = symbol_at(pc).name;
    frames.push_back({name.empty() ? hex_address(pc) : std::move(name), "", 0});
  }
  return frames;
}

namespace {

std::string build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const unsigned char* desc = p + sizeof(ElfW(Nhdr)) + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && desc + note->n_descsz <= end) {
        std::string hex;
        for (unsigned j = 0; j < note->n_descsz; ++j) {
          char byte[3];
          std::snprintf(byte, sizeof byte, "%02x", desc[j]);
          hex += byte;
        }
        return hex;
      }
      p = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return {};
}

std::string program_path() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
}

int add_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* objects = static_cast<std::vector<LoadedObject>*>(data);
  LoadedObject object;
  bool first_load = true;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (first_load || start < object.start) {
      object.start = start;
      object.file_offset = ph.p_offset;
    }
    if (first_load || start + ph.p_memsz > object.limit) object.limit = start + ph.p_memsz;
    first_load = false;
  }
  if (first_load) return 0;  // no code: the vDSO's data, say
  const bool is_program = objects->empty();
  object.path = is_program ? program_path() : std::string(info->dlpi_name);
  if (object.path.empty()) return 0;
  object.build_id = build_id_of(info);
  objects->push_back(std::move(object));
  return 0;
}

}  // namespace

std::vector<LoadedObject> loaded_objects() {
  std::vector<LoadedObject> objects;
  dl_iterate_phdr(add_object, &objects);
  return objects;
}

}  // namespace gc::detail
