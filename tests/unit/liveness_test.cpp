// API.md "What keeps an object alive": one test per kind of root, each written so that it fails if
// that root were forgotten, and tests that what is not a root does not keep objects alive.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../support/support.hpp"
#include "heap/object_lookup.hpp"

namespace {

using test::Tracked;

gc::ptr<Tracked> chain(int n) { return test::make_chain(n); }

int chain_length(const Tracked* t) {
  int n = 0;
  for (; t != nullptr; t = t->next.get()) {
    EXPECT_TRUE(t->intact());
    ++n;
  }
  return n;
}

TEST(Liveness, PtrOnTheStack) {
  gc::ptr<Tracked> head = chain(1000);
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(head.get()), 1000);
}

TEST(Liveness, RawPointerOnTheStackAndInterior) {
  Tracked* raw = chain(100).get();
  int* interior = &chain(100)->id;  // points into the middle of the head object
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(raw), 100);
  EXPECT_EQ(*interior, 99);
  asm volatile("" : : "r"(raw), "r"(interior) : "memory");
}

TEST(Liveness, InteriorPtrKeepsTheWholeObject) {
  struct Holder {
    long before[8];
    int field = 42;
    gc::ptr<Tracked> inner;
  };
  gc::ptr<int> into_field;
  [&]() __attribute__((noinline)) {
    auto h = gc::make<Holder>();
    h->inner = chain(10);
    into_field = gc::ptr<int>(&h->field);
  }
  ();
  test::collect_clean();
  EXPECT_EQ(*into_field, 42);
  EXPECT_EQ(Tracked::destroyed.load(), 0);
}

// One past the end of an array made by gc::make<T[]>(n), &a[0] + n (an end() iterator), is a
// pointer into that array: a gc::ptr holding it keeps the array alive, not whatever follows it in
// memory. Three Tracked (24 bytes each) and the 8-byte count fill an 80-byte slot exactly, so
// without the array's slack byte the end would be the next slot's address: the arrays are made one
// after another, each end would keep the next array alive, and the first array would die.
constexpr std::size_t kFilling = 3;
static_assert(sizeof(Tracked) == 24 && sizeof(std::size_t) + kFilling * sizeof(Tracked) == 80);

__attribute__((noinline)) std::vector<gc::ptr<Tracked>>* ends_of_arrays(int arrays) {
  auto* ends = new std::vector<gc::ptr<Tracked>>;  // roots in malloc memory
  for (int i = 0; i < arrays; ++i) {
    gc::ptr<Tracked[]> a = gc::make<Tracked[]>(kFilling);
    ends->push_back(gc::ptr<Tracked>(&a[0] + a.size()));  // no throw: it is inside the array
  }
  return ends;
}

TEST(Liveness, OnePastTheEndOfAnArrayKeepsThatArray) {
  constexpr int kArrays = 100;
  auto* ends = ends_of_arrays(kArrays);
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  for (const gc::ptr<Tracked>& end : *ends) {
    const Tracked* first = end.get() - kFilling;
    for (std::size_t i = 0; i < kFilling; ++i) EXPECT_TRUE(first[i].intact());
    EXPECT_EQ(reinterpret_cast<const std::size_t*>(first)[-1], kFilling);  // the count is intact
  }
  delete ends;
  test::collect_clean();
  // Dropped, they die (but for a few that a stale stack word may keep).
  EXPECT_GE(Tracked::destroyed.load(), (kArrays - 5) * static_cast<long>(kFilling));
}

// The same for a word on the stack, which the conservative scan resolves the same way.
__attribute__((noinline)) Tracked* end_of_an_array() {
  gc::ptr<Tracked[]> a = gc::make<Tracked[]>(kFilling);
  gc::make<Tracked[]>(kFilling);  // whatever follows, dead
  return &a[0] + kFilling;
}

TEST(Liveness, OnePastTheEndOfAnArrayOnTheStackKeepsThatArray) {
  Tracked* end = end_of_an_array();
  test::collect_clean();
  const Tracked* first = end - kFilling;
  for (std::size_t i = 0; i < kFilling; ++i) EXPECT_TRUE(first[i].intact());
  EXPECT_LE(Tracked::destroyed.load(), static_cast<long>(kFilling));  // at most the one after it
  asm volatile("" : : "r"(end) : "memory");
}

// A zero-length array: element 0 is its end, and the handle must keep the array's own slot (where
// its count lives), not the next one.
__attribute__((noinline)) gc::ptr<Tracked[]>* empty_arrays(int n) {
  auto* handles = new gc::ptr<Tracked[]>[static_cast<std::size_t>(n)];
  for (int i = 0; i < n; ++i) handles[i] = gc::make<Tracked[]>(0);
  return handles;
}

TEST(Liveness, AnEmptyArrayKeepsItsOwnSlot) {
  constexpr int kArrays = 200;
  gc::ptr<Tracked[]>* handles = empty_arrays(kArrays);
  test::collect_clean();
  // Reuse whatever was freed, with arrays of other lengths in the same size class.
  std::vector<gc::ptr<Tracked[]>> others;
  for (int i = 0; i < 2 * kArrays; ++i) others.push_back(gc::make<Tracked[]>(0));
  test::collect_clean();
  for (int i = 0; i < kArrays; ++i) EXPECT_EQ(handles[i].size(), 0u);
  gc::detail::ObjectRef own, element0;
  for (int i = 0; i < kArrays; ++i) {
    const auto at = reinterpret_cast<std::uintptr_t>(handles[i].get());
    ASSERT_TRUE(gc::detail::find_object(at, element0));
    ASSERT_TRUE(gc::detail::find_object(at - sizeof(std::size_t), own));
    EXPECT_EQ(element0.base, own.base) << i;
  }
  delete[] handles;
}

gc::ptr<Tracked> g_global_root;

TEST(Liveness, PtrInAGlobal) {
  // Built on another thread, so no stale word on this thread's stack can keep the chain alive:
  // only the global can.
  test::in_thread([] { g_global_root = chain(500); });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(g_global_root.get()), 500);
  // On another thread too: a store reads the value it overwrites (detail/barrier.hpp), and a
  // sanitizer build may leave that copy in this frame, where the stack scan would find it.
  test::in_thread([] { g_global_root = nullptr; });
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 495);
}

TEST(Liveness, PtrInMallocMemory) {
  auto* holder = static_cast<gc::ptr<Tracked>*>(std::malloc(sizeof(gc::ptr<Tracked>)));
  test::in_thread([holder] { new (holder) gc::ptr<Tracked>(chain(300)); });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(holder->get()), 300);
  holder->~ptr();
  std::free(holder);
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 295);
}

thread_local gc::ptr<Tracked> t_thread_root;

// Another thread stores into this thread's thread_local, so the chain's address never passes
// through this thread's registers: only the thread_local keeps it. (A thread's static TLS may lie
// inside the range its stack is scanned over; the main thread's does not, so test both.)
void thread_local_keeps_alive() {
  gc::ptr<Tracked>* slot = &t_thread_root;
  test::in_thread([slot] { *slot = chain(200); });
  test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(t_thread_root.get()), 200);
}

TEST(Liveness, PtrInAThreadLocal) {
  thread_local_keeps_alive();                    // the main thread
  std::thread(thread_local_keeps_alive).join();  // another thread
}

TEST(Liveness, PtrInsideAManagedObject) {
  gc::ptr<Tracked> head = chain(2000);  // each link is a gc::ptr inside the previous object
  for (int i = 0; i < 3; ++i) test::collect_clean();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  EXPECT_EQ(chain_length(head.get()), 2000);
}

std::vector<gc::ptr<Tracked>> g_big_vector;

TEST(Liveness, GlobalVectorOfTwoHundredThousandPtrs) {
  const auto start = std::chrono::steady_clock::now();
  []() __attribute__((noinline)) {
    g_big_vector.reserve(200000);
    for (int i = 0; i < 200000; ++i) g_big_vector.push_back(gc::make<Tracked>(i));
  }
  ();
  const auto built = std::chrono::steady_clock::now();
  test::collect_clean();
  const auto collected = std::chrono::steady_clock::now();
  EXPECT_EQ(Tracked::destroyed.load(), 0);
  for (int i = 0; i < 200000; ++i) {
    ASSERT_TRUE(g_big_vector[static_cast<std::size_t>(i)]->intact());
    ASSERT_EQ(g_big_vector[static_cast<std::size_t>(i)]->id, i);
  }
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("200000 registered roots: build %.1f ms, collect %.1f ms\n",
              ms(built - start).count(), ms(collected - built).count());
  g_big_vector.clear();
  g_big_vector.shrink_to_fit();
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 199990);
}

// Raw pointers stored anywhere but a stack do not keep objects alive.
Tracked* g_raw_pointers[1000];

TEST(Liveness, RawPointersInGlobalsDoNotKeepAlive) {
  []() __attribute__((noinline)) {
    for (auto& p : g_raw_pointers) p = gc::make<Tracked>().get();
  }
  ();
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 990);
}

TEST(Liveness, RawPointersInMallocMemoryDoNotKeepAlive) {
  auto** table = static_cast<Tracked**>(std::malloc(1000 * sizeof(Tracked*)));
  [table] {
    for (int i = 0; i < 1000; ++i) table[i] = gc::make<Tracked>().get();
  }();
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 990);
  std::free(table);
}

TEST(Liveness, RawPointersInsideManagedObjectsDoNotKeepAlive) {
  struct RawHolder {
    Tracked* raw[100];
  };
  auto holder = gc::make<RawHolder>();
  [&holder] {
    for (auto& p : holder->raw) p = gc::make<Tracked>().get();
  }();
  test::collect_clean();
  EXPECT_GE(Tracked::destroyed.load(), 95);
}

}  // namespace
