// The OS's view of a range of memory, for tests of how the library backs and releases pages.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace test {

// Whether this kernel backs a range on request (MADV_POPULATE_WRITE, Linux 5.14); the library's
// backing is best effort, and does nothing where it does not.
inline bool kernel_populates() {
  const auto os_page = static_cast<std::size_t>(::getpagesize());
  void* p = ::mmap(nullptr, os_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool populated = ::madvise(p, os_page, 23 /* MADV_POPULATE_WRITE */) == 0;
  ::munmap(p, os_page);
  return populated;
}

// How many OS pages of [base, base + bytes) are resident; SIZE_MAX if the kernel cannot say.
inline std::size_t resident_os_pages(std::uintptr_t base, std::size_t bytes) {
  const auto os_page = static_cast<std::size_t>(::getpagesize());
  std::vector<unsigned char> in_core(bytes / os_page);
  if (::mincore(reinterpret_cast<void*>(base), bytes, in_core.data()) != 0) return SIZE_MAX;
  std::size_t resident = 0;
  for (unsigned char page : in_core) resident += page & 1;
  return resident;
}

}  // namespace test
