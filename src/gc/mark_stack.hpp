// Grey work lists: addresses of marked objects whose slots are still to be scanned.
//
// A MarkStack is one marker's private stack of fixed-size chunks. Chunks come straight from mmap,
// never from malloc, because markers run while the world is stopped and inside critical sections,
// where a stopped thread may hold malloc's locks. Emptied chunks, but the last one a stack keeps,
// go to a spare list that later markers reuse. The spares beyond 4 MiB are unmapped when a cycle
// ends, not when they are freed: each munmap is a system call and a TLB shootdown that interrupts
// every CPU the program runs on, and a mark of a wide frontier of objects frees thousands of
// chunks and takes them again (docs/design.md, section 5, "Mark-stack chunks kept for the mark").
//
// Chunks are also the unit of sharing between markers: the global grey queue (mark_queue.hpp)
// holds whole chunks. A marker publishes its work by handing chunks to the queue, and takes work by
// adopting a chunk from it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

struct MarkChunk {
  static constexpr std::size_t kBytes = 16 * 1024;
  static constexpr std::size_t kItems = (kBytes - 2 * sizeof(void*)) / sizeof(void*);
  MarkChunk* prev;
  std::size_t count;
  std::uintptr_t items[kItems];
};

MarkChunk* new_mark_chunk();
void free_mark_chunk(MarkChunk* c);
// Unmaps the spares beyond 4 MiB. Outside critical sections and stops (system calls): at the end
// of a cycle, after the world restarts.
void trim_mark_chunk_spares();
// Chunks on the spare list (for tests).
std::size_t mark_chunk_spares();

class MarkStack {
 public:
  MarkStack() = default;
  ~MarkStack();
  MarkStack(const MarkStack&) = delete;
  MarkStack& operator=(const MarkStack&) = delete;

  void push(std::uintptr_t object) {
    if (top_ == nullptr || top_->count == MarkChunk::kItems) grow();
    top_->items[top_->count++] = object;
  }
  // An emptied chunk is freed only when another is below it: the bottom one stays, so a work list
  // that goes empty and gets one entry again (marking a linked list) takes no lock for its chunk.
  bool pop(std::uintptr_t& object) {
    while (top_ != nullptr && top_->count == 0 && top_->prev != nullptr) shrink();
    if (top_ == nullptr || top_->count == 0) return false;
    object = top_->items[--top_->count];
    return true;
  }
  bool empty() const { return top_ == nullptr || (top_->count == 0 && top_->prev == nullptr); }
  // Items in the top chunk: enough to tell whether splitting is worth it.
  std::size_t top_count() const { return top_ == nullptr ? 0 : top_->count; }

  // Takes a chunk (from the grey queue) as this stack's work.
  void adopt(MarkChunk* c);
  // Detaches every non-empty chunk and passes it to `sink`; the stack is empty afterwards.
  template <class Sink>
  void give_all(Sink&& sink) {
    while (top_ != nullptr) {
      MarkChunk* c = top_;
      top_ = c->prev;
      if (c->count == 0) {
        free_mark_chunk(c);
      } else {
        c->prev = nullptr;
        sink(c);
      }
    }
  }
  // Moves the older half of the top chunk into a new chunk and returns it (null if too few).
  MarkChunk* split_half();

 private:
  void grow();
  void shrink();

  MarkChunk* top_ = nullptr;
};

}  // namespace gc::detail
