#include "gc/mark_stack.hpp"

#include "heap/os_memory.hpp"

namespace gc::detail {

void MarkStack::grow() {
  Chunk* c = spare_;
  if (c != nullptr) {
    spare_ = c->prev;
  } else {
    c = static_cast<Chunk*>(os::map_table(sizeof(Chunk)));
    if (c == nullptr) os::fatal("out of memory for the mark stack");
  }
  c->prev = top_;
  c->count = 0;
  top_ = c;
}

void MarkStack::shrink() {
  Chunk* c = top_;
  top_ = c->prev;
  c->prev = spare_;
  spare_ = c;
}

}  // namespace gc::detail
