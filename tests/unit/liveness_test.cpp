// API.md "What keeps an object alive": one test per kind of root, each written so that it fails if
// that root were forgotten, and tests that what is not a root does not keep objects alive.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../support/support.hpp"

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
