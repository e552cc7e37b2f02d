#include "gc/stack_unwind.hpp"

#include <unwind.h>

namespace gc::detail {

namespace {

struct Walk {
  std::uintptr_t first;
  std::uintptr_t* pcs;
  std::size_t count = 0;
  bool started = false;
};

_Unwind_Reason_Code visit_frame(struct _Unwind_Context* context, void* arg) {
  auto* walk = static_cast<Walk*>(arg);
  const auto pc = static_cast<std::uintptr_t>(_Unwind_GetIP(context));
  if (pc == 0) return _URC_END_OF_STACK;
  if (!walk->started) {
    if (pc != walk->first) return _URC_NO_REASON;  // one of the sampler's own frames
    walk->started = true;
  }
  walk->pcs[walk->count++] = pc;
  return walk->count == kMaxProfileDepth ? _URC_END_OF_STACK : _URC_NO_REASON;
}

}  // namespace

std::size_t capture_stack(std::uintptr_t first, std::uintptr_t (&pcs)[kMaxProfileDepth]) {
  Walk walk{first, pcs, 0, false};
  _Unwind_Backtrace(visit_frame, &walk);
  if (walk.started) return walk.count;
  // `first` never turned up (a frame the unwinder could not step through): keep what it saw last.
  pcs[0] = first;
  return 1;
}

}  // namespace gc::detail
