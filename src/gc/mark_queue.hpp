// The global grey queue: chunks of grey objects that any marker may take, and the bookkeeping that
// tells when the mark has run out of work.
//
// Markers keep their work private (MarkStack) and share it in whole chunks: a marker whose queue
// neighbours are idle splits its stack and publishes half; a marker that runs dry takes a chunk.
// Mutators publish what their barrier buffers and stack scans shaded.
//
// Quiescence: the mark is out of work when the queue is empty and no marker holds private work.
// A marker counts itself busy for its whole life, so "queue empty, nobody busy" read in that
// order, with the event counter unchanged around both reads, cannot miss work in flight: a marker
// that took the last chunk was counted busy before it took it, and a marker that publishes bumps
// the counter before it stops being busy.
//
// Closing: mark termination, with the world stopped, reads "queue empty, nobody busy" and closes
// the mark in the same step (close_mark). A marker made after that — a mark worker that wakes late
// for a mark that has ended — is refused: it is inert and takes no work, so that the mark ends with
// no marker of it alive (mark_closed), and a late marker cannot take the next mark's work without
// being counted. Mark start opens the next mark (open_mark); before the first, no mark is open.
#pragma once

#include <atomic>
#include <cstdint>

#include "gc/mark_stack.hpp"

namespace gc::detail {

void grey_queue_put(MarkChunk* c);
MarkChunk* grey_queue_take();
bool grey_queue_empty();
// True when a worker waits for work and the queue has none to give it.
bool grey_queue_hungry();

// Counts a marker busy; false (not counted) once the mark is closed.
bool marker_busy_begin();
void marker_busy_end();
// The queue is empty and no marker is busy.
bool mark_quiescent();
// mark_quiescent(), and if so closes the mark: no marker is counted busy until open_mark().
bool close_mark();
// The mark is closed and no grey work is queued.
bool mark_closed();
// Mark start: markers are counted again.
void open_mark();

// A counter that moves whenever grey work is published or a stack is scanned; mark workers sleep
// on it.
std::uint32_t mark_events();
void notify_mark_event();
void wait_for_mark_event(std::uint32_t seen, std::int64_t timeout_ns);
// A marker out of work waits here, up to `timeout_ns`, for another mark event (unless the queue
// has work already). Meanwhile it counts as idle, so that markers with work to spare publish half
// of it (grey_queue_hungry).
void wait_for_grey_work(std::uint32_t seen, std::int64_t timeout_ns);
// In a fork's child: the threads that waited did not survive the fork, so nobody waits or is idle.
void forget_waiters_after_fork();

}  // namespace gc::detail
