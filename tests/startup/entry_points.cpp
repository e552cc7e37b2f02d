// Start-up and exit order: every entry point works before main and after it.
//
// This file is built into one small program per scenario (tests/CMakeLists.txt), each linked with
// this file before the library, so the global constructor below runs before any dynamic
// initialiser the library's objects could have:
//   TRICOLOR_STARTUP_STATIC_INIT  the global constructor uses every entry point, and main checks
//                                 that what it made is still intact;
//   TRICOLOR_STARTUP_AT_EXIT      the global constructor registers an atexit handler before
//                                 anything else, so it runs after every static destructor and
//                                 every other handler, and the handler uses every entry point.
// "Every entry point": gc::make (small objects, over 4 MiB of them so that the pacer starts cycles
// itself, and an 8 MiB array), gc::ptr roots in malloc memory, destructors, gc::weak,
// gc::add_cleanup, gc::collect, gc::read_stats, gc::set_percent, gc::set_memory_limit,
// gc::free_os_memory, gc::safepoint and gc::blocking_region.
//
// A failure prints one line and exits with status 1; a crash or a hang fails the test too. The
// at-exit scenario's main returns 3 and its handler ends the process with status 0, so a handler
// that never ran, or did not run to its end, fails.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <tricolor/gc.hpp>

#if !defined(TRICOLOR_STARTUP_STATIC_INIT) && !defined(TRICOLOR_STARTUP_AT_EXIT)
#error "define TRICOLOR_STARTUP_STATIC_INIT or TRICOLOR_STARTUP_AT_EXIT"
#endif

namespace {

#define EXPECT_OR_EXIT(condition)                                                                \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: %s: expected %s\n", __FILE__, __LINE__, g_phase, #condition); \
      std::fflush(stderr);                                                                       \
      ::_exit(1);                                                                                \
    }                                                                                            \
  } while (0)

const char* g_phase = "";
std::atomic<long> g_destroyed{0};
std::atomic<long> g_cleanups{0};

struct Node {
  explicit Node(long v) : value(v) {}
  ~Node() { g_destroyed.fetch_add(1, std::memory_order_relaxed); }
  long value;
  gc::ptr<Node> next;
  char payload[40] = {};
};

constexpr long kKept = 1000;
constexpr long kGarbage = 100'000;  // 100,000 objects of 64 bytes: over 4 MiB, so cycles start

// Roots in malloc memory, not globals: a global gc::ptr has a dynamic initialiser of its own,
// which would run after the constructor that uses it.
gc::ptr<Node>* g_chain = nullptr;
gc::ptr<char[]>* g_big = nullptr;

__attribute__((noinline)) gc::ptr<Node> make_chain(long n) {
  gc::ptr<Node> head;
  for (long i = 0; i < n; ++i) {
    auto node = gc::make<Node>(i);
    node->next = head;
    head = node;
  }
  return head;
}

__attribute__((noinline)) void make_garbage() {
  for (long i = 0; i < kGarbage; ++i) gc::make<Node>(-i);
}

bool chain_intact(const gc::ptr<Node>& head, long n) {
  const Node* node = head.get();
  for (long i = n - 1; i >= 0; --i, node = node->next.get())
    if (node == nullptr || node->value != i) return false;
  return node == nullptr;
}

__attribute__((noinline)) void add_a_cleanup() {
  auto doomed = gc::make<Node>(7);
  gc::add_cleanup(doomed, [] { g_cleanups.fetch_add(1, std::memory_order_relaxed); });
}

void use_every_entry_point(const char* phase) {
  g_phase = phase;
  if (g_chain == nullptr) g_chain = new gc::ptr<Node>(make_chain(kKept));
  if (g_big == nullptr) {
    g_big = new gc::ptr<char[]>(gc::make<char[]>(8 << 20));
    (*g_big)[0] = 'a';
    (*g_big)[(8 << 20) - 1] = 'z';
  }
  const long destroyed_before = g_destroyed.load();
  make_garbage();
  gc::weak<Node> weak_to_chain(*g_chain);
  add_a_cleanup();

  gc::collect();
  gc::safepoint();
  { gc::blocking_region waiting; }

  EXPECT_OR_EXIT(chain_intact(*g_chain, kKept));
  EXPECT_OR_EXIT(g_big->size() == std::size_t{8} << 20);
  EXPECT_OR_EXIT((*g_big)[0] == 'a' && (*g_big)[(8 << 20) - 1] == 'z');
  EXPECT_OR_EXIT(weak_to_chain.lock() == *g_chain);
  // A few garbage objects may stay reachable from stale stack words; not most of them.
  EXPECT_OR_EXIT(g_destroyed.load() - destroyed_before > kGarbage / 2);

  const gc::stats s = gc::read_stats();
  EXPECT_OR_EXIT(s.num_gc >= 1 && s.num_forced_gc >= 1);
  EXPECT_OR_EXIT(s.heap_alloc >= std::uint64_t{8} << 20);
  const int percent = gc::set_percent(150);
  EXPECT_OR_EXIT(gc::set_percent(percent) == 150);
  const std::int64_t limit = gc::set_memory_limit(std::int64_t{1} << 40);
  EXPECT_OR_EXIT(gc::set_memory_limit(limit) == std::int64_t{1} << 40);
  gc::free_os_memory();
  EXPECT_OR_EXIT(chain_intact(*g_chain, kKept));
}

#if defined(TRICOLOR_STARTUP_STATIC_INIT)

struct First {
  First() { use_every_entry_point("global constructor"); }
} g_first;

}  // namespace

int main() {
  use_every_entry_point("main");
  // The cleanup of the object made in the constructor ran by the end of a later collection.
  EXPECT_OR_EXIT(g_cleanups.load() >= 1);
  std::puts("entry points work from a global constructor");
  return 0;
}

#else  // TRICOLOR_STARTUP_AT_EXIT

void at_exit() {
  use_every_entry_point("atexit handler");
  std::puts("entry points work from an atexit handler run after every static destructor");
  std::fflush(stdout);
  ::_exit(0);
}

struct First {
  First() { std::atexit(at_exit); }
} g_first;

}  // namespace

int main() {
  // The library is in use when main ends, with its threads running.
  auto p = gc::make<Node>(1);
  gc::collect();
  return p->value == 1 ? 3 : 1;  // 3: only the handler's _exit(0) makes the test pass
}

#endif
