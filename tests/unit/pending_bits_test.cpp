// The pointer bits gc::make holds back (detail/fresh_object.hpp): a thread gathers the bits of the
// objects it makes within one 512-byte bitmap word and ORs them into the bitmap when it moves on
// to another. Every stop of the world puts every thread's held bits into the bitmap, so that a mark
// reads every slot; a thread that exits puts its own there; and a gc::ptr that dies in an object
// whose bit is still held takes its bit out, so that it is never published for a dead slot.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <thread>
#include <utility>

#include "../support/support.hpp"
#include "tricolor/detail/fresh_object.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using test::Tracked;

bool pointer_bit_set(const void* slot) {
  std::uint64_t bit;
  auto& word = gc::detail::pointer_word(reinterpret_cast<std::uintptr_t>(slot), bit);
  return (word.load(std::memory_order_relaxed) & bit) != 0;
}

// One gc::ptr, in a size class of its own (Tracked's is another), so that the holder's bit is the
// last one its thread gathered: the leaf's went into the bitmap when the thread moved to the
// holder's word.
struct Holder {
  explicit Holder(gc::ptr<Tracked> leaf) : next(std::move(leaf)) {}
  gc::ptr<Tracked> next;
};

gc::ptr<Holder> g_holder;  // a root: the only way to the leaf is through the holder's slot

__attribute__((noinline)) gc::ptr<Tracked> make_leaf(int id) { return gc::make<Tracked>(id); }

// In a frame of its own, which the caller then clears: no copy of the leaf's address survives on
// the thread's stack, where the conservative scan would keep the leaf alive whatever the bits say.
__attribute__((noinline)) void make_holder_and_leaf() { g_holder = gc::make<Holder>(make_leaf(1)); }

TEST(PendingBits, AStopPutsARunningThreadsHeldBitsInTheBitmap) {
  std::atomic<int> step{0};
  std::thread maker([&] {
    make_holder_and_leaf();
    test::scrub_stack();
    step.store(1, std::memory_order_release);
    // Running, and making nothing: the stop reaches it by signal, with the bit still held.
    while (step.load(std::memory_order_acquire) != 2) std::this_thread::yield();
  });
  while (step.load(std::memory_order_acquire) != 1) std::this_thread::yield();
  EXPECT_FALSE(pointer_bit_set(&g_holder->next)) << "the maker's thread should hold the bit back";
  const long destroyed_before = Tracked::destroyed.load();
  test::collect_clean();
  EXPECT_TRUE(pointer_bit_set(&g_holder->next));
  EXPECT_EQ(Tracked::destroyed.load(), destroyed_before)
      << "the mark did not read the holder's slot";
  EXPECT_TRUE(g_holder->next->intact());
  step.store(2, std::memory_order_release);
  maker.join();
  g_holder = nullptr;
  test::collect_clean();  // its garbage goes here, not in the next test's count
}

TEST(PendingBits, AThreadThatExitsPutsItsHeldBitsInTheBitmap) {
  test::in_thread([] {
    make_holder_and_leaf();
    EXPECT_FALSE(pointer_bit_set(&g_holder->next)) << "the bit should be held back";
  });
  EXPECT_TRUE(pointer_bit_set(&g_holder->next));
  const long destroyed_before = Tracked::destroyed.load();
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), destroyed_before);
  EXPECT_TRUE(g_holder->next->intact());
  g_holder = nullptr;
  test::collect_clean();
}

// A gc::ptr that the object's owner ends by hand, as std::optional and std::variant do.
struct EndsItsSlot {
  EndsItsSlot() { ::new (&slot) gc::ptr<Tracked>(); }
  ~EndsItsSlot() {}
  void end() { slot.~ptr(); }
  union {
    gc::ptr<Tracked> slot;
  };
};

TEST(PendingBits, ASlotThatDiesWhileItsBitIsHeldLeavesNoBit) {
  const gc::ptr<EndsItsSlot> object = gc::make<EndsItsSlot>();
  EXPECT_FALSE(pointer_bit_set(&object->slot)) << "the bit should be held back";
  object->end();
  gc::collect();  // the stop puts every held bit in the bitmap
  EXPECT_FALSE(pointer_bit_set(&object->slot)) << "a dead slot's bit was published";
}

}  // namespace
