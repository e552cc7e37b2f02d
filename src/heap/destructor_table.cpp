#include "heap/destructor_table.hpp"

#include <new>

#include "base/fixed_pool.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

// The table of the densest span must come from the pool.
static_assert(kMaxSpanObjects * sizeof(std::atomic<std::uintptr_t>) <= SizedPool::kMaxBytes);

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

std::atomic<std::uintptr_t>* destructor_table_of(Span* s) {
  std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = new_destructor_table(s->nelems);
  if (s->destructors.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) return fresh;
  free_destructor_table(fresh, s->nelems);
  return table;
}

namespace {
void destroy_nothing(void*) {}
constexpr Destructor kDestroyNothing{&destroy_nothing, nullptr};
}  // namespace

void disarm_destructor(Span* s, std::uint32_t index) {
  destructor_table_of(s)[index].store(reinterpret_cast<std::uintptr_t>(&kDestroyNothing),
                                      std::memory_order_release);
}

}  // namespace gc::detail
