// Fibers: stacks of the program's own making (ucontext, boost.context-style switching, green
// threads, stackful coroutines).
//
// The collector scans each thread's stack conservatively, from its stack pointer up to the top of
// the stack it runs on. A thread that switches to a stack the library does not know would have the
// wrong range scanned, so a stack of the program's own making is made known as a gc::fiber, and
// every switch between stacks is announced in two halves, as for the sanitizers' fiber API:
//
//   gc::fiber f(stack, stack_size);   // from here on the stack is known, and scanned while
//   suspended
//   ...
//   gc::start_switch_fiber(&f);       // on the stack being left, right before the switch
//   swapcontext(&main_context, &fiber_context);
//   gc::finish_switch_fiber();        // on the stack switched to, first thing after the switch
//
// and in the fiber, to go back to the thread's own stack: gc::start_switch_fiber(nullptr), the
// switch, and gc::finish_switch_fiber() where the thread resumes. A fiber's entry function calls
// gc::finish_switch_fiber() first of all.
//
// What holds:
//   - A suspended fiber's stack is scanned as a root: raw pointers and gc::ptrs on it keep their
//     objects alive. So is a thread's own stack while the thread runs a fiber.
//   - The registers of the code that calls gc::start_switch_fiber are saved with the stack: call it
//     immediately before the switch.
//   - A fiber may run on different threads over time, on one at a time. A function that is
//     resumed on another thread, and allocates or builds a gc::ptr after the switch, should do so
//     in a noinline callee: compilers keep a thread_local's address across calls (GCC keeps the
//     thread pointer in a register), and the inline fast paths read the thread's state
//     (docs/design.md, "Known limits").
//   - Between the two halves the thread is inside the library (a stop of the world waits for it):
//     switch, and nothing else.
//   - A gc::ptr on a fiber's stack is a stack slot, whichever thread constructs it.
//   - A thread that runs on a stack it did not announce stops the program at the next collection
//     with a message that says so, rather than scanning the wrong memory.
// Misuse (a second start without a finish, a finish without a start or on another stack than the
// one announced, a switch to a fiber another thread runs, destroying a running fiber) stops the
// program with a message naming it.
#pragma once

#include <cstddef>

namespace gc {

namespace detail {
struct StackRecord;
}

class fiber;

// The first half of a switch to `to` (nullptr: back to the calling thread's own stack).
void start_switch_fiber(fiber* to);
// The second half, on the stack switched to.
void finish_switch_fiber();

class fiber {
 public:
  // [stack, stack + size): the fiber's whole stack, memory of the program's own (malloc, mmap; not
  // a thread's stack). Throws std::invalid_argument for an empty range or one that overlaps a
  // known stack.
  fiber(void* stack, std::size_t size);
  // Not while a thread runs on it. Afterwards the memory is an ordinary block again.
  ~fiber();
  fiber(const fiber&) = delete;
  fiber& operator=(const fiber&) = delete;

 private:
  friend void start_switch_fiber(fiber* to);
  detail::StackRecord* record_;
};

}  // namespace gc
