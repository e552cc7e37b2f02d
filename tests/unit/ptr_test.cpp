// gc::ptr<T>: the handle's API as API.md promises it.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <unordered_set>

#include "../support/support.hpp"

namespace {

struct Base {
  virtual ~Base() = default;
  int base_value = 1;
};
struct Derived : Base {
  int derived_value = 2;
};
struct Other : Base {};

struct Incomplete;
struct HoldsIncomplete {
  gc::ptr<Incomplete> later;
};
struct Incomplete {
  int v = 9;
};

static_assert(sizeof(gc::ptr<int>) == sizeof(void*));
static_assert(sizeof(gc::ptr<int[]>) == sizeof(void*));
static_assert(!std::is_convertible_v<int*, gc::ptr<int>>, "raw construction is explicit");
static_assert(std::is_convertible_v<gc::ptr<Derived>, gc::ptr<Base>>);
static_assert(!std::is_convertible_v<gc::ptr<Base>, gc::ptr<Derived>>);
static_assert(std::is_convertible_v<gc::ptr<int>, gc::ptr<const int>>);

TEST(Ptr, NullByDefault) {
  gc::ptr<int> a;
  gc::ptr<int> b = nullptr;
  EXPECT_FALSE(a);
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.get(), nullptr);
}

TEST(Ptr, CopyMoveResetSwap) {
  auto a = gc::make<int>(1);
  gc::ptr<int> b = a;
  EXPECT_EQ(a, b);
  gc::ptr<int> c = std::move(b);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(c, a);
  auto d = gc::make<int>(2);
  c.swap(d);
  EXPECT_EQ(*c, 2);
  EXPECT_EQ(*d, 1);
  swap(c, d);
  EXPECT_EQ(*c, 1);
  c.reset();
  EXPECT_FALSE(c);
  c = d;
  EXPECT_EQ(*c, 2);
  c = nullptr;
  EXPECT_FALSE(c);
  gc::ptr<int>& self = d;
  d = std::move(self);
  EXPECT_EQ(*d, 2);
}

TEST(Ptr, ConversionsAndCasts) {
  gc::ptr<Derived> d = gc::make<Derived>();
  gc::ptr<Base> b = d;
  EXPECT_EQ(b->base_value, 1);
  EXPECT_EQ(gc::static_pointer_cast<Derived>(b)->derived_value, 2);
  EXPECT_EQ(gc::dynamic_pointer_cast<Derived>(b), d);
  EXPECT_EQ(gc::dynamic_pointer_cast<Other>(b), nullptr);
  gc::ptr<const Derived> cd = d;
  gc::ptr<Derived> back = gc::const_pointer_cast<Derived>(cd);
  back->derived_value = 5;
  EXPECT_EQ(cd->derived_value, 5);
  gc::ptr<Base> moved = gc::ptr<Derived>(gc::make<Derived>());
  EXPECT_TRUE(moved);
}

TEST(Ptr, ComparisonHashAndPrinting) {
  auto a = gc::make<int>(1);
  auto b = gc::make<int>(2);
  EXPECT_NE(a, b);
  EXPECT_TRUE((a < b) != (b < a));
  EXPECT_EQ(a <=> a, std::strong_ordering::equal);
  EXPECT_TRUE(a > nullptr);
  std::unordered_set<gc::ptr<int>> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  std::ostringstream out, expected;
  out << a;
  expected << static_cast<const void*>(a.get());
  EXPECT_EQ(out.str(), expected.str());
}

struct SelfReferencing {
  gc::ptr<SelfReferencing> self() { return gc::ptr<SelfReferencing>(this); }
  int member = 3;
  int array[4] = {1, 2, 3, 4};
};

TEST(Ptr, FromRawPointersIntoManagedObjects) {
  auto object = gc::make<SelfReferencing>();
  EXPECT_EQ(object->self(), object);
  gc::ptr<int> member(&object->member);
  EXPECT_EQ(*member, 3);
  gc::ptr<int> element(&object->array[2]);
  EXPECT_EQ(*element, 3);
  gc::ptr<int> null_from_raw(static_cast<int*>(nullptr));
  EXPECT_FALSE(null_from_raw);
}

TEST(Ptr, RawPointerOutsideTheHeapThrows) {
  int on_stack = 1;
  EXPECT_THROW(gc::ptr<int>{&on_stack}, std::invalid_argument);
  static int global = 2;
  EXPECT_THROW(gc::ptr<int>{&global}, std::invalid_argument);
  auto* malloced = new int(3);
  EXPECT_THROW(gc::ptr<int>{malloced}, std::invalid_argument);
  delete malloced;
}

TEST(Ptr, IncompleteAndConstTypes) {
  auto holder = gc::make<HoldsIncomplete>();
  holder->later = gc::make<Incomplete>();
  EXPECT_EQ(holder->later->v, 9);
  gc::ptr<const int> c = gc::make<const int>(4);
  EXPECT_EQ(*c, 4);
}

TEST(Ptr, ArrayHandles) {
  gc::ptr<int[]> a = gc::make<int[]>(5);
  for (int i = 0; i < 5; ++i) a[static_cast<std::size_t>(i)] = i * i;
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a[4], 16);
  gc::ptr<int[]> copy = a;
  EXPECT_EQ(copy.get(), a.get());
  gc::ptr<int[]> none;
  EXPECT_EQ(none.size(), 0u);
}

// gc::ptr<void>: a type-erased handle. It converts from any gc::ptr<T> (arrays included), keeps
// its object alive like any gc::ptr, has no operator* or ->, and gc::static_pointer_cast brings the
// type back.
template <class P>
concept dereferenceable = requires(P p) {
  *p;
};
template <class P>
concept has_arrow = requires(P p) {
  p.operator->();
};
static_assert(!dereferenceable<gc::ptr<void>> && !has_arrow<gc::ptr<void>>);
static_assert(!dereferenceable<gc::ptr<const void>>);
static_assert(std::is_convertible_v<gc::ptr<Derived>, gc::ptr<void>>);
static_assert(std::is_convertible_v<gc::ptr<int[]>, gc::ptr<void>>);
static_assert(std::is_convertible_v<gc::ptr<const int>, gc::ptr<const void>>);
static_assert(!std::is_convertible_v<gc::ptr<const int>, gc::ptr<void>>, "keeps const");
static_assert(!std::is_convertible_v<gc::ptr<void>, gc::ptr<int>>, "back only by a cast");

__attribute__((noinline)) gc::ptr<void> erase_a_tracked(int id) {
  return gc::make<test::Tracked>(id);
}

TEST(Ptr, VoidHandles) {
  gc::ptr<Derived> d = gc::make<Derived>();
  gc::ptr<void> v = d;
  EXPECT_EQ(v.get(), static_cast<void*>(d.get()));
  EXPECT_EQ(v, d);
  gc::ptr<Derived> back = gc::static_pointer_cast<Derived>(v);
  EXPECT_EQ(back->derived_value, 2);
  gc::ptr<const void> cv = v;
  EXPECT_EQ(gc::static_pointer_cast<const Derived>(cv)->base_value, 1);
  EXPECT_EQ(gc::const_pointer_cast<void>(cv), v);

  gc::ptr<void> moved = std::move(v);
  EXPECT_FALSE(v);
  EXPECT_EQ(moved, d);
  v = d;
  EXPECT_EQ(v, moved);
  v = nullptr;
  EXPECT_FALSE(v);

  gc::ptr<int[]> a = gc::make<int[]>(3);
  a[2] = 7;
  gc::ptr<void> erased_array = a;
  gc::ptr<int[]> array_back = gc::static_pointer_cast<int[]>(erased_array);
  EXPECT_EQ(array_back.size(), 3u);
  EXPECT_EQ(array_back[2], 7);

  int* raw = &a[1];
  gc::ptr<void> from_raw(static_cast<void*>(raw));
  EXPECT_EQ(from_raw.get(), raw);
  int on_stack = 0;
  EXPECT_THROW(gc::ptr<void>{static_cast<void*>(&on_stack)}, std::invalid_argument);

  std::unordered_set<gc::ptr<void>> set{v, moved, erased_array};
  EXPECT_EQ(set.size(), 3u);
}

TEST(Ptr, AVoidHandleKeepsItsObjectAlive) {
  gc::ptr<void> kept = erase_a_tracked(5);
  for (int i = 0; i < 2; ++i) test::collect_clean();
  const auto* t = static_cast<const test::Tracked*>(kept.get());
  EXPECT_TRUE(t->intact());
  EXPECT_EQ(t->id, 5);
  EXPECT_EQ(test::Tracked::destroyed.load(), 0);
}

class PtrDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

constexpr const char* kPointerFreeMessage =
    "inside an object that gc::make allocated as pointer-free";

// The marker never scans an object allocated as pointer-free, so a gc::ptr placed into one by hand
// would not keep its target: it stops the program with a message when it is born, null or not.
TEST_F(PtrDeathTest, AGcPtrPlacedInAByteArrayStops) {
  EXPECT_DEATH(
      {
        gc::ptr<std::byte[]> bytes = gc::make<std::byte[]>(64);
        ::new (bytes.get()) gc::ptr<test::Tracked>(gc::make<test::Tracked>(1));
      },
      kPointerFreeMessage);
}

TEST_F(PtrDeathTest, AGcPtrPlacedInATinyObjectStops) {
  EXPECT_DEATH(
      {
        gc::ptr<std::uintptr_t> word = gc::make<std::uintptr_t>(0);
        ::new (word.get()) gc::ptr<test::Tracked>();
      },
      kPointerFreeMessage);
}

// Storage allocated to hold gc::ptrs takes one placed by hand.
TEST(Ptr, AGcPtrPlacedInStorageThatHoldsGcPtrsIsKept) {
  gc::ptr<gc::ptr<test::Tracked>[]> slots = gc::make<gc::ptr<test::Tracked>[]>(2);
  slots[1].~ptr();
  ::new (&slots[1]) gc::ptr<test::Tracked>(gc::make<test::Tracked>(7));
  gc::collect();
  EXPECT_TRUE(slots[1]->intact());
  EXPECT_EQ(slots[1]->id, 7);
}

}  // namespace
