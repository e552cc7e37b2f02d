// ctest-env: GODEBUG=gccheckmark=1
// The pointer bitmap's two halves (detail/heap_range.hpp): a slot born in the object gc::make is
// constructing, whose span the thread's cache still owns, sets its bit with a plain store into the
// owned half, and every other change goes through the shared half atomically. A slot's bit is the
// two halves' exclusive OR. These tests check where each change lands, that a thread changing an
// object's bits while the owner builds its neighbours, in the same bitmap word, loses neither's,
// and that a member another thread rebuilds while its constructor is still running keeps its bit.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "../support/pointer_halves.hpp"
#include "../support/support.hpp"
#include "tricolor/detail/fresh_object.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using test::Halves;
using test::halves_of;
using test::Tracked;

bool is_pointer_slot(const void* slot) {
  return gc::detail::is_pointer_slot(reinterpret_cast<std::uintptr_t>(slot));
}

// Two gc::ptr slots, 16 bytes: a bitmap word covers 32 of them.
struct Pair {
  gc::ptr<Tracked> left;
  gc::ptr<Tracked> right;
};

// A slot born in the constructor or later, or never: std::optional keeps its gc::ptr first.
struct Cell {
  explicit Cell(const gc::ptr<Tracked>& value) {
    if (value) slot.emplace(value);
  }
  std::optional<gc::ptr<Tracked>> slot;
};

TEST(PointerBits, AnObjectItsCacheOwnsSetsItsBitsInTheOwnedHalf) {
  const gc::ptr<Pair> pair = gc::make<Pair>(gc::make<Tracked>(1), gc::make<Tracked>(2));
  const void* const slots[] = {&pair->left, &pair->right};
  for (const void* slot : slots) {
    const Halves h = halves_of(slot);
    EXPECT_TRUE(h.owned);
    EXPECT_FALSE(h.shared) << "a slot born in the span's owner's object took the atomic path";
  }
}

TEST(PointerBits, ASlotBornOrDyingInABuiltObjectChangesTheSharedHalf) {
  const gc::ptr<Tracked> target = gc::make<Tracked>(1);
  const gc::ptr<Cell> cell = gc::make<Cell>(target);
  const void* slot = &*cell->slot;
  EXPECT_TRUE(halves_of(slot).owned);
  cell->slot.reset();  // dies: the shared half cancels the owned one
  EXPECT_FALSE(is_pointer_slot(slot));
  EXPECT_TRUE(halves_of(slot).owned);
  EXPECT_TRUE(halves_of(slot).shared);
  cell->slot.emplace(target);  // born again: the shared half clears
  EXPECT_TRUE(is_pointer_slot(slot));
  EXPECT_TRUE(halves_of(slot).owned);
  EXPECT_FALSE(halves_of(slot).shared);
}

// Same size and kind as Pair, so the same span class: making enough of them in a constructor
// moves the constructor's own object's span out of the thread's cache.
struct Twin {
  std::optional<gc::ptr<Tracked>> a;
  bool b = false;
};

// Its slot is born at the end of its constructor, after the span it lives in has gone back to the
// central list: its bit must then take the atomic path. (A slot born before sets it in the owned
// half, and a thread that later caches the span again writes that half: the first owner must not.)
struct OutlivesItsSpan {
  OutlivesItsSpan() {
    const std::uint8_t span_class = gc::detail::make_span_class(
        gc::detail::size_to_class_aligned(sizeof(Twin), alignof(Twin)), false);
    const auto* span = gc::detail::t_mutator.alloc[span_class];
    EXPECT_TRUE(gc::detail::cache_owns(gc::detail::t_mutator, span_class,
                                       reinterpret_cast<std::uintptr_t>(this)));
    for (std::uint32_t i = 0; i <= span->nelems; ++i) (void)gc::make<Twin>();
    owned_at_end = gc::detail::cache_owns(gc::detail::t_mutator, span_class,
                                          reinterpret_cast<std::uintptr_t>(this));
    slot.emplace(gc::make<Tracked>(3));
  }
  std::optional<gc::ptr<Tracked>> slot;
  bool owned_at_end = true;
};
static_assert(sizeof(OutlivesItsSpan) == sizeof(Twin) && alignof(OutlivesItsSpan) == alignof(Twin));

TEST(PointerBits, ASlotBornAfterItsSpanLeftTheCacheSetsItsBitAtomically) {
  const gc::ptr<OutlivesItsSpan> object = gc::make<OutlivesItsSpan>();
  ASSERT_FALSE(object->owned_at_end) << "the constructor did not fill its span";
  const Halves h = halves_of(&*object->slot);
  EXPECT_FALSE(h.owned) << "a thread that no longer owns the span stored into the owned half";
  EXPECT_TRUE(h.shared);
  EXPECT_EQ((*object->slot)->id, 3);
}

// One thread makes cells and hands each to a second thread as soon as it is made; the second
// changes the cell's slot while the first builds the next cells, whose bits share a bitmap word
// with it. Every cell's bit must end as its slot does: an owner's plain store that lost the other
// thread's change, or a change that overwrote the owner's, would leave a bit wrong. Collections
// run meanwhile under gccheckmark, which stops the program if a lost bit hid a live object.
TEST(PointerBits, ChangesByAnotherThreadNextToTheOwnersPublishesAreNotLost) {
  constexpr std::size_t kCells = 300'000;
  const gc::ptr<Tracked> target = gc::make<Tracked>(7);
  const gc::ptr<gc::ptr<Cell>[]> cells = gc::make<gc::ptr<Cell>[]>(kCells);
  std::atomic<std::size_t> made{0};
  std::thread changer([&] {
    for (std::size_t i = 0; i < kCells; ++i) {
      while (made.load(std::memory_order_acquire) <= i) std::this_thread::yield();
      Cell& cell = *cells[i];
      switch (i % 3) {
        case 0:  // made full: dies
          cell.slot.reset();
          break;
        case 1:  // made empty: born
          cell.slot.emplace(target);
          break;
        default:  // made empty: born, dies, born
          cell.slot.emplace(target);
          cell.slot.reset();
          cell.slot.emplace(target);
      }
    }
  });
  for (std::size_t i = 0; i < kCells; ++i) {
    cells[i] = gc::make<Cell>(i % 3 == 0 ? target : gc::ptr<Tracked>());
    made.store(i + 1, std::memory_order_release);
  }
  changer.join();
  gc::collect();
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kCells; ++i) {
    const Cell& cell = *cells[i];
    const bool full = i % 3 != 0;
    ASSERT_EQ(cell.slot.has_value(), full);
    // The slot's word: where the optional keeps its gc::ptr, full or not.
    if (is_pointer_slot(&cell.slot) != full) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "cells whose pointer bit disagrees with their slot";
  EXPECT_TRUE(target->intact());
}

// A constructor hands `this` to another thread, which destroys the member the constructor built
// and builds it again, with the only pointer to a new object, while the constructor returns. The
// member's bit must be set at the end: a bit the constructor set late, when gc::make returned,
// raced with the other thread's two changes and could cancel the second (each side read the
// other's half before the other wrote it), and the new object was then freed while referenced.
struct HandsItselfOver;

struct Handover {
  std::atomic<HandsItselfOver*> object{nullptr};
  std::atomic<bool> destroyed_member{false};
  std::atomic<bool> rebuilt_member{false};
};

struct HandsItselfOver {
  HandsItselfOver(const gc::ptr<Tracked>& value, Handover& handover) {
    slot.emplace(value);
    handover.object.store(this, std::memory_order_release);
    // Returns as soon as the other thread has destroyed the member, while it builds it again.
    while (!handover.destroyed_member.load(std::memory_order_acquire)) {
    }
  }
  std::optional<gc::ptr<Tracked>> slot;
};

TEST(PointerBits, AMemberAnotherThreadRebuildsWhileItsConstructorRunsKeepsItsBit) {
  constexpr std::size_t kObjects = 100'000;
  const gc::ptr<Tracked> target = gc::make<Tracked>(1);
  const gc::ptr<gc::ptr<HandsItselfOver>[]> all = gc::make<gc::ptr<HandsItselfOver>[]>(kObjects);
  Handover handover;
  std::atomic<bool> stop{false};
  std::thread other([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      HandsItselfOver* o = handover.object.exchange(nullptr, std::memory_order_acq_rel);
      if (o == nullptr) continue;
      o->slot.reset();
      handover.destroyed_member.store(true, std::memory_order_release);
      o->slot.emplace(gc::make<Tracked>(7));
      handover.rebuilt_member.store(true, std::memory_order_release);
    }
  });
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kObjects; ++i) {
    handover.destroyed_member.store(false, std::memory_order_relaxed);
    handover.rebuilt_member.store(false, std::memory_order_relaxed);
    all[i] = gc::make<HandsItselfOver>(target, handover);
    while (!handover.rebuilt_member.load(std::memory_order_acquire)) {
    }
    if (!is_pointer_slot(&*all[i]->slot)) ++wrong;
  }
  stop.store(true);
  other.join();
  EXPECT_EQ(wrong, 0u) << "rebuilt members whose pointer bit is clear";
  test::collect_clean();
  test::collect_clean();
  std::size_t freed = 0;
  for (std::size_t i = 0; i < kObjects; ++i) freed += (*all[i]->slot)->intact() ? 0 : 1;
  EXPECT_EQ(freed, 0u) << "members freed while referenced";
}

}  // namespace
