// The specials table alone (src/base/special_table.hpp): a SpecialTable of a test record type,
// with made-up object addresses (the table only hashes them). Records of objects whose addresses
// hash to one bucket share a chain; the tests find such colliding addresses with bucket_of and
// check that link, unlink and take_all touch exactly the records they name, wherever they sit in
// the chain, and that records that share a chain share a stripe lock. Every call holds the stripe's
// lock, as the table's contract asks.
#include "base/special_table.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "base/mutex.hpp"

namespace {

using gc::detail::MutexLock;

struct Record {
  std::uintptr_t base = 0;
  Record* next = nullptr;
  int id = 0;
};

using Table = gc::detail::SpecialTable<Record>;

constexpr std::uintptr_t kFirstBase = 0x7f0000010000;

// The next 8-byte-aligned address above `after` whose records share the chain of `like`'s.
std::uintptr_t colliding(std::uintptr_t like, std::uintptr_t after) {
  const std::size_t bucket = Table::bucket_of(like);
  for (std::uintptr_t b = after + 8;; b += 8)
    if (Table::bucket_of(b) == bucket) return b;
}

// The next address above `after` whose records are in another chain, under another stripe.
std::uintptr_t apart(std::uintptr_t from, std::uintptr_t after) {
  for (std::uintptr_t b = after + 8;; b += 8)
    if (Table::bucket_of(b) % 64 != Table::bucket_of(from) % 64) return b;
}

void link(Table& t, Record& r) {
  MutexLock lock(t.stripe(r.base));
  t.link(&r);
}

bool unlink(Table& t, Record& r) {
  MutexLock lock(t.stripe(r.base));
  return t.unlink(&r);
}

// The ids of the records take_all(base) hands over, in the order it hands them over.
std::vector<int> take_all(Table& t, std::uintptr_t base) {
  std::vector<int> ids;
  MutexLock lock(t.stripe(base));
  t.take_all(base, [&](Record* r) {
    EXPECT_EQ(r->base, base);
    ids.push_back(r->id);
  });
  return ids;
}

using Ids = std::vector<int>;

TEST(SpecialTableComponent, TakeAllTakesEveryRecordOfItsObjectOnce) {
  Table t;
  const std::uintptr_t x = kFirstBase;
  const std::uintptr_t y = apart(x, x);
  Record x1{x, nullptr, 1}, x2{x, nullptr, 2}, y1{y, nullptr, 3};
  link(t, x1);
  link(t, y1);
  link(t, x2);
  EXPECT_EQ(take_all(t, x), (Ids{2, 1}));  // the latest linked first
  EXPECT_EQ(take_all(t, x), Ids{});
  EXPECT_FALSE(unlink(t, x1));
  EXPECT_EQ(take_all(t, y), Ids{3});
  EXPECT_EQ(take_all(t, kFirstBase + 8), Ids{});  // an object that never had records
}

TEST(SpecialTableComponent, TakeAllTakesOnlyItsObjectAmongCollidingOnes) {
  Table t;
  const std::uintptr_t x = kFirstBase;
  const std::uintptr_t y = colliding(x, x);
  const std::uintptr_t z = colliding(x, y);
  ASSERT_EQ(Table::bucket_of(y), Table::bucket_of(x));
  ASSERT_EQ(Table::bucket_of(z), Table::bucket_of(x));
  // One chain, z2 y2 x2 z1 y1 x1 from its head.
  Record x1{x, nullptr, 1}, y1{y, nullptr, 2}, z1{z, nullptr, 3};
  Record x2{x, nullptr, 4}, y2{y, nullptr, 5}, z2{z, nullptr, 6};
  for (Record* r : {&x1, &y1, &z1, &x2, &y2, &z2}) link(t, *r);
  EXPECT_EQ(take_all(t, y), (Ids{5, 2}));  // from the middle of the chain
  EXPECT_EQ(take_all(t, y), Ids{});
  EXPECT_TRUE(unlink(t, z1));  // the others are still linked
  EXPECT_EQ(take_all(t, x), (Ids{4, 1}));
  EXPECT_EQ(take_all(t, z), Ids{6});
  EXPECT_FALSE(unlink(t, z2));
}

TEST(SpecialTableComponent, UnlinkRemovesExactlyOneRecordAnywhereInItsChain) {
  Table t;
  const std::uintptr_t x = kFirstBase;
  const std::uintptr_t y = colliding(x, x);
  // Chain from the head: 5 4 3 2 1, alternating objects.
  Record r1{x, nullptr, 1}, r2{y, nullptr, 2}, r3{x, nullptr, 3}, r4{y, nullptr, 4},
      r5{x, nullptr, 5};
  for (Record* r : {&r1, &r2, &r3, &r4, &r5}) link(t, *r);
  EXPECT_TRUE(unlink(t, r3));   // middle
  EXPECT_TRUE(unlink(t, r5));   // head
  EXPECT_TRUE(unlink(t, r1));   // tail
  EXPECT_FALSE(unlink(t, r3));  // not linked any more
  Record never{x, nullptr, 9};
  EXPECT_FALSE(unlink(t, never));  // same object and chain, never linked
  EXPECT_EQ(take_all(t, x), Ids{});
  EXPECT_EQ(take_all(t, y), (Ids{4, 2}));
  // A record can be linked again once it is out.
  link(t, r3);
  EXPECT_EQ(take_all(t, x), Ids{3});
}

TEST(SpecialTableComponent, RecordsThatShareAChainShareAStripe) {
  Table t;
  const std::uintptr_t x = kFirstBase;
  const std::uintptr_t y = colliding(x, x);
  const std::uintptr_t w = apart(x, x);
  EXPECT_EQ(&t.stripe(x), &t.stripe(y));
  EXPECT_NE(&t.stripe(x), &t.stripe(w));
  EXPECT_EQ(t.stripe(x).rank(), gc::detail::LockRank::kToolbox);
}

TEST(SpecialTableComponent, ObjectsSpreadOverAllSixtyFourStripes) {
  Table t;
  std::set<const gc::detail::Mutex*> stripes;
  std::set<std::size_t> buckets;
  // 16-byte objects laid end to end, as in a span.
  for (std::uintptr_t b = kFirstBase; b < kFirstBase + 4096 * 16; b += 16) {
    stripes.insert(&t.stripe(b));
    buckets.insert(Table::bucket_of(b));
  }
  EXPECT_EQ(stripes.size(), 64u);
  // Neighbouring objects do not crowd a few chains.
  EXPECT_GT(buckets.size(), 4000u);
}

}  // namespace
