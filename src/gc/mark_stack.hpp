// The grey work list: addresses of marked objects whose slots are still to be scanned.
//
// A stack of fixed-size chunks obtained straight from mmap, never from malloc, because it grows
// while the world is stopped, when a stopped thread may hold malloc's locks. Emptied chunks, and
// all chunks when the stack is destroyed, go to a spare list that the next cycle reuses; spares
// beyond 1 MiB are unmapped. Mark stacks exist only inside a cycle, under the cycle lock, which
// guards the spare list.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

class MarkStack {
 public:
  MarkStack() = default;
  ~MarkStack();
  MarkStack(const MarkStack&) = delete;
  MarkStack& operator=(const MarkStack&) = delete;

  void push(std::uintptr_t object) {
    if (top_ == nullptr || top_->count == kChunkItems) grow();
    top_->items[top_->count++] = object;
  }
  bool pop(std::uintptr_t& object) {
    while (top_ != nullptr && top_->count == 0) shrink();
    if (top_ == nullptr) return false;
    object = top_->items[--top_->count];
    return true;
  }
  bool empty() const { return top_ == nullptr || (top_->count == 0 && top_->prev == nullptr); }

 private:
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  struct Chunk;
  static constexpr std::size_t kChunkItems = (kChunkBytes - 2 * sizeof(void*)) / sizeof(void*);
  struct Chunk {
    Chunk* prev;
    std::size_t count;
    std::uintptr_t items[kChunkItems];
  };
  void grow();
  void shrink();

  Chunk* top_ = nullptr;
};

}  // namespace gc::detail
