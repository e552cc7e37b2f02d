// ctest-env: GODEBUG=gccheckmark=1
// Small objects with slots are marked by span (gc/marker.hpp): shading one queues its span, and a
// marker that takes the span scans every object of it whose mark bit is set and whose scanned bit
// is not, or only the object that queued it if no other shade found the span queued. Each test
// holds a mark at its start (no roots marked, no background marking) and shades parents that
// nothing else reaches: their addresses are kept complemented in malloc memory, so no stack scan
// finds them. Each parent's only reference to its child is its slot, so a child is marked exactly
// when its parent was scanned. Children are pointer-free and of another size, so a parent's span
// holds parents only and a marker scans nothing but parents.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "../support/marked_objects.hpp"
#include "gc/marker.hpp"

namespace {

using test::in_first_word;
using test::marked;
using test::object_at;
using test::start_held_mark;

struct Child {
  std::uint64_t words[6] = {};
};
struct Parent {
  gc::ptr<Child> child;
  std::uint64_t padding[3] = {};
};
static_assert(sizeof(Parent) == 32 && sizeof(Child) == 48);

// `n` parents, each with a child unless `children` is false, their addresses complemented.
__attribute__((noinline)) std::vector<std::uintptr_t> make_hidden_parents(int n,
                                                                          bool children = true) {
  std::vector<std::uintptr_t> hidden;
  for (int i = 0; i < n; ++i) {
    gc::ptr<Parent> parent = gc::make<Parent>();
    if (children) parent->child = gc::make<Child>();
    hidden.push_back(~reinterpret_cast<std::uintptr_t>(parent.get()));
  }
  return hidden;
}

bool scanned(std::uintptr_t address) {
  const gc::detail::ObjectRef ref = object_at(address);
  return (ref.span->scanned_bits[ref.index / 64].load() >> (ref.index % 64) & 1) != 0;
}

std::uint8_t queue_state(std::uintptr_t address) {
  return object_at(address).span->mark_queued.load();
}

bool queued(std::uintptr_t address) { return queue_state(address) != 0; }

// Sets or clears an object's mark bit directly, as no shade would: to see which bits a scan reads.
void set_mark_bit(std::uintptr_t address, bool on) {
  const gc::detail::ObjectRef ref = object_at(address);
  const std::uint64_t bit = std::uint64_t{1} << (ref.index % 64);
  if (on)
    ref.span->mark_bits[ref.index / 64].fetch_or(bit);
  else
    ref.span->mark_bits[ref.index / 64].fetch_and(~bit);
}

std::uintptr_t child_of(std::uintptr_t parent) {
  return reinterpret_cast<std::uintptr_t>(reinterpret_cast<Parent*>(parent)->child.get());
}

// The parents of `hidden` that share the first one's span, uncovered.
std::vector<std::uintptr_t> in_first_span(const std::vector<std::uintptr_t>& hidden) {
  std::vector<std::uintptr_t> parents;
  const gc::detail::Span* first = gc::detail::span_of(~hidden.front());
  for (const std::uintptr_t h : hidden)
    if (gc::detail::span_of(~h) == first) parents.push_back(~h);
  return parents;
}

// The grey objects of one span are scanned from one entry of the work list: a drain whose budget
// ends it after its first entry has scanned every parent of the span. (Queued one by one, it would
// have scanned one parent.)
TEST(SpanMarking, TheGreyObjectsOfASpanAreScannedFromOneEntry) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(64);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_span(hidden);
    ASSERT_GE(parents.size(), 8u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    for (const std::uintptr_t p : parents) marker.shade(p);
    EXPECT_TRUE(queued(parents.front()));
    EXPECT_FALSE(marker.drain(/*budget=*/1));
    EXPECT_EQ(marker.scanned_bytes(), static_cast<std::int64_t>(parents.size() * sizeof(Parent)));
    for (const std::uintptr_t p : parents) EXPECT_TRUE(scanned(p));
    marker.drain();
    for (const std::uintptr_t p : parents) EXPECT_TRUE(marked(child_of(p)));
    EXPECT_FALSE(queued(parents.front()));
  }
  test::finish_held_cycle();
}

// A span queued by one shade, and shaded nowhere since, owes that one object: its scan reads no
// other mark bit. A bit set behind the marker's back (no shade, so the flag stays one grey) is
// left unscanned; a second shade makes the span owe many, and its scan reads every bit.
TEST(SpanMarking, ASpanQueuedForOneObjectIsScannedForThatObjectAlone) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(8);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_span(hidden);
    ASSERT_GE(parents.size(), 3u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(parents[0]);
    EXPECT_EQ(queue_state(parents[0]), 1) << "one grey";
    set_mark_bit(parents[1], true);
    EXPECT_FALSE(marker.drain(/*budget=*/1));
    EXPECT_EQ(marker.scanned_bytes(), static_cast<std::int64_t>(sizeof(Parent)));
    EXPECT_TRUE(scanned(parents[0]));
    EXPECT_FALSE(scanned(parents[1])) << "the one-grey scan read the span's other mark bits";
    set_mark_bit(parents[1], false);  // white again, for the shade below

    marker.drain();
    // Two shades by markers that have gathered nothing, so that each sets its bit at once (a
    // marker gathers the shades that follow its first in a mark-bit word: see the tests below).
    gc::detail::Marker other(gc::detail::Marker::Mode::kMark);
    gc::detail::Marker third(gc::detail::Marker::Mode::kMark);
    other.shade(parents[1]);
    EXPECT_EQ(queue_state(parents[0]), 1) << "one grey";
    third.shade(parents[2]);
    EXPECT_GE(queue_state(parents[0]), 2) << "many";
    EXPECT_FALSE(other.drain(/*budget=*/1));
    EXPECT_EQ(other.scanned_bytes(), static_cast<std::int64_t>(2 * sizeof(Parent)));
    other.drain();
    third.drain();
    marker.drain();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(marked(child_of(parents[static_cast<std::size_t>(i)])));
    EXPECT_EQ(queue_state(parents[0]), 0);
  }
  test::finish_held_cycle();
}

// A marker sets the mark bit of the first object it shades in a mark-bit word and queues its span
// at once; the shades that follow in the same word are gathered, their bits set with one locked OR
// when a shade leaves the word or the marker's work runs out, and their span queued to owe many
// (or made to, if it is queued still). Here the drain's flush sets them before it scans the span's
// entry, which then owes many: each parent is scanned once, its child marked. (The test after this
// one has the span scanned for the first object before the others are gathered.)
TEST(SpanMarking, ShadesThatFollowTheFirstInAMarkBitWordAreGatheredAndScanned) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(64);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_word(hidden);
    ASSERT_GE(parents.size(), 8u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    for (const std::uintptr_t p : parents) marker.shade(p);
    EXPECT_TRUE(marked(parents.front()));
    EXPECT_EQ(queue_state(parents.front()), 1) << "one grey";
    for (std::size_t i = 1; i < parents.size(); ++i)
      EXPECT_FALSE(marked(parents[i])) << "set before the word was left";
    EXPECT_TRUE(marker.drain());
    for (const std::uintptr_t p : parents) {
      EXPECT_TRUE(scanned(p));
      EXPECT_TRUE(marked(child_of(p)));
    }
    const auto n = static_cast<std::int64_t>(parents.size());
    EXPECT_EQ(marker.scanned_bytes(), n * static_cast<std::int64_t>(sizeof(Parent)));
    EXPECT_EQ(marker.marked_bytes(), n * static_cast<std::int64_t>(sizeof(Parent) + sizeof(Child)));
    EXPECT_FALSE(queued(parents.front()));
  }
  test::finish_held_cycle();
}

// The first parent is shaded and scanned alone; the others, shaded after, are gathered in its
// word, with nothing queued. Parents with no child shade nothing when scanned, so when the
// marker's work runs out only the gathered bits are left, and the span they queue is work the
// drain must still do before it says it is done.
TEST(SpanMarking, ADrainWhoseWorkRunsOutScansWhatTheGatheredBitsQueued) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(64, /*children=*/false);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_word(hidden);
    ASSERT_GE(parents.size(), 8u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(parents.front());
    EXPECT_TRUE(marker.drain());
    EXPECT_TRUE(scanned(parents.front()));
    for (const std::uintptr_t p : parents) marker.shade(p);
    EXPECT_FALSE(queued(parents.front())) << "gathered, not queued yet";
    EXPECT_TRUE(marker.drain());
    for (const std::uintptr_t p : parents) EXPECT_TRUE(scanned(p)) << "left queued by the drain";
    EXPECT_FALSE(queued(parents.front()));
  }
  test::finish_held_cycle();
}

// Two markers: the second sets the bit of an object that the first has gathered. Each object is
// counted once, by whoever set its bit, and scanned once.
TEST(SpanMarking, AGatheredObjectAnotherMarkerSetFirstIsCountedOnce) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(8, /*children=*/false);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_word(hidden);
    ASSERT_GE(parents.size(), 2u);
    gc::detail::Marker first(gc::detail::Marker::Mode::kMark);
    gc::detail::Marker second(gc::detail::Marker::Mode::kMark);
    first.shade(parents[0]);
    first.shade(parents[1]);  // gathered
    second.shade(parents[1]);
    EXPECT_TRUE(marked(parents[1]));
    EXPECT_TRUE(first.drain());
    EXPECT_TRUE(second.drain());
    constexpr auto kParent = static_cast<std::int64_t>(sizeof(Parent));
    EXPECT_EQ(first.marked_bytes(), kParent);
    EXPECT_EQ(second.marked_bytes(), kParent);
    EXPECT_EQ(first.scanned_bytes() + second.scanned_bytes(), 2 * kParent);
    EXPECT_TRUE(scanned(parents[0]));
    EXPECT_TRUE(scanned(parents[1]));
  }
  test::finish_held_cycle();
}

// A span leaves the work list before its mark bits are read: an object shaded after its span was
// scanned queues the span again and is scanned too.
TEST(SpanMarking, AnObjectShadedAfterItsSpanWasScannedIsScannedToo) {
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(8);
  start_held_mark();
  {
    const std::vector<std::uintptr_t> parents = in_first_span(hidden);
    ASSERT_GE(parents.size(), 2u);
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    marker.shade(parents[0]);
    marker.drain();
    EXPECT_TRUE(marked(child_of(parents[0])));
    EXPECT_FALSE(scanned(parents[1]));
    EXPECT_FALSE(queued(parents[1]));
    marker.shade(parents[1]);
    EXPECT_TRUE(queued(parents[1]));
    marker.drain();
    EXPECT_TRUE(marked(child_of(parents[1]))) << "the span was not queued again";
    EXPECT_TRUE(scanned(parents[1]));
  }
  test::finish_held_cycle();
}

// Two markers shade the same parents in the same order, `batch` at a time, and drain after each
// batch, so that they take and scan the same spans at once: every child is marked, every parent is
// scanned exactly once between them (the scanned bits split each span's grey objects), and no
// span is left queued. (Under ThreadSanitizer, it checks the flag's and the bits' accesses too.)
void mark_shared_spans_from_two_threads(int batch) {
  constexpr int kParents = 16384;
  const std::vector<std::uintptr_t> hidden = make_hidden_parents(kParents);
  start_held_mark();
  {
    // What mark start shaded (each thread's latest slot and tiny block), so that the two markers
    // below find only the parents' work.
    gc::detail::Marker before(gc::detail::Marker::Mode::kMark);
    before.drain();
  }
  std::atomic<int> ready{0};
  std::atomic<std::int64_t> scanned_bytes{0};
  auto mark = [&] {
    gc::detail::Marker marker(gc::detail::Marker::Mode::kMark);
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    for (int i = 0; i < kParents; i += batch) {
      for (int j = i; j < i + batch; ++j) marker.shade(~hidden[static_cast<std::size_t>(j)]);
      marker.drain();
    }
    scanned_bytes.fetch_add(marker.scanned_bytes());
  };
  std::thread other(mark);
  mark();
  other.join();
  int unmarked = 0;
  for (const std::uintptr_t h : hidden) {
    unmarked += marked(child_of(~h)) ? 0 : 1;
    EXPECT_FALSE(queued(~h));
  }
  EXPECT_EQ(unmarked, 0);
  EXPECT_EQ(scanned_bytes.load(),
            std::int64_t{kParents} * static_cast<std::int64_t>(sizeof(Parent)))
      << "a parent was scanned twice, or not at all";
  test::finish_held_cycle();
}

// Four at a time: spans mostly owe many objects.
TEST(SpanMarking, MarkersSharingSpansScanEveryGreyObjectOnce) {
  mark_shared_spans_from_two_threads(4);
}

// One at a time: a span queued for one object is made to owe many by the other marker's shade
// while it is queued, or taken by the other marker's scan between that shade's two steps.
TEST(SpanMarking, MarkersSharingOneGreySpansScanEveryGreyObjectOnce) {
  mark_shared_spans_from_two_threads(1);
}

}  // namespace
