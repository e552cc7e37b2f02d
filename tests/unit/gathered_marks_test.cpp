// ctest-env: GODEBUG=gccheckmark=1
// A pointer-free object's mark bit is gathered with the others of its mark-bit word and set with
// them (gc/marker.hpp): when a shade moves to another word, when the marker's work runs out, and
// when the marker ends. Each test holds a mark at its start (no roots marked, no background
// marking) and shades objects that nothing else reaches: their addresses are kept complemented in
// malloc memory, so no stack scan finds them.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "../support/marked_objects.hpp"
#include "gc/marker.hpp"

namespace {

using test::in_first_word;
using test::marked;
using test::start_held_mark;

struct Buffer {  // pointer-free: a noscan span of its own size class
  std::uint64_t words[30] = {};
};
struct Other {  // pointer-free, in another size class
  std::uint64_t words[50] = {};
};

template <class T>
__attribute__((noinline)) std::vector<std::uintptr_t> make_hidden(int n) {
  std::vector<std::uintptr_t> hidden;
  for (int i = 0; i < n; ++i)
    hidden.push_back(~reinterpret_cast<std::uintptr_t>(gc::make<T>().get()));
  return hidden;
}

constexpr std::int64_t kBufferBytes = 240;  // Buffer's size class
static_assert(sizeof(Buffer) == kBufferBytes);

// Shaded, the objects of one word wait; the marker's drain, once its work runs out, sets their
// bits and counts each object once.
TEST(GatheredMarks, AWordsBitsAreSetWhenTheMarkersWorkRunsOut) {
  const std::vector<std::uintptr_t> hidden = make_hidden<Buffer>(16);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> objects = in_first_word(hidden);
    ASSERT_GE(objects.size(), 8u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    for (const std::uintptr_t o : objects) marker.shade(o);
    marker.shade(objects.front());  // twice: still one object
    for (const std::uintptr_t o : objects)
      EXPECT_FALSE(marked(o)) << "set before the word was left";
    EXPECT_TRUE(marker.drain());
    for (const std::uintptr_t o : objects) EXPECT_TRUE(marked(o));
    EXPECT_EQ(marker.marked_bytes(), static_cast<std::int64_t>(objects.size()) * kBufferBytes);
    EXPECT_EQ(marker.scanned_bytes(), 0) << "a pointer-free span was queued to be scanned";
  }
  test::finish_held_cycle();
}

// A shade of an object in another word sets the bits gathered for the last one.
TEST(GatheredMarks, AShadeInAnotherWordSetsTheGatheredBits) {
  const std::vector<std::uintptr_t> buffers = make_hidden<Buffer>(4);
  const std::vector<std::uintptr_t> others = make_hidden<Other>(1);
  start_held_mark();
  {
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(~buffers.front());
    EXPECT_FALSE(marked(~buffers.front()));
    marker.shade(~others.front());
    EXPECT_TRUE(marked(~buffers.front()));
    EXPECT_FALSE(marked(~others.front()));
    EXPECT_TRUE(marker.drain());
    EXPECT_TRUE(marked(~others.front()));
  }
  test::finish_held_cycle();
}

// A marker that ends, as a barrier's flush or an assist's does, sets what it gathered.
TEST(GatheredMarks, AMarkerThatEndsSetsTheGatheredBits) {
  const std::vector<std::uintptr_t> hidden = make_hidden<Buffer>(2);
  start_held_mark();
  {
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(~hidden.front());
  }
  EXPECT_TRUE(marked(~hidden.front()));
  EXPECT_FALSE(marked(~hidden.back()));
  test::finish_held_cycle();
}

// Two markers gather the same object; the first to set its bit counts it, the other does not.
TEST(GatheredMarks, AnObjectTwoMarkersGatherIsCountedOnce) {
  const std::vector<std::uintptr_t> hidden = make_hidden<Buffer>(1);
  start_held_mark();
  {
    gc::detail::Marker first(gc::detail::Marker::Mode::kMark);
    gc::detail::Marker second(gc::detail::Marker::Mode::kMark);
    first.shade(~hidden.front());
    second.shade(~hidden.front());
    EXPECT_TRUE(second.drain());
    EXPECT_TRUE(first.drain());
    EXPECT_TRUE(marked(~hidden.front()));
    EXPECT_EQ(second.marked_bytes(), kBufferBytes);
    EXPECT_EQ(first.marked_bytes(), 0);
  }
  test::finish_held_cycle();
}

}  // namespace
