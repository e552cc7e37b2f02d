// Safepoints, critical sections and blocking regions: the thread's side of a stop of the world
// (safepoint.hpp says how they fit together; stop_the_world.cpp is the collector's side).
#include "runtime/safepoint.hpp"

#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/os_memory.hpp"
#include "base/thread_gc_time.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"
#include "runtime/upcalls.hpp"

namespace gc::detail {

std::atomic<std::uint32_t> g_fork_in_progress{0};

void wait_for_fork_to_finish() noexcept {
  while (g_fork_in_progress.load(std::memory_order_acquire) != 0)
    futex_wait(&g_fork_in_progress, 1);
}

__attribute__((noinline)) std::uintptr_t current_stack_pointer() {
  // This frame lies below the caller's, so the caller's frame is wholly above the result.
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

// Out of line and opaque to the caller's optimiser: the thread pointer is read here, afresh.
#if defined(__clang__)
__attribute__((noinline))
#else
__attribute__((noipa))
#endif
MutatorState&
current_mutator_afresh() {
  // Opaque to the optimiser too, where the thread_local's address is a constant (Clang's IR, with
  // link-time optimisation): a caller cannot take this result for one it computed before.
  MutatorState* m = &t_mutator;
  asm volatile("" : "+r"(m)::"memory");
  return *m;
}

// A gc::ptr dies quietly only on a stack the mark has nothing to learn from (mutator.hpp): the
// quiet part is empty, or the whole stack with `stack_unscanned` down. The flag is read on both
// sides of the size: a mark that starts or ends in between (a stop signal may land anywhere) is
// seen to, and the check is skipped.
namespace {
void check_quiet_stack(const MutatorState& m) {
  const bool unscanned = m.stack_unscanned.load(std::memory_order_acquire);
  const std::uintptr_t quiet = m.quiet_stack_size.load(std::memory_order_acquire);
  if (m.stack_unscanned.load(std::memory_order_acquire) != unscanned) return;
  TRICOLOR_DCHECK(
      quiet == 0 || (!unscanned && quiet == m.stack_size.load(std::memory_order_relaxed)),
      "thread %d's stack is quiet while the mark has yet to scan it", m.record->tid);
}
}  // namespace

__attribute__((noinline)) void safepoint_slow() {
  MutatorState& m = t_mutator;
  if (m.record == nullptr || m.critical_depth.load(std::memory_order_relaxed) > 0) return;
  if (!safepoint_due(g_safepoint_pending.load(std::memory_order_relaxed))) return;
  __builtin_unwind_init();  // spill callee-saved registers into this frame
  const StackExtent extent = locate_stacks(m.record, current_stack_pointer());
  if (world_stopping()) {
    park(m.record, extent, true);
  } else {
    scan_own_stack(extent);  // times itself, and only when its scan is due: see there
  }
  if constexpr (kDchecks) check_quiet_stack(m);
  // Not a tail call: this frame, with the registers spilled into it, must outlive the park.
  asm volatile("" ::: "memory");
}

// Not instrumented: the range is a live stack frame, redzones included.
__attribute__((noinline, no_sanitize("address", "thread"))) std::size_t copy_stack_words(
    std::uintptr_t bottom, std::uintptr_t top, std::uintptr_t* out, std::size_t capacity) {
  std::size_t words = (top - bottom) / sizeof(std::uintptr_t);
  if (words > capacity) words = capacity;
  const auto* frame = reinterpret_cast<const std::uintptr_t*>(top) - words;
  for (std::size_t i = 0; i < words; ++i) out[i] = frame[i];
  return words;
}

void fail_inside_blocking_region(const char* what) {
  os::fatal(
      "%s inside a gc::blocking_region: the thread counts as stopped there, so it must not "
      "allocate, make, store or destroy a gc::ptr off its stack, or collect; end the region first",
      what);
}

__attribute__((noinline)) void enter_blocking(bool user_region) {
  ThreadRecord* r = ensure_registered();
  // A region inside a region would save its frame over the outer one's, and its end would let the
  // thread run while the outer one still promises it does not.
  if (user_region && r->in_blocking_region.load(std::memory_order_relaxed)) [[unlikely]]
    fail_inside_blocking_region("a gc::blocking_region");
  // A thread inside a critical section may hold a library lock: counted as stopped, it would let a
  // stop of the world go ahead while it holds one.
  TRICOLOR_CHECK(t_mutator.critical_depth.load(std::memory_order_relaxed) == 0,
                 "a blocking region inside one of the library's critical sections");
  TRICOLOR_DCHECK(!r->in_blocking_region.load(std::memory_order_relaxed),
                  "thread %d enters a blocking region twice", r->tid);
  // Spill every callee-saved register of the caller into this frame, then keep a copy of the frame:
  // the caller's own frame stays put for the whole region, but this one is gone once we return.
  __builtin_unwind_init();
  const auto top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*);
  r->saved_frame_words =
      copy_stack_words(current_stack_pointer(), top, r->saved_frame, std::size(r->saved_frame));
  const StackExtent extent = locate_stacks(r, top);
  r->scan_sp.store(extent.sp, std::memory_order_relaxed);
  r->signal_stack_lo = extent.signal_lo;
  r->signal_stack_hi = extent.signal_hi;
  r->in_blocking_region.store(true, std::memory_order_relaxed);
  r->cooperative.store(true, std::memory_order_relaxed);
  r->status.store(stopped_status(0), std::memory_order_release);
}

void set_thread_idle(bool idle) {
  ensure_registered()->idle.store(idle, std::memory_order_relaxed);
}

void leave_blocking() {
  ThreadRecord* r = t_mutator.record;
  TRICOLOR_DCHECK(r != nullptr && r->in_blocking_region.load(std::memory_order_relaxed),
                  "leaving a blocking region that was not entered");
  {
    ThreadGcTimeScope timed(GcTimeKind::kStopped);
    wait_until_released(r);
    wait_for_stack_scan(r);
  }
  r->in_blocking_region.store(false, std::memory_order_relaxed);
  poll_safepoint();
}

}  // namespace gc::detail
