// Staging a mutator action at a known point of a mark: the mark controller (and the workers) wait
// at `stage` while a thread born during the mark (so its stack counts as scanned) acts, then the
// cycle ends, is swept and has its destructors run while that thread still holds what it got.
#pragma once

#include <atomic>
#include <thread>

#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/mark_state.hpp"
#include "gc/mark_workers.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"

namespace test {

// Starts a cycle whose controller stops at `stage`, and waits until it is there.
inline void start_held_cycle(gc::detail::MarkHold stage) {
  gc::detail::set_mark_hold(stage);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(stage);
}

// Lets the held cycle finish, sweeps, and runs the destructors of what it found dead.
inline void finish_held_cycle() {
  gc::detail::set_mark_hold(gc::detail::MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  gc::detail::finish_sweeping();
  gc::detail::wait_for_destructors();
}

// `body(wait)` runs on the new thread; `wait()` returns once the cycle is over. `switched_off`
// (gc::detail::BarrierTestFlags) applies from the hold on, to show a test reaches its case.
template <class Body>
void during_a_held_mark(gc::detail::MarkHold stage, unsigned switched_off, Body body) {
  start_held_cycle(stage);
  gc::detail::g_barrier_test_flags.store(switched_off);
  std::atomic<int> step{0};
  std::thread actor([&] {
    body([&] {
      step.store(1);
      while (step.load() != 2) {
      }
    });
  });
  while (step.load() != 1) {
  }
  finish_held_cycle();
  step.store(2);
  actor.join();
}

}  // namespace test
