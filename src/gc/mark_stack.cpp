#include "gc/mark_stack.hpp"

#include "heap/os_memory.hpp"

namespace gc::detail {

namespace {
constexpr std::size_t kMaxSpares = 16;  // 1 MiB
void* g_spares = nullptr;               // a list linked through each chunk's first word
std::size_t g_spare_count = 0;
}  // namespace

MarkStack::~MarkStack() {
  while (top_ != nullptr) shrink();
}

void MarkStack::grow() {
  Chunk* c = static_cast<Chunk*>(g_spares);
  if (c != nullptr) {
    g_spares = c->prev;
    --g_spare_count;
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
  if (g_spare_count >= kMaxSpares) {
    os::unmap(c, sizeof(Chunk));
    return;
  }
  c->prev = static_cast<Chunk*>(g_spares);
  g_spares = c;
  ++g_spare_count;
}

}  // namespace gc::detail
