#include "gc/hooks.hpp"

#include "base/check.hpp"

namespace gc::detail {

template <class Fn, std::size_t N>
void HookList<Fn, N>::add(Fn fn) {
  for (auto& slot : slots_) {
    Fn expected = nullptr;
    if (slot.compare_exchange_strong(expected, fn, std::memory_order_acq_rel)) return;
    if (expected == fn) return;
  }
  TRICOLOR_CHECK(false, "more than %zu hooks of one kind registered", N);
}

template class HookList<VoidHook>;
template class HookList<RootHook>;
template class HookList<WordHook>;
template class HookList<OwnerHook>;

}  // namespace gc::detail
