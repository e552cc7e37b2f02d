// Fixed-size blocks from mmap, for the library's own bookkeeping (span descriptors, page-heap index
// nodes, destructor tables, grey-object chunks, root tables' neighbours).
//
// Why not malloc: library code that holds internal locks runs inside critical sections, where a
// stop signal is deferred. If such code called malloc while another thread had been stopped by
// signal inside malloc holding an arena lock, it would wait for that thread, and the stop would
// wait for it: a deadlock. So nothing inside a critical section calls malloc; it takes blocks from
// here. Blocks are recycled through a free list and never returned to the OS; the chunks they come
// from count as the library's metadata (os_memory.hpp) from the moment they are mapped.
//
// A fresh chunk is handed out by a bump pointer, not threaded onto the free list at once: that
// would touch every page of the chunk inside the caller's critical section (page faults that a
// stop of the world waits out), and pages of it no block was taken from yet stay untouched.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"

namespace gc::detail {

// `Tag` gives a user a pool of its own, whose blocks no other user of the size ever gets.
template <std::size_t BlockSize, class Tag = void>
class FixedPool {
  static_assert(BlockSize >= sizeof(void*));

 public:
  void* allocate() {
    std::lock_guard lock(mutex_);
    if (Node* n = free_) {
      free_ = n->next;
      return n;
    }
    if (bump_ == end_) refill();
    void* block = bump_;
    bump_ += kBlock;
    return block;
  }
  void deallocate(void* p) {
    std::lock_guard lock(mutex_);
    auto* n = static_cast<Node*>(p);
    n->next = free_;
    free_ = n;
  }

  // Constant-initialised and trivially destructible: no allocation, no guard, no exit-time
  // destruction, so the first use may be inside a critical section.
  static FixedPool& instance() {
    static constinit FixedPool pool;
    return pool;
  }

  constexpr FixedPool() = default;

 private:
  struct Node {
    Node* next;
  };
  static constexpr std::size_t kBlock = (BlockSize + 15) & ~std::size_t{15};
  // Small chunks (Go's fixalloc takes 16 KiB at a time): every pool and SizedPool bucket a program
  // touches maps at least one, all of it counted against the memory limit from the start (though
  // its pages become resident only as the bump pointer reaches them).
  static constexpr std::size_t kChunk = kBlock > (std::size_t{1} << 16) ? kBlock
                                                                        : std::size_t{1} << 16;

  void refill() {
    auto* chunk = static_cast<char*>(os::map_metadata(kChunk));
    if (chunk == nullptr) os::fatal("out of memory for the collector's bookkeeping");
    bump_ = chunk;
    end_ = chunk + kChunk / kBlock * kBlock;
  }

  Mutex mutex_{LockRank::kLeaf};
  Node* free_ = nullptr;
  char* bump_ = nullptr;  // the rest of the latest chunk, [bump_, end_)
  char* end_ = nullptr;
};

// Blocks of any size up to kMaxBytes, from one FixedPool per power of two (at least 64 bytes), for
// bookkeeping whose size follows a span's object count (destructor tables): a span
// of 32 objects then costs 32 entries, not the 4,096 of the densest span.
class SizedPool {
 public:
  static constexpr std::size_t kMinShift = 6;
  static constexpr std::size_t kMaxShift = 15;
  static constexpr std::size_t kMaxBytes = std::size_t{1} << kMaxShift;

  static void* allocate(std::size_t bytes) { return buckets()[bucket(bytes)].allocate(); }
  static void deallocate(void* p, std::size_t bytes) { buckets()[bucket(bytes)].deallocate(p); }

 private:
  struct Bucket {
    void* (*allocate)();
    void (*deallocate)(void*);
  };
  static std::size_t bucket(std::size_t bytes) {
    if (bytes > kMaxBytes) os::fatal("SizedPool: %zu bytes is too large", bytes);
    std::size_t shift = kMinShift;
    while ((std::size_t{1} << shift) < bytes) ++shift;
    return shift - kMinShift;
  }
  template <std::size_t Shift>
  static constexpr Bucket bucket_of() {
    using Pool = FixedPool<std::size_t{1} << Shift>;
    return {[] { return Pool::instance().allocate(); },
            [](void* p) { Pool::instance().deallocate(p); }};
  }
  template <std::size_t... I>
  static constexpr std::array<Bucket, sizeof...(I)> make_buckets(std::index_sequence<I...>) {
    return {bucket_of<kMinShift + I>()...};
  }
  static const Bucket* buckets() {
    static constexpr auto table =
        make_buckets(std::make_index_sequence<kMaxShift - kMinShift + 1>());
    return table.data();
  }
};

// A standard allocator over FixedPool, for node-based containers (std::map, std::set) used inside
// critical sections. Only single-object allocations are supported, which is all nodes need.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n != 1) os::fatal("PoolAllocator: only single nodes");
    return static_cast<T*>(FixedPool<sizeof(T)>::instance().allocate());
  }
  void deallocate(T* p, std::size_t) noexcept { FixedPool<sizeof(T)>::instance().deallocate(p); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace gc::detail
