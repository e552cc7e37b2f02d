// ctest-env: GODEBUG=gccheckmark=1
// GODEBUG=gccheckmark=1 re-marks every cycle from scratch and aborts, naming the object, when the
// verification reaches something the real mark left white.
#include <gtest/gtest.h>

#include "../support/support.hpp"
#include "gc/marker.hpp"

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
