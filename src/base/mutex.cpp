#include "base/mutex.hpp"

#include <bit>

namespace gc::detail {

const char* lock_rank_name(LockRank rank) {
  switch (rank) {
    case LockRank::kCycle:
      return "cycle";
    case LockRank::kRegistry:
      return "registry";
    case LockRank::kFibers:
      return "fibers";
    case LockRank::kToolbox:
      return "toolbox";
    case LockRank::kRootSet:
      return "root set";
    case LockRank::kCentral:
      return "central";
    case LockRank::kPageHeap:
      return "page heap";
    case LockRank::kAddressSpace:
      return "address space";
    case LockRank::kLeaf:
      return "leaf";
  }
  return "?";
}

#if TRICOLOR_DCHECKS
void lock_order_violation(LockRank taking, std::uint32_t held) {
  const auto innermost = static_cast<LockRank>(31 - std::countl_zero(held));
  check_failed(__FILE__, __LINE__, "lock order", "taking a %s lock while holding a %s lock",
               lock_rank_name(taking), lock_rank_name(innermost));
}
#endif

}  // namespace gc::detail
