#include "gc/mark_stack.hpp"

#include <mutex>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"

namespace gc::detail {

namespace {
constexpr std::size_t kMaxSpares = 256;  // 4 MiB kept from one cycle to the next
Mutex g_spare_mutex{LockRank::kLeaf};    // taken inside critical sections or by library threads
MarkChunk* g_spares = nullptr;           // linked through `prev`
std::size_t g_spare_count = 0;
}  // namespace

MarkChunk* new_mark_chunk() {
  MarkChunk* c = nullptr;
  {
    std::lock_guard lock(g_spare_mutex);
    c = g_spares;
    if (c != nullptr) {
      g_spares = c->prev;
      --g_spare_count;
    }
  }
  if (c == nullptr) {
    c = static_cast<MarkChunk*>(os::map_metadata(sizeof(MarkChunk)));
    if (c == nullptr) os::fatal("out of memory for the mark stack");
  }
  c->prev = nullptr;
  c->count = 0;
  return c;
}

void free_mark_chunk(MarkChunk* c) {
  std::lock_guard lock(g_spare_mutex);
  c->prev = g_spares;
  g_spares = c;
  ++g_spare_count;
}

void trim_mark_chunk_spares() {
  MarkChunk* excess = nullptr;
  {
    std::lock_guard lock(g_spare_mutex);
    while (g_spare_count > kMaxSpares) {
      MarkChunk* c = g_spares;
      g_spares = c->prev;
      --g_spare_count;
      c->prev = excess;
      excess = c;
    }
  }
  while (excess != nullptr) {  // outside the lock: each call is a system call
    MarkChunk* c = excess;
    excess = c->prev;
    os::unmap_metadata(c, sizeof(MarkChunk));
  }
}

std::size_t mark_chunk_spares() {
  std::lock_guard lock(g_spare_mutex);
  return g_spare_count;
}

MarkStack::~MarkStack() {
  while (top_ != nullptr) shrink();
}

void MarkStack::grow() {
  MarkChunk* c = new_mark_chunk();
  c->prev = top_;
  top_ = c;
}

void MarkStack::shrink() {
  MarkChunk* c = top_;
  top_ = c->prev;
  free_mark_chunk(c);
}

void MarkStack::adopt(MarkChunk* c) {
  // Every chunk below the top holds work (empty() reads only the bottom one): a top emptied by
  // pop() goes before another is laid on it.
  if (top_ != nullptr && top_->count == 0) shrink();
  c->prev = top_;
  top_ = c;
}

namespace {

// Copies n words from src to dst (dst <= src if they overlap) one general register at a time.
// Not memcpy: glibc's AVX-512 copies go through ymm16-31/zmm16-31, which no compiled code of a
// baseline x86-64 build touches, so the last object addresses a copy moved stay there for as
// long as the thread makes no other large copy. A signal delivered to the thread writes them to
// its stack with the rest of its register state, where the frames that later grow over that
// memory leave them unwritten, and the thread's next stack scan keeps those objects alive after
// they die (dozens of them at once: a 200,000-root test kept 40). The empty asm stops the compiler
// from turning the loop back into a call to memcpy or vectorising it.
void copy_words_forward(std::uintptr_t* dst, const std::uintptr_t* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    dst[i] = src[i];
    asm volatile("" : "+r"(i));
  }
}

}  // namespace

MarkChunk* MarkStack::split_half() {
  if (top_ == nullptr || top_->count < 2) return nullptr;
  MarkChunk* half = new_mark_chunk();
  const std::size_t moved = top_->count / 2;
  // The oldest entries go: they are furthest from what this marker is working on.
  copy_words_forward(half->items, top_->items, moved);
  copy_words_forward(top_->items, top_->items + moved, top_->count - moved);
  top_->count -= moved;
  half->count = moved;
  return half;
}

}  // namespace gc::detail
