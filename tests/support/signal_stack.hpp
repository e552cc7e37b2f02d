// An alternate signal stack for the calling thread and a handler that runs on it, as a program with
// a profiler's tick or a crash handler sets them up (sigaltstack, SA_ONSTACK).
#pragma once

#include <signal.h>

#include <cstddef>

namespace test {

// Makes [stack, stack + size) the calling thread's alternate stack and `handler` the handler of
// `signal_number`, run on it. False if either call fails.
inline bool install_handler_on_signal_stack(int signal_number, void (*handler)(int), void* stack,
                                            std::size_t size) {
  stack_t alternate{};
  alternate.ss_sp = stack;
  alternate.ss_size = size;
  if (::sigaltstack(&alternate, nullptr) != 0) return false;
  struct sigaction action {};
  action.sa_handler = handler;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  return ::sigaction(signal_number, &action, nullptr) == 0;
}

// The calling thread has no alternate stack any more (before the memory of the old one goes).
inline void remove_signal_stack() {
  stack_t off{};
  off.ss_flags = SS_DISABLE;
  ::sigaltstack(&off, nullptr);
}

}  // namespace test
