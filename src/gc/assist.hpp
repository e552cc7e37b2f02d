// Mark assists: a thread that allocates while a mark is in progress does scan work in proportion,
// so that however fast it allocates, the mark finishes by the time the heap reaches its goal.
//
// The debt is charged when the thread's cache takes a new span (or a large object): its bytes
// times the pacer's current scan work per byte (pacer.hpp). The thread first claims scan work the
// background workers have done and nobody has claimed (Go's background credit), then drains grey
// objects itself, inside a critical section, until the debt is paid or no grey work is left. It
// scans whole objects (oblets), so it may scan more than it owes: the surplus is its own credit,
// spent first on its next debts of the same mark.
//
// A thread still in debt once the heap has reached its goal waits, as a blocked thread, for the
// workers' credit to cover the debt, or for the mark to end (Go's gcParkAssist). It waits as a
// hungry marker (mark_queue.hpp), so a worker splits its grey stack for it, and it marks what is
// shared rather than wait on. Past the goal the pacer's rate makes the debt of one span the scan
// work left divided by 64 KiB, so the heap grows past the goal by about 64 KiB per allocating
// thread before the mark ends: the goal holds under any allocation rate, and a waiting thread goes
// on as soon as the workers have done its share.
#pragma once

#include <cstdint>

#include "heap/collector.hpp"

namespace gc::detail {

// assist_allocation(bytes), which the allocation slow path calls, is declared in
// heap/collector.hpp.

// Wakes threads waiting for credit (called by the workers when they publish some).
void notify_assists();
// In a fork's child: the threads that waited for credit did not survive the fork.
void forget_assist_waiters_after_fork();

}  // namespace gc::detail
