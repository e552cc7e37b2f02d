#include "heap/destructor_table.hpp"

#include <new>

#include "base/fixed_pool.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

std::atomic<std::uintptr_t>* new_destructor_table(std::uint32_t slots) {
  CriticalSection critical;  // nobody is ever stopped holding the pool's lock
  void* memory = SizedPool::allocate(slots * sizeof(std::atomic<std::uintptr_t>));
  auto* table = static_cast<std::atomic<std::uintptr_t>*>(memory);
  for (std::size_t i = 0; i < slots; ++i) ::new (&table[i]) std::atomic<std::uintptr_t>(0);
  return table;
}

void free_destructor_table(std::atomic<std::uintptr_t>* table, std::uint32_t slots) {
  if (table == nullptr) return;
  CriticalSection critical;
  SizedPool::deallocate(table, slots * sizeof(std::atomic<std::uintptr_t>));
}

}  // namespace gc::detail
