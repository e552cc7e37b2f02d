// The destructor path (src/gc/destructors.hpp): a dead object's slot comes back in the cycle that
// found it dead (at once, during the next mark too, or by the thread cache that holds its span);
// the gc::ptr members of a dead object die for nothing while no other gc::ptr does; a constructor
// that throws never has its destructor run; garbage that destructors make is collected as it is
// made. Each test stages its case with its own cycles (GOGC off) and destructors that wait.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/support.hpp"
#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/root_set.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"
#include "heap/object_lookup.hpp"

namespace {

using gc::detail::MarkHold;
using test::Tracked;

// A cycle, its sweep, and the destructors of what it found dead (those that do not wait).
void run_cycle() {
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_cycle_end();
  gc::detail::finish_sweeping();
}

bool allocated(const void* p) {
  gc::detail::ObjectRef ref;
  return gc::detail::find_object(reinterpret_cast<std::uintptr_t>(p), ref);
}

// A destructor that, when its object is the gate, waits until the test opens it: the destructor
// thread then stays on it while the test stages what comes next. It waits in a blocking region, so
// that cycles may run meanwhile.
std::atomic<int> g_gate{0};  // 1: a gate's destructor is waiting; 2: it may return

void wait_at_gate() {
  g_gate.store(1);
  gc::blocking_region waiting;
  while (g_gate.load() != 2) std::this_thread::yield();
}

void wait_until_a_gate_waits() {
  ASSERT_TRUE(test::eventually([] { return g_gate.load() == 1; }));
}

// ---- A dead object's slot is freed during the next mark -----------------------------------------

struct Victim {
  bool gate = false;
  char payload[200];
  ~Victim() {
    if (gate) wait_at_gate();
  }
};

std::uintptr_t g_victim = 0;
gc::ptr<Victim> g_neighbour;  // keeps the span from emptying (which would keep it until a sweep)

TEST(Destructors, ADeadObjectsSlotIsFreedWhileTheNextCycleMarks) {
  gc::set_percent(-1);
  test::in_thread([] {
    g_neighbour = gc::make<Victim>();
    auto victim = gc::make<Victim>();
    victim->gate = true;
    g_victim = reinterpret_cast<std::uintptr_t>(victim.get());
  });
  run_cycle();  // found dead: its destructor starts, and waits
  wait_until_a_gate_waits();
  const std::uint64_t deferred = gc::detail::deferred_zombie_slots();
  gc::detail::set_mark_hold(MarkHold::kAfterStart);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  // The destructor returns while the next cycle marks: its span is listed and swept, so the slot
  // goes back at once (before, it waited for that cycle's sweep, and objects lived two cycles).
  g_gate.store(2);
  EXPECT_TRUE(test::eventually([] { return !allocated(reinterpret_cast<void*>(g_victim)); }));
  EXPECT_EQ(gc::detail::deferred_zombie_slots(), deferred);
  EXPECT_TRUE(gc::detail::marking());
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
}

// ---- The thread cache that holds a span frees its destroyed slots -------------------------------

struct Sized1K {
  bool gate = false;
  char payload[1000];
  ~Sized1K() {
    if (gate) wait_at_gate();
  }
};

__attribute__((noinline)) gc::detail::Span* make_gate_and_three() {
  auto gate = gc::make<Sized1K>();
  gate->gate = true;
  for (int i = 0; i < 3; ++i) gc::make<Sized1K>();
  return gc::detail::span_of(reinterpret_cast<std::uintptr_t>(gate.get()));
}

TEST(Destructors, AThreadCacheTakesBackTheDestroyedSlotsOfItsSpan) {
  gc::set_percent(-1);
  constexpr std::uint8_t kClass =
      gc::detail::make_span_class(gc::detail::size_to_class_aligned(sizeof(Sized1K), 8), false);
  const std::uint32_t slots = gc::detail::kClassToObjects[kClass >> 1];
  ASSERT_GT(slots, 4u);
  // A span with four dead objects; the thread that made them has gone, so it is on a list.
  gc::detail::Span* span = nullptr;
  test::in_thread([&] { span = make_gate_and_three(); });
  run_cycle();  // the four are zombies; the destructor thread waits in the gate's
  wait_until_a_gate_waits();
  // This thread's cache takes the span and fills its free slots: it holds it, full.
  std::vector<gc::ptr<Sized1K>> held;
  for (std::uint32_t i = 0; i < slots - 4; ++i) {
    held.push_back(gc::make<Sized1K>());
    ASSERT_EQ(gc::detail::span_of(reinterpret_cast<std::uintptr_t>(held.back().get())), span);
  }
  // The four are destroyed while the span is cached: their slots are the cache's to free.
  const std::uint64_t deferred = gc::detail::deferred_zombie_slots();
  g_gate.store(2);
  ASSERT_TRUE(test::eventually([&] { return gc::detail::deferred_zombie_slots() != deferred; }));
  auto again = gc::make<Sized1K>();  // the span is full: the cache frees the four first
  EXPECT_EQ(gc::detail::span_of(reinterpret_cast<std::uintptr_t>(again.get())), span);
  EXPECT_EQ(span->alloc_count.load(), slots - 3);
}

// ---- The gc::ptr members of a dead object die for nothing ---------------------------------------

// Destroyed last (declared first), so it sees the members after they died.
struct Probe {
  ~Probe();
};

struct Holder {
  std::optional<gc::ptr<Tracked>> slot;  // in a live object, emptied by the dying one
};
gc::ptr<Holder> g_holder;

struct Dying {
  Probe probe;  // first: destroyed after `member`
  gc::ptr<Tracked> member;
  ~Dying();
};

// What the dying object's destructor saw.
std::atomic<bool> g_member_bit_kept{false};
std::atomic<bool> g_holder_bit_cleared{false};
std::atomic<bool> g_root_unregistered{false};
std::atomic<std::uint32_t> g_barrier_entries{0};  // added by the member's death
std::atomic<bool> g_marking_then{false};
std::atomic<int> g_probe_done{0};
std::uint32_t g_barrier_before = 0;
const void* g_member_slot = nullptr;

bool pointer_bit(const void* slot) {
  return gc::detail::is_pointer_slot(reinterpret_cast<std::uintptr_t>(slot));
}

Dying::~Dying() {
  wait_at_gate();  // until the next cycle marks
  g_marking_then.store(gc::detail::marking());
  // A gc::ptr in a live object, and a root, die here too: they are not the dying object's.
  g_holder->slot.reset();
  g_holder_bit_cleared.store(!pointer_bit(&g_holder->slot));
  const std::size_t roots = gc::detail::root_count();
  delete new gc::ptr<Tracked>(member);
  g_root_unregistered.store(gc::detail::root_count() == roots);
  g_member_slot = &member;
  g_barrier_before = gc::detail::t_mutator.record->barrier_count;
}

Probe::~Probe() {
  g_member_bit_kept.store(pointer_bit(g_member_slot));
  g_barrier_entries.store(gc::detail::t_mutator.record->barrier_count - g_barrier_before);
  g_probe_done.store(1);
}

TEST(Destructors, TheGcPtrMembersOfADeadObjectDieForNothing) {
  gc::set_percent(-1);
  g_holder = gc::make<Holder>();
  test::in_thread([] {
    auto d = gc::make<Dying>();
    d->member = gc::make<Tracked>(1);
    g_holder->slot.emplace(d->member);
  });
  ASSERT_TRUE(pointer_bit(&*g_holder->slot));
  run_cycle();  // the Dying object is dead (its member is still held by the holder)
  wait_until_a_gate_waits();
  gc::detail::set_mark_hold(MarkHold::kAfterStart);
  gc::detail::start_cycle_for_test();
  gc::detail::wait_for_mark_hold(MarkHold::kAfterStart);
  g_gate.store(2);  // the destructor runs while the barrier is on
  ASSERT_TRUE(test::eventually([] { return g_probe_done.load() == 1; }));
  gc::detail::set_mark_hold(MarkHold::kNone);
  gc::detail::wait_for_cycle_end();
  EXPECT_TRUE(g_marking_then.load());
  // The member kept its pointer bit (the slot's bits go when it is freed) and shaded nothing.
  EXPECT_TRUE(g_member_bit_kept.load());
  EXPECT_EQ(g_barrier_entries.load(), 0u);
  // Everything else died as always.
  EXPECT_TRUE(g_holder_bit_cleared.load());
  EXPECT_TRUE(g_root_unregistered.load());
}

// ---- A constructor that throws never has its destructor run -------------------------------------

std::atomic<int> g_unbuilt_destroyed{0};
constexpr long kBuilt = 0x6275696c74;

struct ThrowsWithADestructor {
  explicit ThrowsWithADestructor(int fill) {
    // With enough objects of its own size class, its span is given back before the throw (to the
    // central list: the thread's cache then holds another one).
    for (int i = 0; i < fill; ++i) gc::make<ThrowsWithADestructor>(0);
    if (fill > 0) throw std::runtime_error("constructor failed");
    built = kBuilt;
  }
  ~ThrowsWithADestructor() {
    if (built != kBuilt) g_unbuilt_destroyed.fetch_add(1);
  }
  gc::ptr<Tracked> member;
  long built;  // whatever the slot held, until the constructor ends
};

__attribute__((noinline)) void throw_in_constructors() {
  for (int fill : {1, 2000}) {
    try {
      gc::make<ThrowsWithADestructor>(fill);
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error&) {
    }
  }
}

TEST(Destructors, AConstructorThatThrowsNeverHasItsDestructorRun) {
  gc::set_percent(-1);
  // In the span its thread's cache holds (the bit is cleared), and in one it no longer holds (the
  // destructor table names one that does nothing).
  test::in_thread(throw_in_constructors);
  test::collect_clean();
  test::collect_clean();
  EXPECT_EQ(g_unbuilt_destroyed.load(), 0);
}

// A second type in a span has its destructor in the span's table. When its constructor throws in
// the span this thread's cache holds, the slot goes back with neither bit nor entry: an object of
// the span's own type built in that slot next (the cursor steps back to it) registers only its bit,
// and must get its own destructor, not the thrown one's.
std::atomic<int> g_span_type_destroyed{0};
std::atomic<int> g_second_type_destroyed{0};

struct SpanType {
  ~SpanType() { g_span_type_destroyed.fetch_add(1); }
  std::uint64_t words[13] = {};  // 104 bytes: a size class of its own in this test
};
std::uintptr_t g_thrown_at = 0;

struct SecondType {
  explicit SecondType(bool throws) {
    if (!throws) return;
    g_thrown_at = reinterpret_cast<std::uintptr_t>(this);
    throw std::runtime_error("constructor failed");
  }
  ~SecondType() { g_second_type_destroyed.fetch_add(1); }
  std::uint64_t words[13] = {};
};
static_assert(sizeof(SpanType) == sizeof(SecondType));

// Whether the last object took the thrown one's slot (compared here: a copy of its address on the
// caller's stack would keep it alive).
__attribute__((noinline)) void throw_then_reuse_the_slot(bool& reused) {
  const gc::ptr<SpanType> first = gc::make<SpanType>();            // the span's own destructor
  const gc::ptr<SecondType> second = gc::make<SecondType>(false);  // a table entry
  try {
    gc::make<SecondType>(true);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error&) {
  }
  const gc::ptr<SpanType> again = gc::make<SpanType>();
  reused = reinterpret_cast<std::uintptr_t>(again.get()) == g_thrown_at;
}

TEST(Destructors, AThrownSecondTypeLeavesNoDestructorForTheSlotsNextObject) {
  gc::set_percent(-1);
  bool reused = false;
  test::in_thread([&] { throw_then_reuse_the_slot(reused); });
  ASSERT_TRUE(reused) << "the cursor did not step back over the thrown object's slot";
  test::collect_clean();
  gc::detail::wait_for_destructors();
  EXPECT_EQ(g_span_type_destroyed.load(), 2) << "the slot's next object lost its own destructor";
  EXPECT_EQ(g_second_type_destroyed.load(), 1) << "the thrown type's destructor ran on another";
}

// ---- The spans queued since run inside a span's run, and none of its destructors twice ----------

struct Counted64 {
  bool gate = false;
  std::uint64_t canary = 0xC0FFEE;
  char payload[40];
  ~Counted64();
};
std::atomic<int> g_counted_destroyed{0};
std::atomic<int> g_counted_twice{0};
gc::ptr<Counted64> g_last;  // dies while its span's zombies are being destroyed

Counted64::~Counted64() {
  if (canary != 0xC0FFEE) g_counted_twice.fetch_add(1);
  canary = 0;
  g_counted_destroyed.fetch_add(1);
  if (gate) {
    wait_at_gate();
    // Past the destructor thread's allocation check (kDestructorAssistBytes): after the next few
    // destructors it runs what was queued since, this span again among it.
    gc::make<char[]>(2 * gc::detail::kDestructorAssistBytes);
  }
}

__attribute__((noinline)) gc::detail::Span* make_twenty_and_one_kept() {
  auto gate = gc::make<Counted64>();
  gate->gate = true;
  for (int i = 0; i < 19; ++i) gc::make<Counted64>();
  g_last = gc::make<Counted64>();
  return gc::detail::span_of(reinterpret_cast<std::uintptr_t>(gate.get()));
}

TEST(Destructors, ASpanQueuedAgainWhileItsDestructorsRunHasNoneRunTwice) {
  gc::set_percent(-1);
  gc::detail::Span* span = nullptr;
  test::in_thread([&] { span = make_twenty_and_one_kept(); });
  run_cycle();  // twenty zombies; the destructor thread waits in the first one's destructor
  wait_until_a_gate_waits();
  test::in_thread([] { g_last = nullptr; });  // no stale copy on this thread's stack
  test::scrub_stack();
  run_cycle();  // the last one is a zombie too: the span is queued again
  ASSERT_EQ(span->destructor_holds.load(), 2u);
  g_gate.store(2);
  gc::detail::wait_for_destructors();
  EXPECT_EQ(g_counted_destroyed.load(), 21);
  EXPECT_EQ(g_counted_twice.load(), 0);
}

// ---- Garbage that destructors make is collected as it is made -----------------------------------

struct Garbage {
  gc::ptr<Garbage> next;
  long payload[7];  // 64 bytes
};

struct MakesGarbage {
  gc::ptr<MakesGarbage> next;
  ~MakesGarbage() {
    for (int i = 0; i < 2000; ++i) gc::make<Garbage>();
  }
};

__attribute__((noinline)) void make_garbage_makers() {
  for (int i = 0; i < 2000; ++i) gc::make<MakesGarbage>();
}

TEST(Destructors, AllocatingDestructorsKeepTheHeapSmall) {
  // 2,000 destructors make 4,000,000 objects of 64 bytes, 256 MiB, with nothing live: cycles that
  // the destructor thread's allocation starts find them dead, and the thread destroys them before
  // it goes on (before, it ran every queued destructor first, and heap_sys reached 414-802 MiB).
  make_garbage_makers();
  test::collect_clean();
  const gc::stats s = gc::read_stats();
  std::printf("heap_sys %llu MiB after %llu cycles\n",
              static_cast<unsigned long long>(s.heap_sys >> 20),
              static_cast<unsigned long long>(s.num_gc));
  EXPECT_LT(s.heap_sys, std::uint64_t{64} << 20);
}

}  // namespace

// ---- The destructor thread keeps no trace of an object it destroyed -----------------------------

// While a destructor runs, the destructor thread names its object in its MutatorState (dying_lo),
// which is thread-local storage, a root. Left there, the address kept whatever was built in the
// slot next alive, and all it reached (a ring of the shared_between_threads example outlived the
// collect() that dropped it, in about half the runs).
struct Linker {
  gc::ptr<Tracked> target;
  // Complemented: a global is a root too.
  ~Linker() { g_linker_destroyed.store(~reinterpret_cast<std::uintptr_t>(this)); }
  static inline std::atomic<std::uintptr_t> g_linker_destroyed{0};
};

TEST(Destructors, TheDestructorThreadKeepsNoTraceOfAnObjectItDestroyed) {
  gc::set_percent(-1);
  // The only object destroyed: the last one the destructor thread names.
  test::in_thread([] { gc::make<Linker>(); });
  gc::collect();
  const std::uintptr_t not_slot = Linker::g_linker_destroyed.load();  // complemented, as above
  ASSERT_NE(not_slot, 0u);
  const long destroyed_before = Tracked::destroyed.load();
  // A new Linker in the same slot, holding a new Tracked, dropped at once.
  bool reused = false;
  test::in_thread([&] {
    std::vector<gc::ptr<Linker>> others;
    for (int i = 0; i < 200'000 && !reused; ++i) {
      auto l = gc::make<Linker>();
      if (~reinterpret_cast<std::uintptr_t>(l.get()) == not_slot) {
        l->target = gc::make<Tracked>(2);
        reused = true;
      } else if (i % 2 == 0) {
        others.push_back(l);  // fills the span's free slots rather than its cursor's
      }
    }
  });
  ASSERT_TRUE(reused);
  gc::collect();
  EXPECT_EQ(Tracked::destroyed.load(), destroyed_before + 1);
}
