#include "base/os_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace gc::detail::os {

namespace {
// Constant-initialised: bookkeeping may be mapped from a global constructor of the program's.
constinit std::atomic<std::int64_t> g_ready[2] = {0, 0};
}  // namespace

void* reserve(std::size_t bytes, std::size_t align) {
  // Over-reserve by `align`, then trim both ends so the kept range is aligned.
  const std::size_t total = bytes + align;
  void* raw = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + align - 1) & ~(align - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + total;
  if (end > aligned + bytes)
    ::munmap(reinterpret_cast<void*>(aligned + bytes), end - aligned - bytes);
  return reinterpret_cast<void*>(aligned);
}

bool commit(void* p, std::size_t bytes) {
  return ::mprotect(p, bytes, PROT_READ | PROT_WRITE) == 0;
}

void release(void* p, std::size_t bytes) { ::madvise(p, bytes, MADV_DONTNEED); }

void populate(void* p, std::size_t bytes) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // <sys/mman.h> of a C library older than the kernel
#endif
  // A kernel without it (before 5.14) says EINVAL: then no more calls, each would cost a system
  // call.
  static constinit std::atomic<bool> unsupported{false};
  if (unsupported.load(std::memory_order_relaxed)) return;
  if (::madvise(p, bytes, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
    unsupported.store(true, std::memory_order_relaxed);
}

void retire(void* p, std::size_t bytes) {
  ::madvise(p, bytes, MADV_DONTNEED);
  // A range that did not become inaccessible would let a use after free read reused memory.
  if (::mprotect(p, bytes, PROT_NONE) != 0)
    fatal("mprotect(PROT_NONE) of a freed arena chunk failed (vm.max_map_count reached?)");
}

void* map_table(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void unmap(void* p, std::size_t bytes) { ::munmap(p, bytes); }

void* map_metadata(std::size_t bytes) {
  void* p = map_table(bytes);
  if (p != nullptr)
    count_ready(Account::kMetadata, static_cast<std::int64_t>(round_to_os_pages(bytes)));
  return p;
}

void unmap_metadata(void* p, std::size_t bytes) {
  unmap(p, bytes);
  count_ready(Account::kMetadata, -static_cast<std::int64_t>(round_to_os_pages(bytes)));
}

void count_ready(Account account, std::int64_t bytes) {
  g_ready[static_cast<int>(account)].fetch_add(bytes, std::memory_order_relaxed);
}

std::size_t ready_bytes(Account account) {
  const std::int64_t n = g_ready[static_cast<int>(account)].load(std::memory_order_relaxed);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t round_to_os_pages(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(::getpagesize());
  return (bytes + page - 1) / page * page;
}

void fatal(const char* format, ...) {
  char message[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  // write(2) rather than stdio: the process may be stopped in the middle of anything.
  char line[1100];
  const int n = std::snprintf(line, sizeof line, "tricolor: fatal error: %s\n", message);
  if (n > 0) {
    const ssize_t written = ::write(2, line, static_cast<std::size_t>(n));
    (void)written;
  }
  std::abort();
}

}  // namespace gc::detail::os
