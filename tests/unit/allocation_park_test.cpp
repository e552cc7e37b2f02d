// ctest-env: GODEBUG=gcstoptheworld=1
// An allocation may park its thread after it has taken a slot and before it returns: a destructor
// registration that goes out of line ends a critical section, and a stop that landed inside parks
// the thread at its end. A mark that runs while the thread is parked there (here all of it, in the
// pause of mark start) must find the new object, which was allocated before it began, through its
// address on the thread's stack. Each test makes a stop land inside the registration (the test
// hook) and checks that the object is still allocated after the cycle that ran meanwhile. Without
// the address held across the registration (hold_new_object, detail/alloc.hpp), the fast path and
// the large path lose their object: the sweep frees its slot, or destroys it, while the test holds
// it. (The refill path parks after its section too, in the blocking scope that backs a new span's
// pages; its `slot` is held the same way.)
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "../support/support.hpp"
#include "gc/test_hooks.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/clear_stack.hpp"
#include "tricolor/detail/mutator.hpp"
#include "tricolor/gc.hpp"

namespace {

constexpr std::uint64_t kLive = 0x11FE11FE11FE11FEull;

std::atomic<int> g_watched_destroyed{0};

// Kind tells the types apart (two of one size share a span class); Watched is the one whose
// registration parks.
template <int Kind, std::size_t PadBytes, bool Watched>
struct Object {
  Object() : canary(kLive) {}
  ~Object() {
    if (Watched) g_watched_destroyed.fetch_add(1, std::memory_order_relaxed);
    canary = 0;
  }
  gc::ptr<Object> next;
  std::uint64_t canary;
  char pad[PadBytes] = {};
};

std::atomic<bool> g_armed{false};
std::atomic<bool> g_collect{false};
std::atomic<bool> g_stop_deferred{false};

// The hook, on the allocating thread, inside a critical section: asks the collecting thread for a
// cycle and waits until that cycle's stop signal has landed here and been deferred.
void stop_inside_registration() {
  if (!g_armed.exchange(false)) return;
  g_stop_deferred.store(test::ask_for_a_stop_and_wait_until_deferred(g_collect));
}

// A thread that collects once when the hook asks. It collects once first, so that it is
// registered and the heap settled before the test allocates what it watches.
class Collector {
 public:
  Collector()
      : thread_([] {
          gc::collect();
          while (!g_collect.load(std::memory_order_acquire)) std::this_thread::yield();
          gc::collect();
        }) {
    while (gc::read_stats().num_gc == 0) std::this_thread::yield();
  }
  ~Collector() {
    if (thread_.joinable()) {
      g_collect.store(true, std::memory_order_release);
      thread_.join();
    }
  }

  // Allocates the watched object with a stop landing inside its registration; returns once the
  // cycle that ran meanwhile (its sweep and destructors included) is over.
  template <class T>
  gc::ptr<T> make_while_a_cycle_runs() {
    gc::detail::g_destructor_registration_hook.store(&stop_inside_registration);
    g_armed.store(true);
    // Below this frame the calls above left words behind, one of which may be the new object's
    // address by chance; the parked thread's frames lie there.
    gc::detail::clear_dead_stack();
    gc::ptr<T> object = gc::make<T>();
    gc::detail::g_destructor_registration_hook.store(nullptr);
    thread_.join();
    EXPECT_TRUE(g_stop_deferred.load()) << "the stop did not land inside the registration";
    return object;
  }

 private:
  std::thread thread_;
};

// The watched object is still allocated after the cycle that ran while its thread was parked, and
// the next one: not destroyed (a zombie, if its destructor bit was set when the sweep came), and
// not freed (if the sweep came first) for another allocation of its size to take.
template <class T>
void expect_survives(const gc::ptr<T>& object) {
  gc::collect();
  EXPECT_EQ(g_watched_destroyed.load(), 0) << "the object was destroyed while reachable";
  EXPECT_EQ(object->canary, kLive);
  gc::detail::ObjectRef found;
  EXPECT_TRUE(gc::detail::find_object(reinterpret_cast<std::uintptr_t>(object.get()), found))
      << "the object's slot is free";
  if constexpr (sizeof(T) < 4096) {
    for (int i = 0; i < 1000; ++i) {
      auto other = gc::make<Object<9, sizeof(T) - 16, false>>();
      ASSERT_NE(static_cast<void*>(other.get()), static_cast<void*>(object.get()))
          << "the object's slot was handed out again";
    }
  }
}

TEST(AllocationPark, FastPathObjectSurvivesAMarkWhileItsRegistrationParks) {
  // One size class, two destructors: the second type's registration makes the span's table.
  using First = Object<0, 40, false>;
  using Second = Object<1, 40, true>;
  static_assert(sizeof(First) == sizeof(Second));
  Collector collector;
  // A fresh span: First's destructor is its own.
  std::array<gc::ptr<First>, 5> firsts;
  for (auto& f : firsts) f = gc::make<First>();
  gc::ptr<Second> second = collector.make_while_a_cycle_runs<Second>();
  expect_survives(second);
  for (const auto& f : firsts) EXPECT_EQ(f->canary, kLive);
}

TEST(AllocationPark, RefillObjectSurvivesAMarkWhileItsRegistrationParks) {
  // The first object of a fresh span: taken and registered inside the refill's critical section.
  using Watched = Object<2, 200, true>;
  Collector collector;
  gc::ptr<Watched> object = collector.make_while_a_cycle_runs<Watched>();
  expect_survives(object);
}

TEST(AllocationPark, LargeObjectSurvivesAMarkWhileItsRegistrationParks) {
  using Large = Object<3, 64 * 1024, true>;
  Collector collector;
  gc::ptr<Large> object = collector.make_while_a_cycle_runs<Large>();
  expect_survives(object);
}

}  // namespace
