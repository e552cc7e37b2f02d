// ctest-env: GODEBUG=gccheckmark=1
// GODEBUG=gccheckmark=1 re-marks every cycle from scratch and aborts, naming the object, when the
// verification reaches something the real mark left white.
#include <gtest/gtest.h>

#include "../support/support.hpp"
#include "gc/checkmark_bits.hpp"
#include "gc/marker.hpp"
#include "runtime/stop_the_world.hpp"

namespace {

TEST(Checkmark, AgreesWithTheMarkOnARealHeap) {
  std::vector<gc::ptr<test::Tracked>> live;
  for (int i = 0; i < 10000; ++i) {
    auto t = gc::make<test::Tracked>(i);
    if (i % 3 == 0) live.push_back(t);
    if (!live.empty()) t->next = live.back();
  }
  for (int i = 0; i < 5; ++i) gc::collect();  // each cycle is verified; a miss would abort
  for (auto& t : live) ASSERT_TRUE(t->intact());
}

// A pass's bits start clear, each object's bit is its own, and the next pass starts clear again
// (its table is new).
TEST(CheckmarkBits, EachPassStartsClearAndSetsAnObjectsBitOnce) {
  auto a = gc::make<test::Tracked>(1);
  auto b = gc::make<test::Tracked>(2);
  const auto at = [](const auto& p) { return reinterpret_cast<std::uintptr_t>(p.get()); };
  for (int pass = 0; pass < 2; ++pass) {
    gc::detail::WorldStopped world = gc::detail::stop_the_world();
    bool first = false, again = true, other = false;
    {
      const gc::detail::CheckmarkBits bits(world);
      first = gc::detail::CheckmarkBits::try_set(at(a));
      again = gc::detail::CheckmarkBits::try_set(at(a));
      other = gc::detail::CheckmarkBits::try_set(at(b));
    }
    gc::detail::start_the_world(std::move(world));
    EXPECT_TRUE(first) << "pass " << pass;
    EXPECT_FALSE(again) << "pass " << pass;
    EXPECT_TRUE(other) << "pass " << pass;
  }
}

TEST(CheckmarkBitsDeathTest, ABitOutsideAPassStopsTheProgram) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto object = gc::make<test::Tracked>(1);
  EXPECT_DEATH(gc::detail::CheckmarkBits::try_set(reinterpret_cast<std::uintptr_t>(object.get())),
               "the checkmark bit of 0x[0-9a-f]+, outside a stopped pass");
}

TEST(CheckmarkDeathTest, AnObjectTheMarkMissedAbortsWithAReport) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto object = gc::make<test::Tracked>(1);
        // Verify against a mark that never ran: the object is reachable but white.
        gc::detail::Marker verifier(gc::detail::Marker::Mode::kCheckmark);
        verifier.set_root_source("the root slot", 0x1234);
        verifier.shade(reinterpret_cast<std::uintptr_t>(object.get()));
      },
      "gccheckmark: object 0x[0-9a-f]+ \\(size class [0-9]+, [0-9]+ bytes, span 0x[0-9a-f]+\\) is "
      "reachable but the mark left it white; reached from the root slot at 0x1234");
}

}  // namespace
