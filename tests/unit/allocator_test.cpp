// The allocator behind gc::make: size classes chosen at compile time, spans, thread caches, the
// tiny allocator, large objects, alignment, arrays, constructor failure and address lookup.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/support.hpp"
#include "heap/object_lookup.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using gc::detail::find_object;
using gc::detail::ObjectRef;

template <std::size_t N>
struct Bytes {
  unsigned char b[N];
};

template <std::size_t N>
void expect_class_of_size() {
  auto p = gc::make<Bytes<N>>();
  ObjectRef ref;
  ASSERT_TRUE(find_object(reinterpret_cast<std::uintptr_t>(p.get()), ref));
  if (N < gc::detail::kTinySize) {
    EXPECT_EQ(ref.span->elem_size, gc::detail::kTinySize) << N;
  } else if (N <= gc::detail::kMaxSmallSize) {
    const auto sc = gc::detail::size_to_class(N);
    EXPECT_EQ(ref.span->elem_size, gc::detail::kClassToSize[sc]) << N;
    EXPECT_TRUE(ref.span->noscan());
  } else {
    EXPECT_EQ(ref.span->nelems, 1u);
    EXPECT_EQ(ref.span->large_size, N);
  }
}

TEST(Allocator, ObjectsLandInTheirSizeClass) {
  expect_class_of_size<1>();
  expect_class_of_size<8>();
  expect_class_of_size<17>();
  expect_class_of_size<100>();
  expect_class_of_size<1000>();
  expect_class_of_size<1025>();
  expect_class_of_size<32768>();
  expect_class_of_size<32769>();
  expect_class_of_size<100000>();
}

TEST(Allocator, DistinctWritableObjects) {
  std::set<std::uintptr_t> seen;
  std::vector<gc::ptr<Bytes<48>>> keep;
  for (int i = 0; i < 5000; ++i) {
    auto p = gc::make<Bytes<48>>();
    std::memset(p->b, i & 0xff, sizeof p->b);
    EXPECT_TRUE(seen.insert(reinterpret_cast<std::uintptr_t>(p.get())).second);
    keep.push_back(p);
  }
  for (int i = 0; i < 5000; ++i)
    for (unsigned char c : keep[static_cast<std::size_t>(i)]->b) ASSERT_EQ(c, i & 0xff);
}

TEST(Allocator, ScanAndNoscanSpansAreSeparate) {
  struct WithPointer {
    gc::ptr<int> p;
    long payload[5];
  };
  auto a = gc::make<WithPointer>();
  auto b = gc::make<Bytes<48>>();
  ObjectRef ra, rb;
  ASSERT_TRUE(find_object(reinterpret_cast<std::uintptr_t>(a.get()), ra));
  ASSERT_TRUE(find_object(reinterpret_cast<std::uintptr_t>(b.get()), rb));
  EXPECT_FALSE(ra.span->noscan());
  EXPECT_TRUE(rb.span->noscan());
  EXPECT_NE(ra.span, rb.span);
}

template <std::size_t A>
struct alignas(A) Aligned {
  unsigned char b[A];
};

template <std::size_t A>
void expect_aligned() {
  for (int i = 0; i < 20; ++i) {
    auto p = gc::make<Aligned<A>>();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p.get()) % A, 0u) << "alignment " << A;
  }
}

TEST(Allocator, HonoursAlignmentUpTo4096) {
  expect_aligned<16>();
  expect_aligned<32>();
  expect_aligned<64>();
  expect_aligned<128>();
  expect_aligned<256>();
  expect_aligned<512>();
  expect_aligned<1024>();
  expect_aligned<2048>();
  expect_aligned<4096>();
  struct alignas(64) Small {
    char c;
  };
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(gc::make<Small>().get()) % 64, 0u);
}

TEST(Allocator, TinyObjectsShareSixteenByteBlocks) {
  const auto block = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) & ~15ull; };
  // Allocate until an object starts a block; the next two then fit in the same block.
  gc::ptr<std::uint32_t> a = gc::make<std::uint32_t>(1);
  for (int i = 0; i < 8 && reinterpret_cast<std::uintptr_t>(a.get()) % 16 != 0; ++i)
    a = gc::make<std::uint32_t>(1);
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(a.get()) % 16, 0u);
  auto b = gc::make<std::uint32_t>(2);
  auto c = gc::make<std::uint16_t>(3);
  EXPECT_EQ(block(a.get()), block(b.get()));
  EXPECT_EQ(block(b.get()), block(c.get()));
  EXPECT_EQ(*a, 1u);
  EXPECT_EQ(*b, 2u);
  EXPECT_EQ(*c, 3u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.get()) % alignof(std::uint32_t), 0u);
  // Each value keeps its own bytes.
  *a = 0xAAAAAAAA;
  EXPECT_EQ(*b, 2u);
}

TEST(Allocator, LargeObjectsGetTheirOwnSpan) {
  auto big = gc::make<Bytes<100000>>();
  ObjectRef ref;
  const auto base = reinterpret_cast<std::uintptr_t>(big.get());
  ASSERT_TRUE(find_object(base + 99999, ref));
  EXPECT_EQ(ref.base, base);
  EXPECT_EQ(base % gc::detail::kPageSize, 0u);
  EXPECT_EQ(ref.span->npages, (100000 + 8191) / 8192u);
  // The rounding tail past the object is not part of it.
  EXPECT_FALSE(find_object(base + 100000 + 16, ref));
}

TEST(Allocator, InteriorAddressesResolveToTheirObject) {
  struct Pair {
    long a[6];
  };
  std::vector<gc::ptr<Pair>> objects;
  for (int i = 0; i < 300; ++i) objects.push_back(gc::make<Pair>());
  for (auto& p : objects) {
    const auto base = reinterpret_cast<std::uintptr_t>(p.get());
    for (std::uintptr_t off = 0; off < sizeof(Pair); ++off) {
      ObjectRef ref;
      ASSERT_TRUE(find_object(base + off, ref));
      ASSERT_EQ(ref.base, base);
      ASSERT_EQ(ref.span->elem_size, 48u);
    }
  }
  int on_stack = 0;
  ObjectRef ref;
  EXPECT_FALSE(find_object(reinterpret_cast<std::uintptr_t>(&on_stack), ref));
  EXPECT_FALSE(find_object(0, ref));
}

TEST(Allocator, ArraysAreValueInitialisedAndSized) {
  auto a = gc::make<int[]>(1000);
  EXPECT_EQ(a.size(), 1000u);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], 0);
  auto empty = gc::make<double[]>(0);
  EXPECT_EQ(empty.size(), 0u);
  auto big = gc::make<long[]>(100000);
  EXPECT_EQ(big.size(), 100000u);
  big[99999] = 7;
  EXPECT_EQ(big[99999], 7);
  struct alignas(64) Wide {
    int v = 5;
  };
  auto w = gc::make<Wide[]>(3);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w[0]) % 64, 0u);
  EXPECT_EQ(w[2].v, 5);
}

// An array's end, &a[0] + n, resolves to the array itself, whatever n: gc::make<T[]> gives every
// array a byte of slack, so an array that would fill its slot (or its pages) exactly does not end
// where the next object begins.
template <class E>
void expect_end_resolves_to_its_array(std::size_t n) {
  auto a = gc::make<E[]>(n);
  auto after = gc::make<E[]>(n);  // usually the next slot: a stray end would land here
  ObjectRef own, end;
  ASSERT_TRUE(find_object(reinterpret_cast<std::uintptr_t>(a.get()), own)) << n;
  ASSERT_TRUE(find_object(reinterpret_cast<std::uintptr_t>(a.get() + n), end)) << n;
  EXPECT_EQ(end.base, own.base) << n;
  EXPECT_EQ(gc::ptr<E>(a.get() + n).get(), a.get() + n);  // construction accepts it
}

TEST(Allocator, AnArraysEndResolvesToTheArray) {
  for (std::size_t n : {0, 1, 3, 7, 15, 31, 63, 127, 1023, 4095})  // 8 + 8n: exact classes
    expect_end_resolves_to_its_array<std::uint64_t>(n);
  for (std::size_t n = 0; n < 300; ++n) expect_end_resolves_to_its_array<char>(n);
  // Large: the count and the elements fill eight pages exactly.
  expect_end_resolves_to_its_array<char>(8 * gc::detail::kPageSize - sizeof(std::size_t));
  expect_end_resolves_to_its_array<std::uint64_t>(8 * gc::detail::kPageSize / 8 - 1);
}

struct ThrowsOnConstruction {
  explicit ThrowsOnConstruction(bool fail) {
    if (fail) throw std::runtime_error("constructor failed");
  }
  long payload[4];
};

TEST(Allocator, ThrowingConstructorGivesItsSlotBack) {
  auto first = gc::make<ThrowsOnConstruction>(false);
  void* failed_at = nullptr;
  try {
    void* next =
        gc::detail::allocate_for<ThrowsOnConstruction>().memory;  // where the next one goes
    gc::detail::abandon_allocation(next);
    failed_at = next;
    gc::make<ThrowsOnConstruction>(true);
    FAIL() << "no exception";
  } catch (const std::runtime_error&) {
  }
  // The slot the failed construction took is handed out again.
  auto again = gc::make<ThrowsOnConstruction>(false);
  EXPECT_EQ(static_cast<void*>(again.get()), failed_at);
}

TEST(Allocator, ImpossibleSizesThrowBadAlloc) {
  EXPECT_THROW(gc::make<char[]>(std::size_t{1} << 62), std::bad_alloc);
  EXPECT_THROW(gc::make<double[]>(std::size_t{1} << 61), std::bad_array_new_length);
  // The heap is still usable.
  EXPECT_EQ(*gc::make<int>(3), 3);
}

__attribute__((noinline)) void allocate_garbage(int n) {
  for (int i = 0; i < n; ++i) gc::make<Bytes<64>>();
}

TEST(Allocator, StatisticsCountAllocations) {
  const gc::stats before = gc::read_stats();
  std::vector<gc::ptr<Bytes<64>>> keep;
  for (int i = 0; i < 1000; ++i) keep.push_back(gc::make<Bytes<64>>());
  const gc::stats after = gc::read_stats();
  EXPECT_GE(after.mallocs - before.mallocs, 1000u);
  EXPECT_LE(after.mallocs - before.mallocs, 1010u);
  EXPECT_GE(after.total_alloc - before.total_alloc, 64000u);
  EXPECT_GE(after.heap_alloc, before.heap_alloc + 64000u);
  EXPECT_GE(after.heap_inuse, after.heap_alloc);
  EXPECT_GE(after.heap_sys, after.heap_inuse);
  EXPECT_EQ(after.heap_sys, after.heap_inuse + after.heap_idle);
}

TEST(Allocator, MemoryIsReusedAfterCollection) {
  gc::set_percent(-1);  // only explicit collections, so the numbers are ours
  allocate_garbage(100000);
  test::collect_clean();
  const gc::stats first = gc::read_stats();
  allocate_garbage(100000);
  test::collect_clean();
  const gc::stats second = gc::read_stats();
  // The second round reuses the first round's spans instead of growing the heap.
  EXPECT_LE(second.heap_sys, first.heap_sys + (1u << 20));
  EXPECT_LT(second.heap_alloc, 1u << 20);
}

// Fills spans of 48-byte objects (682 to a span, so each spans eleven 64-slot words) and keeps
// every third object, in a frame of its own.
__attribute__((noinline)) void keep_every_third(std::vector<gc::ptr<Bytes<48>>>& kept, int n) {
  for (int i = 0; i < n; ++i) {
    gc::ptr<Bytes<48>> p = gc::make<Bytes<48>>();
    if (i % 3 == 0) kept.push_back(p);
  }
}

// A sweep leaves live objects scattered through a span; the thread's cache then hands out only its
// free slots, across every 64-slot word (the fast path's window is refilled from the allocation
// bitmap at each word's end).
TEST(Allocator, ASweptSpanHandsOutOnlyItsFreeSlots) {
  gc::set_percent(-1);
  std::vector<gc::ptr<Bytes<48>>> kept;
  keep_every_third(kept, 6000);
  test::collect_clean();
  std::set<std::uintptr_t> taken;
  std::set<const gc::detail::Span*> spans;
  for (const auto& p : kept) {
    std::memset(p->b, 0xab, sizeof p->b);
    taken.insert(reinterpret_cast<std::uintptr_t>(p.get()));
    spans.insert(gc::detail::span_of(reinterpret_cast<std::uintptr_t>(p.get())));
  }
  std::vector<gc::ptr<Bytes<48>>> fresh;
  int reused = 0;
  for (int i = 0; i < 4000; ++i) {
    gc::ptr<Bytes<48>> p = gc::make<Bytes<48>>();
    const auto addr = reinterpret_cast<std::uintptr_t>(p.get());
    ASSERT_TRUE(taken.insert(addr).second) << "object " << i << " handed out a live slot";
    reused += spans.count(gc::detail::span_of(addr)) != 0 ? 1 : 0;
    fresh.push_back(std::move(p));
  }
  EXPECT_GT(reused, 2000) << "the new objects did not go into the swept spans";
  for (const auto& p : kept)
    ASSERT_TRUE(std::all_of(p->b, p->b + 48, [](unsigned char b) { return b == 0xab; }))
        << "a kept object was zeroed as a new one";
}

TEST(Allocator, ManyThreadsAllocateExitAndAreReplaced) {
  for (int round = 0; round < 5; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([t] {
        std::vector<gc::ptr<Bytes<32>>> mine;
        for (int i = 0; i < 20000; ++i) {
          auto p = gc::make<Bytes<32>>();
          p->b[0] = static_cast<unsigned char>(t);
          if (i % 4 == 0) mine.push_back(p);
        }
        for (auto& p : mine) ASSERT_EQ(p->b[0], t);
      });
    }
    for (auto& th : threads) th.join();
  }
  gc::collect();
  SUCCEED();
}

}  // namespace
