// Test hooks: the switches that tests use to stage a mark or to break one mechanism on purpose.
//
// They exist only where TRICOLOR_TEST_HOOKS is 1: the collector layer is compiled a second time
// for the tests (CMake target tricolor_gc_testing), and the library that programs link has none
// of them. There `test_flag()` is a constant false and the hold points are empty inline functions,
// so no hot path reads a hook.
//
//   - Barrier flags switch off one half of the write barrier, or black allocation, to show that
//     the tests of those mechanisms notice (tests/unit/barrier_test.cpp).
//   - A mark hold keeps the mark controller at a stage of the mark, and the workers idle, so that
//     a test can make a mutator act at a known point of the mark (tests/support/held_mark.hpp).
//   - g_idle_mark_workers_for_test sets how many idle mark workers a blocking collect() wakes;
//     g_spare_cpu_for_test says whether the spare-CPU workers find a CPU idle.
//   - g_destructor_registration_hook runs inside a critical section of register_destructor_slow,
//     so that a test can make a stop land where an allocation's registration may park the thread
//     (tests/unit/allocation_park_test.cpp).
//   - g_barrier_flush_hook runs before each chunk of a thread's flush of its own barrier buffer,
//     inside the flush's critical section, so that a test can make a stop land there
//     (tests/unit/barrier_buffer_test.cpp).
//   - g_barrier_store_hook runs between a barriered store and its barrier, inside their critical
//     section, so that a test can make a stop land there (tests/unit/barrier_buffer_test.cpp).
//   - start_cycle_for_test starts a cycle and returns once the world restarts after mark start;
//     wait_for_cycle_end waits until the cycle in progress (if any) has ended.
#pragma once

#include <atomic>
#include <cstdint>

#ifndef TRICOLOR_TEST_HOOKS
#define TRICOLOR_TEST_HOOKS 0
#endif

namespace gc::detail {

enum BarrierTestFlags : unsigned {
  kTestNoShadeOld = 1,          // the deletion half: the value a store overwrites
  kTestNoShadeNew = 2,          // the insertion half: the value stored, or a new slot's value
  kTestNoBlackAlloc = 4,        // objects allocated while marking are white
  kTestNoShadeOwnStack = 8,     // a slot on its thread's unscanned stack: the value it lets go of
  kTestNoFiberDeleteScan = 16,  // a fiber deleted before the mark scanned it is not scanned
  // Mark start counts no thread in an IdleScope as scanned, and a thread's stack is scanned only at
  // a safepoint, by signal, or in a blocking region: not in a park, not on leaving one, and not by
  // the thread that started the mark.
  kTestNoEarlyScan = 32,
  kTestNoStarterScan = 64,  // the thread that starts a mark scans no stack right after it
};

enum class MarkHold : std::uint32_t { kNone, kAfterStart, kAfterRoots };

#if TRICOLOR_TEST_HOOKS

inline constinit std::atomic<unsigned> g_barrier_test_flags{0};
inline bool test_flag(unsigned flag) {
  return (g_barrier_test_flags.load(std::memory_order_relaxed) & flag) != 0;
}

// The controller waits at `stage` while a test holds the mark there (mark_workers.cpp).
void hold_point(MarkHold stage);
// A test that holds the controller holds the workers too: no background marking at all. Returns
// after waiting once if a hold is set.
bool hold_workers();
void set_mark_hold(MarkHold stage);
// Waits until the controller is held at `stage`.
void wait_for_mark_hold(MarkHold stage);

inline constinit std::atomic<void (*)()> g_destructor_registration_hook{nullptr};
inline constinit std::atomic<void (*)()> g_barrier_flush_hook{nullptr};
inline constinit std::atomic<void (*)()> g_barrier_store_hook{nullptr};

void start_cycle_for_test();
void wait_for_cycle_end();
// The number of idle mark workers, in place of the one the CPUs give (-1: theirs again), so that a
// machine with few CPUs can show that idle workers mark (tests/unit/concurrent_mark_test.cpp).
inline constinit std::atomic<int> g_idle_mark_workers_for_test{-1};
// Whether the spare-CPU mark workers find a CPU to spare, in place of the kernel's run queues: 1
// always, 0 never, 2 the offer always and the workers never (-1: the run queues again), so that a
// test does not depend on the load beside it.
inline constinit std::atomic<int> g_spare_cpu_for_test{-1};

#else

constexpr bool test_flag(unsigned) { return false; }
inline void hold_point(MarkHold) {}
inline bool hold_workers() { return false; }

#endif

}  // namespace gc::detail
