// The writes of gc::atomic_ptr (include/tricolor/atomic_ptr.hpp): an atomic read-modify-write and
// its barrier, both inside one critical section. No stop of the world can fall between them (a stop
// signal waits for the section's end, and there is no safepoint inside), so one test of the barrier
// flag after the operation sees a mark exactly when the write happened during one, and the value it
// replaced is the one the operation returned, whatever other threads wrote before. A buffer that
// the barrier leaves nearly full is flushed after the section, in chunks that a stop can come
// between (gc/write_barrier.hpp).
#include <atomic>

#include "gc/write_barrier.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/atomic_ptr.hpp"

namespace gc::detail {

void* atomic_slot_exchange(void** slot, void* value, std::memory_order order) noexcept {
  ensure_registered();  // outside the section: registering allocates
  void* old = nullptr;
  ThreadRecord* full = nullptr;
  {
    CriticalSection critical;
    old = std::atomic_ref<void*>(*slot).exchange(value, order);
    if (barrier_on()) [[unlikely]]
      full = record_barrier(slot, old, value);
  }
  if (full != nullptr) flush_own_barrier_buffer(full);
  return old;
}

bool atomic_slot_compare_exchange(void** slot, void*& expected, void* desired, bool weak,
                                  std::memory_order success, std::memory_order failure) noexcept {
  ensure_registered();
  void* const old = expected;
  bool swapped = false;
  ThreadRecord* full = nullptr;
  {
    CriticalSection critical;
    std::atomic_ref<void*> ref(*slot);
    swapped = weak ? ref.compare_exchange_weak(expected, desired, success, failure)
                   : ref.compare_exchange_strong(expected, desired, success, failure);
    if (swapped && barrier_on()) [[unlikely]]
      full = record_barrier(slot, old, desired);
  }
  if (full != nullptr) flush_own_barrier_buffer(full);
  return swapped;
}

}  // namespace gc::detail
