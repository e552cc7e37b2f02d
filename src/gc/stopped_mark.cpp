#include "gc/stopped_mark.hpp"

#include <cstdio>

#include "gc/checkmark_bits.hpp"
#include "gc/fibers.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/root_set.hpp"
#include "gc/stack_scan.hpp"

namespace gc::detail {

namespace {

// Names a thread's stack and saved registers for a gccheckmark report (96 bytes each).
void describe_thread(const ThreadRecord* r, bool self, char* stack, char* frame) {
  const char* how = self                                                    ? "collecting"
                    : r->in_blocking_region.load(std::memory_order_relaxed) ? "in a blocking region"
                    : r->cooperative.load(std::memory_order_relaxed)        ? "at a safepoint"
                                                                            : "stopped by signal";
  std::snprintf(stack, 96, "the stack of thread %d (%s, %s)", r->tid, r->name, how);
  std::snprintf(frame, 96, "the saved registers of thread %d (%s, %s)", r->tid, r->name, how);
}

}  // namespace

void mark_from_roots_stopped(const WorldStopped&, Marker& marker, ThreadRecord* self,
                             const StackExtent& self_extent) {
  const bool verifying = marker.mode() == Marker::Mode::kCheckmark;
  const bool describing = marker.mode() != Marker::Mode::kMark;
  // A path takes the first root that reaches an object: the precise roots go first, so that of two
  // equally short routes the one from a named gc::ptr wins over a conservative stack word.
  const bool precise_first = marker.mode() == Marker::Mode::kPath;
  auto mark_precise_roots = [&] {
    mark_roots(marker);
    g_hooks.roots.call(marker);  // their locks are free: their holders are in critical sections
  };
  if (precise_first) mark_precise_roots();
  char stack[96] = "a stack";
  char frame[96] = "saved registers";
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    const StackExtent extent = r == self ? self_extent : stopped_extent(r);
    const bool blocking = r->in_blocking_region.load(std::memory_order_relaxed);
    if (describing) describe_thread(r, r == self, stack, frame);
    if (verifying && r != self && blocking) {
      // Its live stack runs on: only the copy of its registers is stable.
      scan_thread_stacks(marker, r, StackExtent{r->stack_hi}, /*blocked=*/true, stack, frame);
    } else {
      scan_thread_stacks(marker, r, extent, /*blocked=*/r != self && blocking, stack, frame);
    }
    marker.set_root_source("the tiny block of thread", static_cast<std::uintptr_t>(r->tid));
    marker.shade(r->mutator->tiny);
  }
  scan_suspended_stacks_stopped(marker, g_mark.cycle.load(std::memory_order_relaxed),
                                /*only_due=*/false, /*record=*/!describing);
  if (!precise_first) mark_precise_roots();
}

void verify_mark(const WorldStopped& world, ThreadRecord* self, const StackExtent& self_extent) {
  const CheckmarkBits checkmarks(world);
  Marker verifier(Marker::Mode::kCheckmark);
  mark_from_roots_stopped(world, verifier, self, self_extent);
  verifier.drain();
}

void scan_due_stacks_stopped(const WorldStopped&, Marker& marker) {
  const std::uint32_t cycle = g_mark.cycle.load(std::memory_order_relaxed);
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) {
    if (r->scanned_cycle.load(std::memory_order_relaxed) == cycle) continue;
    scan_thread_stacks(marker, r, stopped_extent(r),
                       /*blocked=*/r->in_blocking_region.load(std::memory_order_relaxed));
    r->scanned_cycle.store(cycle, std::memory_order_relaxed);
  }
  scan_suspended_stacks_stopped(marker, cycle, /*only_due=*/true, /*record=*/true);
  end_stack_scans();
}

}  // namespace gc::detail
