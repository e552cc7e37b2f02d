// What every gc::ptr does when it is born, written, and destroyed.
//
// Where a slot lives decides its duties:
//   - inside the managed heap: its word's bit in the pointer bitmap is set while it exists, so the
//     marker scans exactly the live gc::ptr slots of an object (no Trace() methods);
//   - on the current thread's stack: nothing — stacks are scanned conservatively;
//   - anywhere else (globals, thread_locals, malloc memory): it registers in the root set.
//
// The write barrier: while the collector marks concurrently, a store into a slot that is not on a
// stack shades the value it overwrites and, until every running stack is scanned, the value it
// stores (Go's hybrid Yuasa–Dijkstra barrier; src/gc/write_barrier.cpp says why the second half can
// stop); a slot that is born shades its value on the same terms, a slot that dies its last value. A
// slot on the storing thread's own stack shades the value it lets go of while the mark has yet to
// scan that stack, since another thread may have copied it from there (write_barrier_slow). When no
// cycle is marking the barrier costs one relaxed load and a predictable branch. Slots are written
// with relaxed atomic stores because the marker may read them concurrently.
//
// Why every store tests the flag on both sides of the store. A thread can be stopped by signal at
// any instruction, so a mark start or a mark termination can fall between the test and the store:
//   - test before the store only: a thread stopped after testing (barrier off) stores after mark
//     start with no barrier, and the mark loses the overwritten value;
//   - test after the store only: a thread stopped after storing (barrier on) tests after mark
//     termination, and the overwritten value is lost again.
// So a store that found the barrier off tests again once the slot is written: whichever side of
// the store a mark start falls on, one of the two tests sees it. The old value is read before the
// first test and stays live until the second, so a stack scan in between finds it too. A store
// that found the barrier on, and may have something to shade, is made out of line, with its
// barrier, inside one critical section (store_with_barrier): a thread stopped between a barrier
// and its store, and not run again until that mark had ended and the next begun, would otherwise
// store with neither mark's barrier. One with nothing to shade is made in place and tested after,
// like a store that found the barrier off (slot_store).
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/fresh_object.hpp"
#include "tricolor/detail/heap_range.hpp"
#include "tricolor/detail/mutator.hpp"

namespace gc::detail {

inline constinit std::atomic<bool> g_barrier_enabled{false};

void register_root(void* slot);  // src/gc/root_set.cpp
void unregister_root(void* slot);
[[noreturn]] void fail_slot_in_pointer_free_object(const void* slot);
void write_barrier_slow(void* slot, const void* old_value, const void* new_value);  // src/gc/
void store_with_barrier(void** slot, void* value) noexcept;                         // src/gc/

[[gnu::always_inline]] inline bool barrier_on() {
  return g_barrier_enabled.load(std::memory_order_relaxed);
}

// Whether every stack that runs has been scanned by the mark under way (true outside a mark): from
// then on a store needs to shade only the value it overwrites, not the one it stores
// (src/gc/write_barrier.cpp says why). Acquire: the last scan's release of the bit.
[[gnu::always_inline]] inline bool running_stacks_scanned() {
  return (g_safepoint_pending.load(std::memory_order_acquire) & kSafepointScanStacks) == 0;
}

// Whether the value a store puts into a slot off the stack must be shaded (the insertion half):
// while a running stack is unscanned, or always on a thread whose stack the mark did not read
// (MutatorState::always_shade_stored).
[[gnu::always_inline]] inline bool stored_value_needs_shade() {
  return !running_stacks_scanned() || t_mutator.always_shade_stored.load(std::memory_order_relaxed);
}

// Keeps `value` in a register or the frame, where a stack scan finds it, until this point, and
// keeps the loads before this point before it. A store tested after it is made depends on this: a
// scan of this thread that falls between the store and the test must find the value, since the
// test, made after the scan, can find the stacks scanned and leave the value unshaded.
template <class T>
[[gnu::always_inline]] inline void keep_until_tested(const T* value) {
  asm volatile("" : : "r"(value) : "memory");
}

// A new slot, given its first value. The value is written with a relaxed atomic store, like every
// later store: a concurrent mark may scan the object under construction (a slot a thread stopped
// by signal was filling at mark start is shaded, and its object scanned, while it is built). The
// value is in the slot before the test: a test that misses a mark start that follows means the slot
// existed before it, where the mark finds it.
//
// A slot of the object that gc::make is constructing on this thread, whose span the thread's cache
// owns, sets its bit with a plain store into the bitmap's owned half; every other slot in the heap
// atomically, in the shared half (detail/fresh_object.hpp, heap_range.hpp). Both with release: a
// marker that sees the bit (acquire) also sees the object's construction so far, such as the
// zeroing of value-initialisation, not only the slot's own atomic store.
//
// `Where` orders the tests by where the slot most likely lives: a member of the object gc::make
// builds, then a local or a temporary; or, for gc::make's own result, the stack first (a result
// that initialises a member of an outer object under construction is still found in its range).
enum class LikelySlot { kFreshObject, kStack };

template <LikelySlot Where = LikelySlot::kFreshObject, class T>
[[gnu::always_inline]] inline void slot_born(T** slot, T* value) {
  std::atomic_ref<T*>(*slot).store(value, std::memory_order_relaxed);
  // A slot on this thread's stack has no bit (stacks are scanned conservatively) and no barrier: a
  // slot born there lets go of nothing, and its value is found by the scan of the stack to come,
  // or needs none from a scan that is done (src/gc/write_barrier.cpp, own_stack_slot_needs_shade).
  constexpr bool stack_first = Where == LikelySlot::kStack;
  if (stack_first && on_my_stack(slot)) [[likely]]
    return;
  if (owns_fresh_slot(t_mutator, slot)) {
    std::uint64_t bit;
    const std::uintptr_t word = pointer_word_index(reinterpret_cast<std::uintptr_t>(slot), bit);
    set_pointer_bits_owned(word, bit);
  } else if (!stack_first && on_my_stack(slot)) {
    return;
  } else if (in_heap(slot)) {
    // gc::make's own objects are scanned whenever their type holds a gc::ptr; a slot placed by
    // hand into storage allocated as pointer-free (a byte array, a trivially copyable type) is
    // never scanned, and what it points to would be freed while it holds it.
    if (const Span* s = span_of(reinterpret_cast<std::uintptr_t>(slot));
        s != nullptr && s->noscan()) [[unlikely]]
      fail_slot_in_pointer_free_object(slot);
    std::uint64_t bit;
    const std::uintptr_t word = pointer_word_index(reinterpret_cast<std::uintptr_t>(slot), bit);
    set_pointer_bits_shared(word, bit, /*set=*/true);
  } else {
    register_root(slot);
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const bool needs_barrier = value != nullptr && barrier_on() && stored_value_needs_shade();
  keep_until_tested(value);
  if (needs_barrier) [[unlikely]]
    write_barrier_slow(slot, nullptr, value);
}

// A slot that dies, holding `value`: the barrier shades its last value, and it gives up its
// pointer bit or its root.
//
// Except a slot on this thread's stack, which has neither, and whose value needs a shade only while
// a mark has yet to scan the stack (write_barrier_slow): otherwise stacks are scanned, not
// barriered, so its death is nothing to the collector. ~ptr tests for it first, as the temporaries
// of an expression die there by the million.
//
// Except a slot inside the dead object whose destructor this thread runs (the destructor thread,
// gc/destructors.cpp; the caller tests in_dying_object first): that one does nothing at all, and
// is not even read (a read would pull the dead object's cache line to this thread, and the thread
// that allocates in the slot next would wait for it back). Its pointer bit goes when the slot is
// freed, which clears every bit of the slot, and its value needs no shade, because the object was
// unreachable when the mark began, so no stack scanned or slot marked could have its value from it
// but the destructor itself, which must not use its members' targets (the user guide), nor store
// their values elsewhere: they may be freed already. (Shading it would only keep the dead object's
// dead children for another cycle.)
template <class T>
inline void slot_dies(T** slot, T* value) {
  if (on_my_stack(slot)) {
    // Unless the mark has yet to scan this stack, and another thread may hold a copy of the value
    // it took from here (write_barrier_slow).
    if (value != nullptr && barrier_on()) [[unlikely]]
      write_barrier_slow(slot, value, nullptr);
    return;
  }
  const bool shaded = value != nullptr && barrier_on();
  if (shaded) [[unlikely]]
    write_barrier_slow(slot, value, nullptr);
  if (in_heap(slot)) {
    std::uint64_t bit;
    const std::uintptr_t word = pointer_word_index(reinterpret_cast<std::uintptr_t>(slot), bit);
    set_pointer_bits_shared(word, bit, /*set=*/false);
  } else {
    unregister_root(slot);
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // The slot still holds the value: read it again rather than keep `value` alive across the call
  // above, where it would sit in a callee-saved register and, spilled by later calls, keep a dead
  // object alive for the conservative stack scan.
  if (!shaded && barrier_on()) [[unlikely]] {
    T* const last = std::atomic_ref<T*>(*slot).load(std::memory_order_relaxed);
    if (last != nullptr) write_barrier_slow(slot, last, nullptr);
  }
}

// Whether a store into a slot off this thread's stack that lets go of `old` for `value` has
// anything to shade, were the barrier on: `old` (the deletion half), or `value` while a running
// stack is unscanned (the insertion half). src/gc/write_barrier.cpp's store_may_shade says why.
[[gnu::always_inline]] inline bool off_stack_store_may_shade(const void* old, const void* value) {
  return old != nullptr || (value != nullptr && stored_value_needs_shade());
}

// The same for any slot: for one on this thread's stack, `old` while the mark has yet to scan the
// stack. store_may_shade decides that case exactly (a thread in a blocking region); this one may
// answer true where that one answers false, never the other way.
[[gnu::always_inline]] inline bool store_may_shade_inline(const void* slot, const void* old,
                                                          const void* value) {
  if (on_my_stack(slot))
    return old != nullptr && t_mutator.stack_unscanned.load(std::memory_order_relaxed);
  return off_stack_store_may_shade(old, value);
}

// During a mark most stores have nothing to shade: a new object stored over null once the running
// stacks are scanned, a moved-from temporary on a scanned stack cleared. Those are made here, with
// no call, tested before and after the store as store_with_barrier's own first branch does
// (src/gc/write_barrier.cpp); the rest go to store_with_barrier. Building a tree makes both kinds
// by the million, and a call each cost binary-trees a tenth of its main thread.
template <class T>
[[gnu::always_inline]] inline void slot_store(T** slot, T* value) {
  std::atomic_ref<T*> ref(*slot);
  T* const old = ref.load(std::memory_order_relaxed);
  const bool marking = barrier_on();
  if (marking && store_may_shade_inline(slot, old, value)) [[unlikely]] {
    store_with_barrier(reinterpret_cast<void**>(slot),
                       const_cast<void*>(static_cast<const volatile void*>(value)));
    return;
  }
  ref.store(value, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (!marking) {
    if (barrier_on()) [[unlikely]]
      write_barrier_slow(slot, old, value);
    return;
  }
  const bool late = barrier_on() && store_may_shade_inline(slot, old, value);
  keep_until_tested(old);
  keep_until_tested(value);
  if (late) [[unlikely]]
    write_barrier_slow(slot, old, value);
}

}  // namespace gc::detail
