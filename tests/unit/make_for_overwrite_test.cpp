// ctest-env: GODEBUG=gccheckmark=1
// gc::make_for_overwrite: default initialisation, as std::make_unique_for_overwrite. A trivial
// object keeps the bytes its slot held, constructors still run, a gc::ptr member is still null, and
// the slot's pointer bits are the new object's alone: a word that was a gc::ptr in the slot's last
// object is not one now, so the marker does not read the stale address it still holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "../support/support.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace {

using test::Tracked;

struct Blob256 {
  unsigned char bytes[256];
};

bool all_zero(const void* p, std::size_t n) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  return std::all_of(bytes, bytes + n, [](unsigned char b) { return b == 0; });
}

constexpr int kObjects = 4096;

// Fills kObjects objects and frees every second one. The survivors keep each span in use, so the
// freed slots stay with their size class, where the next allocations of the class take them (an
// empty span may go back to the page heap, and a later one come from elsewhere).
template <class T>
void leave_freed_slots_filled_with(unsigned char pattern) {
  static std::vector<gc::ptr<T>> survivors;
  test::in_thread([pattern] {
    for (int i = 0; i < kObjects; ++i) {
      gc::ptr<T> object = gc::make<T>();
      std::memset(object.get(), pattern, sizeof(T));
      if (i % 2 == 0) survivors.push_back(std::move(object));
    }
  });
  test::collect_clean();
  test::collect_clean();
}

TEST(MakeForOverwrite, ATrivialObjectKeepsTheBytesItsSlotHeld) {
  leave_freed_slots_filled_with<Blob256>(0xA5);
  std::vector<gc::ptr<Blob256>> kept;
  int filled = 0;
  for (int i = 0; i < kObjects; ++i) {
    kept.push_back(gc::make_for_overwrite<Blob256>());
    if (!all_zero(kept.back().get(), sizeof(Blob256))) ++filled;
  }
  EXPECT_GT(filled, 0)
      << "no slot came back filled: the objects were zeroed, or no slot was reused";

  // gc::make on the same kind of reused slot still value-initialises.
  kept.clear();
  leave_freed_slots_filled_with<Blob256>(0x5A);
  for (int i = 0; i < kObjects; ++i) {
    const gc::ptr<Blob256> b = gc::make<Blob256>();
    ASSERT_TRUE(all_zero(b.get(), sizeof(Blob256))) << "gc::make returned a dirty object";
  }
}

TEST(MakeForOverwrite, AnArrayOfNumbersIsNotZeroedButKnowsItsSize) {
  leave_freed_slots_filled_with<Blob256>(0xC3);
  int filled = 0;
  for (int i = 0; i < kObjects; ++i) {
    const gc::ptr<std::uint64_t[]> a = gc::make_for_overwrite<std::uint64_t[]>(30);
    ASSERT_EQ(a.size(), 30u);
    if (!all_zero(&a[0], 30 * sizeof(std::uint64_t))) ++filled;
  }
  EXPECT_GT(filled, 0);
}

struct WithConstructor {
  WithConstructor() : set(7) {}
  int set;
  int left_alone;
  gc::ptr<Tracked> handle;
  int initialised_member = 11;
};

TEST(MakeForOverwrite, ConstructorsAndMemberInitialisersStillRun) {
  const gc::ptr<WithConstructor> w = gc::make_for_overwrite<WithConstructor>();
  EXPECT_EQ(w->set, 7);
  EXPECT_EQ(w->initialised_member, 11);
  EXPECT_EQ(w->handle, nullptr);

  const gc::ptr<gc::ptr<Tracked>[]> handles = gc::make_for_overwrite<gc::ptr<Tracked>[]>(9);
  ASSERT_EQ(handles.size(), 9u);
  for (std::size_t i = 0; i < handles.size(); ++i) EXPECT_EQ(handles[i], nullptr);
}

// Eight gc::ptr slots, 64 bytes; Mixed has the same size and kind (a scanned span), so it reuses
// Old's slots, but only its first word is a gc::ptr.
struct Old {
  gc::ptr<Tracked> slots[8];
};
struct Mixed {
  gc::ptr<Tracked> first;
  std::uintptr_t words[7];
};
static_assert(sizeof(Old) == sizeof(Mixed));

// Every second Old dies with its slots full of pointers; the others live on, empty, keeping the
// spans in use (as leave_freed_slots_filled_with).
__attribute__((noinline)) void leave_freed_slots_full_of_pointers() {
  static std::vector<gc::ptr<Old>> survivors;
  test::in_thread([] {
    const gc::ptr<Tracked> target = gc::make<Tracked>(1);
    for (int i = 0; i < kObjects; ++i) {
      gc::ptr<Old> old = gc::make<Old>();
      if (i % 2 == 0) {
        survivors.push_back(std::move(old));
        continue;
      }
      for (gc::ptr<Tracked>& slot : old->slots) slot = target;
    }
  });
  test::collect_clean();
  test::collect_clean();
}

// The only reference to a new Tracked, written as a plain word into every word of each Mixed.
__attribute__((noinline)) void hide_in_words(const std::vector<gc::ptr<Mixed>>& objects) {
  const std::uintptr_t hidden = reinterpret_cast<std::uintptr_t>(gc::make<Tracked>(2).get());
  for (const gc::ptr<Mixed>& m : objects)
    for (std::uintptr_t& word : m->words) word = hidden;
}

TEST(MakeForOverwrite, OnlyTheNewObjectsSlotsArePointers) {
  leave_freed_slots_full_of_pointers();
  ASSERT_TRUE(test::eventually([] { return Tracked::alive.load() == 0; }));
  std::vector<gc::ptr<Mixed>> objects;
  int reused = 0, null_first = 0, first_is_a_slot = 0, words_that_are_slots = 0;
  // On a thread of its own: the words it reads hold the dead Tracked's address, and a copy left on
  // this thread's stack would keep the object that takes its slot next alive (the one below).
  test::in_thread([&] {
    for (int i = 0; i < kObjects; ++i) {
      objects.push_back(gc::make_for_overwrite<Mixed>());
      const Mixed& m = *objects.back();
      null_first += m.first == nullptr;
      first_is_a_slot += gc::detail::is_pointer_slot(reinterpret_cast<std::uintptr_t>(&m.first));
      for (const std::uintptr_t& word : m.words)
        words_that_are_slots +=
            gc::detail::is_pointer_slot(reinterpret_cast<std::uintptr_t>(&word));
      reused += !all_zero(m.words, sizeof m.words);
    }
  });
  EXPECT_EQ(null_first, kObjects);
  EXPECT_EQ(first_is_a_slot, kObjects);
  EXPECT_EQ(words_that_are_slots, 0)
      << "a word that was a gc::ptr in the slot's last object kept its pointer bit";
  EXPECT_GT(reused, 0) << "no Old slot was reused: the test shows nothing";

  // Plain words name the object; the marker must not read them, so it dies.
  test::in_thread([&] { hide_in_words(objects); });
  EXPECT_TRUE(test::eventually([] {
    test::collect_clean();
    return Tracked::alive.load() == 0;
  }));
  EXPECT_EQ(Tracked::double_destroyed.load(), 0);
}

// A constructor that throws once it has built its slots, which unwinding does not destroy (union
// members), so their bits are still set: gc::make hands the slot back at once, and must clear them.
struct Thrower {
  explicit Thrower(const gc::ptr<Tracked>& target, std::uintptr_t& address) {
    address = reinterpret_cast<std::uintptr_t>(this);
    for (Slot& slot : slots) std::construct_at(&slot.handle, target);
    throw 1;
  }
  union Slot {
    Slot() {}
    ~Slot() {}
    gc::ptr<Tracked> handle;
  } slots[8];
};
static_assert(sizeof(Thrower) == sizeof(Mixed));

TEST(MakeForOverwrite, ASlotHandedBackByAThrowingConstructorKeepsNoPointerBits) {
  const gc::ptr<Tracked> target = gc::make<Tracked>(3);
  // A slot is handed back at once only while the thread's cache holds its span and it was the last
  // slot taken within its 64-slot window; otherwise the sweep frees it. So a miss is kept, and the
  // next Thrower takes the slot after it.
  std::vector<gc::ptr<Mixed>> misses;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uintptr_t thrower = 0;
    EXPECT_THROW(gc::make<Thrower>(target, thrower), int);
    gc::ptr<Mixed> m = gc::make_for_overwrite<Mixed>();
    if (reinterpret_cast<std::uintptr_t>(m.get()) != thrower) {
      misses.push_back(std::move(m));
      continue;
    }
    for (const std::uintptr_t& word : m->words)
      EXPECT_FALSE(gc::detail::is_pointer_slot(reinterpret_cast<std::uintptr_t>(&word)));
    return;
  }
  FAIL() << "no slot handed back was the next one taken: the test shows nothing";
}

template <class T>
concept OverwritableWithoutArguments = requires {
  gc::make_for_overwrite<T>();
};
template <class T>
concept OverwritableWithCount = requires {
  gc::make_for_overwrite<T>(std::size_t{1});
};

struct NoDefault {
  explicit NoDefault(int) {}
};

TEST(MakeForOverwrite, TakesNoConstructorArguments) {
  static_assert(OverwritableWithoutArguments<Blob256>);
  static_assert(!OverwritableWithoutArguments<NoDefault>);
  static_assert(!OverwritableWithoutArguments<const Blob256>);  // `new const T` needs a constructor
  static_assert(!OverwritableWithoutArguments<int[4]>);
  static_assert(!OverwritableWithoutArguments<int[]>);
  static_assert(OverwritableWithCount<int[]>);
  static_assert(!OverwritableWithCount<NoDefault[]>);
  static_assert(!OverwritableWithCount<int>);
}

}  // namespace
