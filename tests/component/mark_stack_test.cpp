// A marker's private grey stack alone (src/gc/mark_stack.hpp): its chunks, and the split that hands
// half of its work to other markers. The addresses are made up; nothing is marked or allocated.
#include "gc/mark_stack.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using gc::detail::MarkChunk;
using gc::detail::MarkStack;

constexpr std::uintptr_t kFirst = 0x5eed'0000'0000;

std::uintptr_t address(std::size_t i) { return kFirst + 8 * i; }

std::vector<std::uintptr_t> pop_all(MarkStack& stack) {
  std::vector<std::uintptr_t> out;
  for (std::uintptr_t a = 0; stack.pop(a);) out.push_back(a);
  return out;
}

TEST(MarkStack, PopsInReverseOrderAcrossChunks) {
  MarkStack stack;
  const std::size_t n = 2 * MarkChunk::kItems + 3;
  for (std::size_t i = 0; i < n; ++i) stack.push(address(i));
  const std::vector<std::uintptr_t> popped = pop_all(stack);
  ASSERT_EQ(popped.size(), n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(popped[i], address(n - 1 - i));
  EXPECT_TRUE(stack.empty());
}

// A stack that runs empty keeps its last chunk: a marker whose work list goes empty and gets one
// entry again, as marking a linked list does for every node, takes no spare chunk and no lock.
TEST(MarkStack, AStackEmptiedKeepsItsLastChunk) {
  MarkStack stack;
  stack.push(address(0));
  MarkChunk* own = nullptr;
  stack.give_all([&](MarkChunk* c) { own = c; });
  stack.adopt(own);
  std::uintptr_t a = 0;
  ASSERT_TRUE(stack.pop(a));
  EXPECT_FALSE(stack.pop(a));
  EXPECT_TRUE(stack.empty());
  // Spares are reused last in, first out: had the stack given its chunk back, this is it.
  MarkChunk* spare = gc::detail::new_mark_chunk();
  EXPECT_NE(spare, own) << "the emptied chunk went back to the spares";
  gc::detail::free_mark_chunk(spare);
  stack.push(address(1));
  MarkChunk* after = nullptr;
  stack.give_all([&](MarkChunk* c) { after = c; });
  EXPECT_EQ(after, own);
  gc::detail::free_mark_chunk(after);
}

// A chunk adopted by a stack that ran empty is its only work: once that is popped, it is empty.
TEST(MarkStack, AChunkAdoptedByAnEmptiedStackIsAllItHolds) {
  MarkStack stack;
  stack.push(address(0));
  std::uintptr_t a = 0;
  ASSERT_TRUE(stack.pop(a));
  MarkChunk* c = gc::detail::new_mark_chunk();
  c->items[c->count++] = address(1);
  stack.adopt(c);
  EXPECT_FALSE(stack.empty());
  ASSERT_TRUE(stack.pop(a));
  EXPECT_EQ(a, address(1));
  EXPECT_TRUE(stack.empty()) << "an emptied chunk was left below the adopted one";
  EXPECT_FALSE(stack.pop(a));
}

// Chunks freed during a mark stay spares, however many: unmapping one is a TLB shootdown. The
// spares beyond 4 MiB (256 chunks) go when the cycle ends.
TEST(MarkStack, SparesAreKeptUntilTrimmed) {
  gc::detail::trim_mark_chunk_spares();
  std::vector<MarkChunk*> taken;
  for (int i = 0; i < 300; ++i) taken.push_back(gc::detail::new_mark_chunk());
  const std::size_t before = gc::detail::mark_chunk_spares();
  for (MarkChunk* c : taken) gc::detail::free_mark_chunk(c);
  EXPECT_EQ(gc::detail::mark_chunk_spares(), before + 300) << "a freed chunk was unmapped";
  gc::detail::trim_mark_chunk_spares();
  EXPECT_EQ(gc::detail::mark_chunk_spares(), 256u);
  MarkChunk* spare = gc::detail::new_mark_chunk();
  spare->items[MarkChunk::kItems - 1] = address(0);  // still mapped
  gc::detail::free_mark_chunk(spare);
}

TEST(MarkStack, SplitHalfHandsOverTheOldestHalfOfTheTopChunk) {
  MarkStack stack;
  for (std::size_t i = 0; i < 201; ++i) stack.push(address(i));
  MarkChunk* half = stack.split_half();
  ASSERT_NE(half, nullptr);
  ASSERT_EQ(half->count, 100u);
  for (std::size_t i = 0; i < half->count; ++i) EXPECT_EQ(half->items[i], address(i));
  const std::vector<std::uintptr_t> kept = pop_all(stack);
  ASSERT_EQ(kept.size(), 101u);
  for (std::size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], address(200 - i));
  gc::detail::free_mark_chunk(half);

  MarkStack one;
  one.push(address(0));
  EXPECT_EQ(one.split_half(), nullptr) << "one entry is not worth splitting";
}

#if defined(__x86_64__)
// zmm16-31 hold 16 × 64 bytes: the registers that glibc's AVX-512 copies use and compiled
// baseline x86-64 code never touches.
__attribute__((target("avx512f"), noinline)) void read_upper_vector_registers(
    std::uintptr_t (&out)[16 * 8]) {
#define TRICOLOR_STORE_ZMM(n) asm volatile("vmovdqu64 %%zmm" #n ", %0" : "=m"(out[((n)-16) * 8]))
  TRICOLOR_STORE_ZMM(16);
  TRICOLOR_STORE_ZMM(17);
  TRICOLOR_STORE_ZMM(18);
  TRICOLOR_STORE_ZMM(19);
  TRICOLOR_STORE_ZMM(20);
  TRICOLOR_STORE_ZMM(21);
  TRICOLOR_STORE_ZMM(22);
  TRICOLOR_STORE_ZMM(23);
  TRICOLOR_STORE_ZMM(24);
  TRICOLOR_STORE_ZMM(25);
  TRICOLOR_STORE_ZMM(26);
  TRICOLOR_STORE_ZMM(27);
  TRICOLOR_STORE_ZMM(28);
  TRICOLOR_STORE_ZMM(29);
  TRICOLOR_STORE_ZMM(30);
  TRICOLOR_STORE_ZMM(31);
#undef TRICOLOR_STORE_ZMM
}

__attribute__((target("avx512f"), noinline)) void clear_upper_vector_registers() {
  asm volatile(
      "vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
      "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
      "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
      "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
      "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
      "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
      "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
      "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::
          : "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
            "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

// The split copies object addresses through general registers only. Copied with memcpy, the last
// of them stayed in zmm16-31 until the thread's next large copy; a signal wrote them to the stack,
// and the thread's next stack scan kept those objects alive long after they died (a test with
// 200,000 roots kept 40).
TEST(MarkStack, SplitHalfLeavesNoAddressInTheVectorRegistersMemcpyUses) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 on this CPU";
  MarkStack stack;
  for (std::size_t i = 0; i < 201; ++i) stack.push(address(i));
  clear_upper_vector_registers();  // what earlier copies in this process left there
  MarkChunk* half = stack.split_half();
  std::uintptr_t registers[16 * 8];
  read_upper_vector_registers(registers);
  ASSERT_NE(half, nullptr);
  int found = 0;
  for (std::uintptr_t word : registers) found += word >= address(0) && word <= address(200);
  EXPECT_EQ(found, 0) << "addresses the split moved are left in zmm16-31";
  gc::detail::free_mark_chunk(half);
}
#endif

}  // namespace
