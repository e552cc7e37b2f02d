#include "gc/write_barrier.hpp"

#include "base/check.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/barrier.hpp"

namespace gc::detail {

void flush_barrier_buffer(ThreadRecord* r) {
  // Written by its owner inside critical sections, or read by the collector with the world
  // stopped: never by anyone else while the owner may append.
  TRICOLOR_DCHECK(r == t_mutator.record
                      ? t_mutator.critical_depth.load(std::memory_order_relaxed) > 0
                      : is_stopped(r->status.load(std::memory_order_acquire)),
                  "the barrier buffer of thread %d flushed outside its owner's critical section "
                  "while it runs",
                  r->tid);
  TRICOLOR_DCHECK(r->barrier_count <= ThreadRecord::kBarrierBufferEntries,
                  "barrier buffer overflow: %u entries", r->barrier_count);
  if (r->barrier_count == 0) return;
  ThreadGcTimeScope timed(GcTimeKind::kBarrier);
  Marker marker(Marker::Mode::kMark);
  for (std::uint32_t i = 0; i < r->barrier_count; ++i) marker.shade(r->barrier_buffer[i]);
  r->barrier_count = 0;
}

namespace {

void append(ThreadRecord* r, std::uintptr_t value) {
  r->barrier_buffer[r->barrier_count++] = value;
  if (r->barrier_count == ThreadRecord::kBarrierBufferEntries) flush_barrier_buffer(r);
}

}  // namespace

void write_barrier_slow(void* slot, const void* old_value, const void* new_value) {
  if (on_my_stack(slot)) return;  // stacks are scanned, not barriered
  ThreadRecord* r = ensure_registered();
  if (on_my_stack(slot)) return;  // registration just learned where the stack is
  check_not_in_blocking_region("a write to a gc::ptr off the stack during a mark");
  CriticalSection critical;
  if (!marking()) return;  // a late call: see the header
  if (old_value != nullptr && !test_flag(kTestNoShadeOld))
    append(r, reinterpret_cast<std::uintptr_t>(old_value));
  if (new_value != nullptr) shade_for_barrier(r, reinterpret_cast<std::uintptr_t>(new_value));
}

void shade_for_barrier(ThreadRecord* r, std::uintptr_t value) {
  if (!test_flag(kTestNoShadeNew)) append(r, value);
}

}  // namespace gc::detail
