#include "gc/write_barrier.hpp"

#include "base/check.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "gc/test_hooks.hpp"
#include "runtime/safepoint.hpp"
#include "tricolor/detail/barrier.hpp"

namespace gc::detail {

namespace {

// Shades the entries of `r`'s buffer from `from` to its end, and drops them. The values are old
// objects scattered over the heap, so each shade waits for the cache: the marker's prefetching
// shade overlaps those waits.
void shade_entries(Marker& marker, ThreadRecord* r, std::uint32_t from) {
  for (std::uint32_t i = from; i < r->barrier_count; ++i) marker.shade_soon(r->barrier_buffer[i]);
  r->barrier_count = from;
}

// A thread flushes its own full buffer in chunks of this many entries, and between two chunks it
// ends its critical section if a stop of the world is waiting for it: the stop then waits for one
// chunk rather than the whole buffer (a flush of 256 entries that missed the cache took 100 us).
// The collector shades what is left, with the world stopped.
constexpr std::uint32_t kOwnFlushChunk = 32;

}  // namespace

void flush_own_barrier_buffer(ThreadRecord* r) {
  ThreadGcTimeScope timed(GcTimeKind::kBarrier);
  for (;;) {
    CriticalSection critical;  // its end parks the thread if a stop came meanwhile
    if (r->barrier_count == 0) return;
    Marker marker(Marker::Mode::kMark);  // gone before the thread parks (marker.hpp)
    do {
#if TRICOLOR_TEST_HOOKS
      if (auto hook = g_barrier_flush_hook.load(std::memory_order_acquire)) hook();
#endif
      const std::uint32_t count = r->barrier_count;
      shade_entries(marker, r, count > kOwnFlushChunk ? count - kOwnFlushChunk : 0);
    } while (r->barrier_count != 0 && !world_stop_waiting());
  }
}

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
  shade_entries(marker, r, 0);
}

namespace {

void append(ThreadRecord* r, std::uintptr_t value) {
  r->barrier_buffer[r->barrier_count++] = value;
  if (r->barrier_count == ThreadRecord::kBarrierBufferEntries) flush_barrier_buffer(r);
}

// Whether the stack this thread runs on has been scanned by the mark under way. Inside a critical
// section of a thread outside any blocking region, where no mark starts or ends.
bool own_stack_scanned(const ThreadRecord* r) {
  return r->current_stack->scanned_cycle.load(std::memory_order_relaxed) ==
         g_mark.cycle.load(std::memory_order_relaxed);
}

// A slot on this thread's own stack needs no barrier once the stack is scanned: stacks are scanned,
// not barriered. Before its scan, the value such a slot lets go of may have been copied by a thread
// whose stack is scanned already (a worker running a lambda that captured a local by reference):
// this stack's scan would not find it, and the copy's stack is not scanned again, so it is shaded.
// The slot's new value needs nothing: the scan to come finds it.
//
// Except inside a blocking region, where the thread counts as stopped, so that its buffer is the
// collector's to flush; and where it needs no shade either. Its slots there lie below the region's
// frame, which the collector's scan of the stack does not cover; their values came from the frames
// above it, which the region leaves alone and the scan covers, or from the heap, where the other
// threads' barriers guard them (the region may neither allocate nor store into the heap during a
// mark).
bool own_stack_slot_needs_shade(const ThreadRecord* r, const void* old_value) {
  if (old_value == nullptr || !t_mutator.stack_unscanned.load(std::memory_order_relaxed))
    return false;
  TRICOLOR_DCHECK(r != nullptr, "a slot on the stack of a thread the collector does not know");
  return !r->in_blocking_region.load(std::memory_order_relaxed) && !test_flag(kTestNoShadeOwnStack);
}

// Whether a store into `slot` that lets go of `old_value` needs the barrier at all, `own_stack`
// saying whether the slot is on this thread's stack; a store off the stack inside a blocking region
// during a mark stops the program with a message.
[[gnu::always_inline]] inline bool barrier_wanted(const ThreadRecord* r, bool own_stack,
                                                  const void* old_value) {
  if (own_stack) return own_stack_slot_needs_shade(r, old_value);
  check_not_in_blocking_region("a write to a gc::ptr off the stack during a mark");
  return true;
}

// The barrier proper, inside the caller's critical section: puts the values to shade in the
// buffer, and returns the thread's record when the buffer is nearly full (see record_barrier). No
// mark starts or ends inside the section, so marking() holds to its end; the "scan stacks" bit may
// fall inside it, which only makes the new value's shade unneeded.
[[gnu::always_inline]] inline ThreadRecord* buffer_barrier(ThreadRecord* r, bool own_stack,
                                                           const void* old_value,
                                                           const void* new_value) {
  if (!marking()) return nullptr;  // a late call: see the header
  if (own_stack) {
    if (own_stack_scanned(r)) return nullptr;
    new_value = nullptr;
  }
  if (old_value != nullptr && !test_flag(kTestNoShadeOld))
    append(r, reinterpret_cast<std::uintptr_t>(old_value));
  if (new_value != nullptr && stored_value_needs_shade())
    shade_for_barrier(r, reinterpret_cast<std::uintptr_t>(new_value));
  // The next call appends two entries at most, and append flushes the whole buffer inside the
  // section when it fills: so it is flushed by the caller, in chunks, once it has fewer than three
  // free. Append's flush is then only for the other callers (a weak_lock that fills it).
  return r->barrier_count + 2 < ThreadRecord::kBarrierBufferEntries ? nullptr : r;
}

// record_barrier, inline for store_with_barrier.
[[gnu::always_inline]] inline ThreadRecord* barrier_in_section(void* slot, const void* old_value,
                                                               const void* new_value) {
  ThreadRecord* const r = t_mutator.record;
  const bool own_stack = on_my_stack(slot);
  return barrier_wanted(r, own_stack, old_value)
             ? buffer_barrier(r, own_stack, old_value, new_value)
             : nullptr;
}

}  // namespace

ThreadRecord* record_barrier(void* slot, const void* old_value, const void* new_value) {
  return barrier_in_section(slot, old_value, new_value);
}

// A slot born or dying: the common case, a slot on this thread's stack that needs nothing, is
// decided before any critical section.
void write_barrier_slow(void* slot, const void* old_value, const void* new_value) {
  // Before on_my_stack: registration learns where the stack is. A thread that registered during a
  // mark has a scanned stack (gc/stack_scan.hpp), its flag down.
  ThreadRecord* const r = ensure_registered();
  const bool own_stack = on_my_stack(slot);
  if (!barrier_wanted(r, own_stack, old_value)) return;
  ThreadRecord* full = nullptr;
  {
    CriticalSection critical;
    full = buffer_barrier(r, own_stack, old_value, new_value);
  }
  if (full != nullptr) flush_own_barrier_buffer(full);
}

namespace {

// Whether a store into `slot` that lets go of `old` for `value` has anything to shade, were the
// barrier on: for a slot on this thread's stack, `old` while the mark has yet to scan the stack
// (own_stack_slot_needs_shade); for any other, `old` (the deletion half), or `value` while a
// running stack is unscanned (the insertion half).
//
// Why the value a store puts into a slot off the stack is shaded only while a stack that runs is
// still unscanned in this mark (running_stacks_scanned, detail/barrier.hpp: the "scan stacks" bit
// is up while stacks_pending() is not zero). Go's hybrid barrier shades it "if the current stack is
// grey"; here any stack, since a thread may take a value from another thread's stack. Once every
// running stack is scanned, a value a thread holds was on its stack at the scan (shaded then), or
// was allocated since (black), or was loaded since from a slot that the mark reaches or whose
// overwrite shades it (the deletion half): the mark finds it without the store's help. A suspended
// stack does not count: it changes only by running, and it is scanned before it runs.
[[gnu::always_inline]] inline bool store_may_shade(const void* slot, const void* old,
                                                   const void* value) {
  if (on_my_stack(slot)) return own_stack_slot_needs_shade(t_mutator.record, old);
  return off_stack_store_may_shade(old, value);
}

}  // namespace

// The path of a gc::ptr store, while a mark runs, that the inline test (slot_store,
// detail/barrier.hpp) could not clear. Most stores have nothing to shade: a new object stored over
// null once the running stacks are scanned (most of a mark, for a program building a structure), a
// moved-from temporary on a scanned stack cleared; the inline test clears those, and the exact
// test here a few more (a slot on the stack of a thread in a blocking region). Both make such a
// store outside any critical section, tested before and after it: a mark start, or a stack left
// unscanned by a new mark, that falls between the two is caught by the second test, and a scan of
// this thread that falls between finds both values on its stack. The rest are made with their
// barrier in one critical section.
void store_with_barrier(void** slot, void* value) noexcept {
  std::atomic_ref<void*> ref(*slot);
  if (void* const old = ref.load(std::memory_order_relaxed); !store_may_shade(slot, old, value)) {
    ref.store(value, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const bool late = barrier_on() && store_may_shade(slot, old, value);
    keep_until_tested(old);
    keep_until_tested(value);
    if (late) write_barrier_slow(slot, old, value);
    return;
  }
  ensure_registered();  // outside the section: registering allocates
  ThreadRecord* full = nullptr;
  {
    CriticalSection critical;
    std::atomic_ref<void*> ref(*slot);
    void* const old = ref.load(std::memory_order_relaxed);
    ref.store(value, std::memory_order_relaxed);
#if TRICOLOR_TEST_HOOKS
    if (auto hook = g_barrier_store_hook.load(std::memory_order_acquire)) hook();
#endif
    if (barrier_on()) full = barrier_in_section(slot, old, value);
  }
  if (full != nullptr) flush_own_barrier_buffer(full);
}

void shade_for_barrier(ThreadRecord* r, std::uintptr_t value) {
  if (!test_flag(kTestNoShadeNew)) append(r, value);
}

}  // namespace gc::detail
