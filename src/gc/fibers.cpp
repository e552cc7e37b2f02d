// gc::fiber and the two halves of a switch (tricolor/fiber.hpp says how a program uses them).
//
// A switch from stack A to stack B, on thread T:
//   start_switch_fiber (on A): begins a critical section, so no stop of the world, mark start or
//     termination falls inside the switch; saves A's registers and stack pointer; claims B (B's
//     running_on becomes T, under B's scan lock, so a concurrent scan of B has ended).
//   the program's own switch.
//   finish_switch_fiber (on B): T's stack bounds become B's (what on_my_stack and every scan of T
//     read); A is released as suspended; if a mark is in progress, A and B are scanned unless they
//     were this cycle; the critical section ends (a stop that came meanwhile is honoured here).
//
// Why the scans in finish_switch_fiber. The mark scans every stack once a cycle; a stack scanned
// once stays black, and the hybrid barrier covers what the program does after. T's own scan covers
// the stack T runs on when it scans. A stack that T leaves after that scan, or before it, may miss
// the controller's pass (which may have run while T was on it); a stack that T enters after its
// scan was never covered by it. Scanning both at the switch, when not yet scanned this cycle,
// closes both gaps; scanned_cycle keeps it to once a stack a cycle.
#include "gc/fibers.hpp"

#include <mutex>
#include <stdexcept>
#include <tricolor/fiber.hpp>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/root_set.hpp"
#include "gc/stack_scan.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/known_stacks.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/fresh_object.hpp"

namespace gc::detail {

namespace {

constinit Mutex g_fibers_mutex{LockRank::kFibers};  // taken inside critical sections only
StackRecord* g_fibers = nullptr;                    // every gc::fiber, under g_fibers_mutex

// Below the stack pointer of the code that starts a switch, the switch itself may push the
// registers it saves (boost.context does): a suspended stack is scanned from this much lower.
constexpr std::uintptr_t kSwitchSlack = 256;

StackRecord* new_fiber(void* stack, std::size_t size) {
  const auto lo = reinterpret_cast<std::uintptr_t>(stack);
  if (stack == nullptr || size < 2 * kSwitchSlack || lo + size < lo)
    throw std::invalid_argument(
        "gc::fiber: the stack must be a non-null range of at least 512 bytes");
  ensure_registered();
  auto* fiber = new StackRecord;
  fiber->lo = lo;
  fiber->hi = lo + size;
  fiber->saved_sp = fiber->hi;  // never run: nothing on it yet
  bool known = false;
  {
    CriticalSection critical;
    std::lock_guard lock(g_fibers_mutex);
    known = add_known_stack(fiber->lo, fiber->hi);
    if (known) {
      fiber->next = g_fibers;
      if (g_fibers != nullptr) g_fibers->prev = fiber;
      g_fibers = fiber;
    }
  }
  if (!known) {
    delete fiber;  // outside the critical section: no malloc or free inside one
    throw std::invalid_argument(
        "gc::fiber: the stack overlaps a known stack (a thread's own, or another gc::fiber's); "
        "give each fiber memory of its own");
  }
  // Slots registered in this memory before it became a stack are the stack scan's from now on.
  drop_roots_within(fiber->lo, fiber->hi);
  return fiber;
}

void delete_fiber(StackRecord* fiber) {
  {
    CriticalSection critical;
    // A fiber deleted before the mark under way scanned it is scanned now: a thread whose own stack
    // is scanned may have copied a gc::ptr out of its frames, and holds it where no scan of this
    // mark looks again (the hybrid barrier counts on every stack being scanned once).
    if (marking() && !test_flag(kTestNoFiberDeleteScan)) {
      Marker marker(Marker::Mode::kMark);
      scan_stack_if_due(marker, fiber, g_mark.cycle.load(std::memory_order_acquire));
    }
    std::lock_guard lock(g_fibers_mutex);
    lock_stack(fiber);
    const ThreadRecord* runner = fiber->running_on.load(std::memory_order_relaxed);
    if (runner != nullptr)
      os::fatal("a gc::fiber is destroyed while thread %d runs on it", runner->tid);
    unlock_stack(fiber);
    if (fiber->prev != nullptr) fiber->prev->next = fiber->next;
    if (fiber->next != nullptr) fiber->next->prev = fiber->prev;
    if (g_fibers == fiber) g_fibers = fiber->next;
    remove_known_stack(fiber->lo, fiber->hi);
  }
  delete fiber;  // outside the critical section: no malloc or free inside one
}

// Scans the stack the calling thread has just switched to, from `sp` up, if it is due.
void scan_entered_stack(Marker& marker, StackRecord* s, std::uintptr_t sp, std::uint32_t cycle) {
  lock_stack(s);
  if (s->scanned_cycle.load(std::memory_order_relaxed) != cycle) {
    marker.scan_conservative(sp, s->hi, "a fiber's stack");
    s->scanned_cycle.store(cycle, std::memory_order_relaxed);
  }
  unlock_stack(s);
}

}  // namespace

void scan_suspended_stacks(Marker& marker, std::uint32_t cycle) {
  {
    std::lock_guard lock(registry_mutex());
    for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next)
      scan_stack_if_due(marker, &r->own_stack, cycle);
  }
  std::lock_guard lock(g_fibers_mutex);
  for (StackRecord* f = g_fibers; f != nullptr; f = f->next) scan_stack_if_due(marker, f, cycle);
}

void scan_suspended_stacks_stopped(Marker& marker, std::uint32_t cycle, bool only_due,
                                   bool record) {
  auto scan = [&](StackRecord* s) {
    if (s->running_on.load(std::memory_order_relaxed) != nullptr) return;
    if (only_due && s->scanned_cycle.load(std::memory_order_relaxed) == cycle) return;
    scan_suspended_stack(marker, s, "a suspended stack");
    if (record) s->scanned_cycle.store(cycle, std::memory_order_relaxed);
  };
  for (ThreadRecord* r = registry_head(); r != nullptr; r = r->next) scan(&r->own_stack);
  for (StackRecord* f = g_fibers; f != nullptr; f = f->next) scan(f);
}

}  // namespace gc::detail

namespace gc {

using detail::StackRecord;
using detail::ThreadRecord;

fiber::fiber(void* stack, std::size_t size) : record_(detail::new_fiber(stack, size)) {}

fiber::~fiber() { detail::delete_fiber(record_); }

__attribute__((noinline)) void start_switch_fiber(fiber* to) {
  ThreadRecord* r = detail::ensure_registered();
  detail::check_not_in_blocking_region("gc::start_switch_fiber");
  if (r->switching_to != nullptr)
    detail::os::fatal("gc::start_switch_fiber twice, with no gc::finish_switch_fiber between");
  StackRecord* target = to != nullptr ? to->record_ : &r->own_stack;
  StackRecord* from = r->current_stack;
  if (target == from)
    detail::os::fatal("gc::start_switch_fiber to the stack the thread already runs on");
  detail::begin_critical_section();
  // A constructor that switches away may resume on another thread, where this thread's cache is
  // not its to write through (detail/fresh_object.hpp).
  detail::drop_fresh_object(detail::t_mutator);
  // The caller's callee-saved registers, spilled into this frame and copied: the frame is gone by
  // the time the switch happens, but the caller's own frame stays put until the stack resumes.
  __builtin_unwind_init();
  const auto caller =
      reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*);
  from->saved_frame_words = detail::copy_stack_words(
      detail::current_stack_pointer(), caller, from->saved_frame, std::size(from->saved_frame));
  from->saved_sp =
      caller - from->lo > detail::kSwitchSlack ? caller - detail::kSwitchSlack : from->lo;
  detail::lock_stack(target);
  const ThreadRecord* runner = target->running_on.load(std::memory_order_relaxed);
  if (runner != nullptr)
    detail::os::fatal("gc::start_switch_fiber to a fiber that thread %d runs", runner->tid);
  target->running_on.store(r, std::memory_order_relaxed);
  detail::unlock_stack(target);
  r->switching_from = from;
  r->switching_to = target;
  asm volatile("" ::: "memory");  // not a tail call: the spilled registers are copied above
}

__attribute__((noinline)) void finish_switch_fiber() {
  detail::MutatorState& m = detail::t_mutator;
  ThreadRecord* r = m.record;
  if (r == nullptr || r->switching_to == nullptr)
    detail::os::fatal("gc::finish_switch_fiber with no gc::start_switch_fiber before it");
  StackRecord* to = r->switching_to;
  StackRecord* from = r->switching_from;
  __builtin_unwind_init();  // the registers the switch restored, spilled where the scan reads
  const std::uintptr_t sp = detail::current_stack_pointer();
  if (sp - to->lo >= to->hi - to->lo)
    detail::os::fatal(
        "gc::finish_switch_fiber on a stack other than the one announced: its stack pointer %#lx "
        "is outside [%#lx, %#lx)",
        static_cast<unsigned long>(sp), static_cast<unsigned long>(to->lo),
        static_cast<unsigned long>(to->hi));
  r->stack_lo = to->lo;
  r->stack_hi = to->hi;
  detail::set_stack_bounds(m, to->lo, to->hi - to->lo);
  r->current_stack = to;
  detail::lock_stack(from);
  from->running_on.store(nullptr, std::memory_order_relaxed);
  detail::unlock_stack(from);
  r->switching_from = r->switching_to = nullptr;
  if (detail::marking()) {
    const std::uint32_t cycle = detail::g_mark.cycle.load(std::memory_order_acquire);
    detail::Marker marker(detail::Marker::Mode::kMark);
    detail::scan_stack_if_due(marker, from, cycle);
    detail::scan_entered_stack(marker, to, sp, cycle);
  }
  detail::end_critical_section();
  asm volatile("" ::: "memory");
}

}  // namespace gc
