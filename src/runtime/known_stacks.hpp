// The known stacks: the address ranges of every registered thread's own stack and of every fiber
// stack (gc::fiber), whichever thread runs on them.
//
// Why the root set asks. A gc::ptr outside the heap registers as a root unless it is on the stack
// of the thread constructing it; its destructor unregisters it unless it is on the stack of the
// thread destroying it. A slot on one thread's stack that another thread constructs (a helper
// emplacing into an std::optional<gc::ptr<T>> in the caller's frame) would be registered by one
// and never unregistered by the other, and the root would outlive the frame. So a slot on any known
// stack is never a root, whoever constructs it: the stack scan finds it, as it finds every word of
// that stack. (gc/root_set.cpp; a stack that becomes known drops the roots registered inside it
// before, gc/stack_scan.cpp.)
//
// The table is a sorted array of disjoint ranges, read without a lock under a sequence counter
// (a seqlock): a change takes the writers' lock, makes the counter odd, edits, makes it even again;
// a reader retries while the counter is odd or changed under it. Entries are atomics, stored with
// release and loaded with acquire (no fence: ThreadSanitizer does not model them), so a reader that
// sees anything a writer stored sees its odd counter too. When the array grows, the old one is
// kept (never unmapped): a reader may still be reading it. Arrays double, so the kept ones add up
// to less than the live one.
#pragma once

#include <cstdint>

namespace gc::detail {

// [lo, hi) becomes known; false (and nothing changes) if it overlaps a known stack.
bool add_known_stack(std::uintptr_t lo, std::uintptr_t hi);
// Forgets a range added with exactly these bounds.
void remove_known_stack(std::uintptr_t lo, std::uintptr_t hi);
// Whether `address` lies on a known stack. Lock-free; safe inside critical sections.
bool on_known_stack(std::uintptr_t address);

}  // namespace gc::detail
