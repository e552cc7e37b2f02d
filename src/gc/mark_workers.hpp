// The background mark: the mark controller thread and the extra mark workers.
//
// A cycle's mark start happens on whichever thread triggered it (cycle.hpp); the controller takes
// over from there, on its own thread, until mark termination:
//   1. scan the root set, taking each stripe's lock in turn, and drain;
//   2. until every stack is scanned and no grey work is left anywhere: scan the stacks of threads
//      in blocking regions, prod threads that have not scanned their own, drain what the workers,
//      the stack scans and the barrier buffers publish;
//   3. attempt mark termination (cycle.cpp); if the stopped world turns up more work, go on.
// The extra workers only drain. Together with the controller they are about a quarter of the
// cores (Go's background utilisation goal), at least one and at most 64: the controller alone on up
// to 7 cores. Each is a LibraryThread of kind kCollector, woken once per mark: not a registered
// mutator, so a stop of the world does not wait for it, and it never touches a stack or a lock
// that a stopped thread could hold (every lock it shares with mutators is taken by mutators only
// inside critical sections).
//
// Idle workers, as Go's idle mark workers put an idle CPU to work: a thread that waits for a mark
// to end (a blocking gc::collect(), an allocation the OS refused) marks itself and wakes the rest
// of the CPUs' worth of idle workers, so that the controller, the workers, the idle workers and
// the waiting thread are one thread per CPU (at most 64). They drain like the workers until the
// mark ends; their CPU time counts as idle marking, not background, and their work is not credit
// for assists. A mark nobody waits for has the spare-CPU workers instead: one per CPU beside the
// controller and the workers, marking in short slices while the kernel's run queues show a CPU
// idle (mark_workers.cpp). So background marking stays a quarter of a busy program's CPUs, and a
// program that sleeps or waits lends the mark the CPUs it leaves.
#pragma once

#include <cstdint>

namespace gc::detail {

// Starts the controller and the workers, once. Outside critical sections (it creates threads).
// False if the OS refused the controller: the cycle then marks with the world stopped. A refused
// worker leaves the mark to the others.
bool ensure_mark_workers() noexcept;
// Wakes those running for the mark that just started. A registered caller makes each wake in a
// blocking scope (LibraryThread::notify), and on the way out scans its own stack if the mark asks.
void wake_mark_workers();
// Wakes the idle workers for mark `cycle`, which the calling thread waits for. Outside critical
// sections (it may create threads).
void wake_idle_mark_workers(std::uint32_t cycle);
// One drain of idle marking, by an idle or spare-CPU worker or the waiting thread, until no work is
// left (true), `budget` bytes are scanned, or, `as_turn`, one turn of a registered thread is over
// (marker.hpp): counted as idle work and idle CPU, not as credit for assists.
bool idle_drain(bool as_turn = false, std::int64_t budget = INT64_MAX);
// In the child after fork(): the threads are gone; the next cycle starts new ones.
void forget_mark_workers_after_fork();
// Number of background mark threads, the controller included.
int mark_worker_count();

}  // namespace gc::detail
