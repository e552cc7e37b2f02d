// The per-thread state that the inline fast paths read: the thread cache's spans, the tiny block,
// the thread's stack bounds, and the flags through which the collector reaches every thread.
//
// `t_mutator` is constant-initialised thread-local storage, so touching it costs one TLS-relative
// load and never runs an initialiser. Every cached span starts as `g_empty_span`, whose allocation
// cache is empty: a thread's first allocation falls into the slow path, which registers the thread.
// Stack bounds are zero until then, so "is this slot on my stack?" is false and the slow path runs.
//
// `g_safepoint_pending` is non-zero while the collector wants something of the threads at their
// next safepoint: bit 0, stop (a stop of the world); bit 1, scan their own stacks (a mark has
// started, and some stack is not scanned yet). The allocation fast path tests it whole (one load,
// one branch), so an allocating thread answers within one object; the safepoint's slow path first
// asks safepoint_due, which for bit 1 alone is the thread's own `stack_unscanned`.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/detail/span.hpp"

namespace gc::detail {

struct ThreadRecord;  // src/runtime/thread_registry.hpp

inline constinit Span g_empty_span{};

constexpr std::array<Span*, kNumSpanClasses> all_empty_spans() {
  std::array<Span*, kNumSpanClasses> spans{};
  for (auto& s : spans) s = &g_empty_span;
  return spans;
}

struct MutatorState {
  std::array<Span*, kNumSpanClasses> alloc = all_empty_spans();
  std::uintptr_t tiny = 0;         // current 16-byte tiny block, 0 if none
  std::uintptr_t tiny_offset = 0;  // bytes of it already handed out
  // Bytes this thread may still allocate before its next heap-profile sample; below zero, the
  // allocation in hand is sampled (src/gc/heap_sampler.cpp). Zero until the first allocation.
  std::int64_t bytes_until_sample = 0;
  // Lowest address and size of the stack this thread runs on (its own, or a fiber's). Relaxed
  // atomics: another thread may read them through an address its compiler kept from before a
  // fiber switch moved it here (mutator_for_frame).
  std::atomic<std::uintptr_t> stack_lo{0};
  std::atomic<std::uintptr_t> stack_size{0};
  ThreadRecord* record = nullptr;
  // The dead object whose destructor this thread is running ([dying_lo, dying_lo + dying_size);
  // empty or [0, size) when none: a batch keeps the size between its objects, and no gc::ptr lives
  // below it): the destructor thread sets it around each destructor, so that the gc::ptr members of
  // a dead object die for nothing (detail/barrier.hpp, slot_dies).
  std::uintptr_t dying_lo = 0;
  std::uintptr_t dying_size = 0;
  // The object gc::make is constructing on this thread, [fresh_lo, fresh_lo + fresh_size) (size 0
  // when none): a gc::ptr slot born in it sets its pointer bit with a plain store while this
  // thread's cache owns the span (detail/fresh_object.hpp). Atomics, relaxed: another thread may
  // read them through an address its compiler kept from before a fiber switch moved it here
  // (mutator_for_frame).
  std::atomic<std::uintptr_t> fresh_lo{0};
  std::atomic<std::uintptr_t> fresh_size{0};
  // Depth of library code that holds internal locks; a stop signal that lands inside is deferred
  // until the outermost section ends. Written only by the owner thread (and its signal handler).
  // Relaxed atomics: lock-free, so the signal handler may read and write them.
  std::atomic<int> critical_depth{0};
  std::atomic<int> stop_deferred{0};
  // True from mark start until the mark has scanned this thread's stack (set by the collector with
  // the world stopped, cleared by whoever scans it): while it is, a gc::ptr on this stack that dies
  // or is overwritten has its value shaded, since another thread may hold a copy taken from here
  // (write_barrier_slow). Relaxed: a stale true only costs a call that finds nothing to do.
  std::atomic<bool> stack_unscanned{false};
  // How much of the stack from `stack_lo` up is quiet: a gc::ptr may die there with nothing to tell
  // the collector. The whole stack while `stack_unscanned` is false, none while it is true (~ptr's
  // one test for both; set_stack_bounds, set_stack_unscanned): the flag and the size in one word,
  // so ~ptr cannot see one without the other.
  std::atomic<std::uintptr_t> quiet_stack_size{0};
  // True while this thread's stores must shade the values they store whatever the other stacks: it
  // is not registered, or it registered during the mark under way, whose stack scans counted its
  // stack as scanned without reading it (it may hold values it loaded before it registered). Set
  // false by mark start, with the world stopped, for every registered thread (the mark scans their
  // stacks), and by a registration between marks (gc/stack_scan.cpp).
  std::atomic<bool> always_shade_stored{true};
};

inline constinit thread_local MutatorState t_mutator{};

inline constinit std::atomic<std::uint32_t> g_safepoint_pending{0};
inline constexpr std::uint32_t kSafepointStop = 1;
inline constexpr std::uint32_t kSafepointScanStacks = 2;

[[gnu::always_inline]] inline bool on_my_stack(const void* p) {
  const MutatorState& m = t_mutator;
  return reinterpret_cast<std::uintptr_t>(p) - m.stack_lo.load(std::memory_order_relaxed) <
         m.stack_size.load(std::memory_order_relaxed);
}

[[gnu::always_inline]] inline bool in_quiet_stack(const void* p) {
  const MutatorState& m = t_mutator;
  return reinterpret_cast<std::uintptr_t>(p) - m.stack_lo.load(std::memory_order_relaxed) <
         m.quiet_stack_size.load(std::memory_order_relaxed);
}

// The quiet part of `m`'s stack made true to `stack_unscanned` and the stack's bounds. By the
// owner, or by the collector while the owner is stopped, parked or in a blocking region (where it
// switches no fiber, so its bounds hold still).
// Release, for a debug check that reads the size before the flag (src/runtime/safepoint.cpp).
inline void refresh_quiet_stack(MutatorState& m) {
  m.quiet_stack_size.store(m.stack_unscanned.load(std::memory_order_relaxed)
                               ? 0
                               : m.stack_size.load(std::memory_order_relaxed),
                           std::memory_order_release);
}

// The stack `m`'s thread runs on from now (registration, a fiber switch; 0, 0 at exit). The owner
// only. No quiet part while the bounds change, for a signal handler that interrupts the change.
inline void set_stack_bounds(MutatorState& m, std::uintptr_t lo, std::uintptr_t size) {
  m.quiet_stack_size.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m.stack_lo.store(lo, std::memory_order_relaxed);
  m.stack_size.store(size, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  refresh_quiet_stack(m);
}

// Raises or lowers `stack_unscanned`, with the quiet part: gone before the flag rises (release, for
// the same debug check), back after it falls. By the same threads as refresh_quiet_stack.
inline void set_stack_unscanned(MutatorState& m, bool unscanned) {
  if (unscanned) m.quiet_stack_size.store(0, std::memory_order_relaxed);
  m.stack_unscanned.store(unscanned, std::memory_order_release);
  if (!unscanned) refresh_quiet_stack(m);
}

[[gnu::always_inline]] inline bool in_dying_object(const void* p) {
  const MutatorState& m = t_mutator;
  return reinterpret_cast<std::uintptr_t>(p) - m.dying_lo < m.dying_size;
}

// The calling thread's MutatorState, its address computed afresh (src/runtime/safepoint.cpp).
MutatorState& current_mutator_afresh();

// t_mutator of the thread that runs `frame`, an address in the caller's own frame. A compiler may
// keep the address of a thread_local that it computed before a call (GCC keeps the thread pointer
// in a register for the whole function), and a fiber that switched threads during the call comes
// back on another thread, where that address is the first thread's state. Code that may run on
// both sides of such a call checks the address against the stack it runs on: a thread's state
// names the stack that thread runs on now, and no two threads run on one stack. A frame on no
// thread's stack (a signal handler on its alternate stack) pays a call.
inline MutatorState& mutator_for_frame(const void* frame) {
  if (on_my_stack(frame)) [[likely]]
    return t_mutator;
  return current_mutator_afresh();
}

// An address in the calling frame, for mutator_for_frame, that makes no object of the frame
// addressable (an object whose address is taken lives in memory rather than in registers): the
// stack pointer, read where it is used (volatile: no copy from earlier in the function, where a
// C++20 coroutine may have run on another thread's stack before it was resumed here).
[[gnu::always_inline]] inline const void* stack_pointer_here() {
  const void* sp;
#if defined(__x86_64__)
  asm volatile("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
  asm volatile("mov %0, sp" : "=r"(sp));
#else
  sp = __builtin_frame_address(0);
#endif
  return sp;
}

// Out of line: parks the thread if the collector asked (src/runtime/safepoint.cpp).
void safepoint_slow();

// Whether the calling thread has something to do at its safepoint: a stop, or the scan of its own
// stack. The "scan stacks" bit stays up until the last stack is scanned; alone, it asks nothing of
// a thread whose own stack is scanned (two threads on two CPUs beside a mark worker: the other may
// wait milliseconds for a CPU, and meanwhile this one's allocations, on the slow path, each went
// through the whole safepoint). `stack_unscanned` is never seen false early: mark start raises it
// with the thread stopped, and only a scan of the stack lowers it. Asked by safepoint_slow, out of
// line: inline in a coroutine that moves between threads, the thread-local read could use the
// address of the thread it ran on before (mutator_for_frame).
[[gnu::always_inline]] inline bool safepoint_due(std::uint32_t pending) {
  return pending != 0 && (pending != kSafepointScanStacks ||
                          t_mutator.stack_unscanned.load(std::memory_order_relaxed));
}

inline void poll_safepoint() {
  if (g_safepoint_pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    safepoint_slow();
}

// Whether a stop of the world is under way. A thread inside a critical section that may last long
// (a budget of sweeps, a barrier buffer's flush) ends it at a point where it may, so that the stop
// waits for one step rather than all of them.
inline bool world_stop_waiting() {
  return (g_safepoint_pending.load(std::memory_order_relaxed) & kSafepointStop) != 0;
}

}  // namespace gc::detail
