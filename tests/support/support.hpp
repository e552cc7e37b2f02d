// Helpers shared by the tests: objects that count their destructions, and a way to wipe stale
// pointers off the stack before asking whether something was collected.
//
// The collector scans stacks conservatively, so a dead object can survive a collection when an old
// copy of its address still sits in an unused part of the stack or in a register. Tests that check
// "this was collected" build their garbage in a separate, non-inlined function and call
// scrub_stack() before gc::collect().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <tricolor/gc.hpp>
#include <utility>

#include "runtime/library_thread.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"

namespace test {

// Overwrites a large stretch of the stack below the caller with zeros. Not instrumented: the
// redzones AddressSanitizer would put around the buffer are words the memset would not write.
__attribute__((noinline, no_sanitize("address"))) inline void scrub_stack() {
  volatile char buffer[64 * 1024];
  std::memset(const_cast<char*>(buffer), 0, sizeof buffer);
  asm volatile("" : : "r"(buffer) : "memory");
}

// Runs `fn` on a thread of its own and waits for it: whatever `fn` leaves behind is referenced
// from nowhere once the thread is gone, not even from a stale register of the caller.
template <class F>
void in_thread(F&& fn) {
  std::thread(std::forward<F>(fn)).join();
}

// Polls `condition` every millisecond until it holds (true) or 30 seconds have passed (false).
template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// On a registered thread inside a critical section (a test hook's): raises `asked`, for another
// thread to stop the world, and waits until the stop is under way and its signal has landed here
// and been deferred to the section's end, or 30 seconds have passed. Returns whether it landed.
// (The same signal asks for a stack scan during a mark: hence the test of the stop itself.) Yields
// while it waits: under ThreadSanitizer a signal is delivered only at an intercepted call.
inline bool ask_for_a_stop_and_wait_until_deferred(std::atomic<bool>& asked) {
  asked.store(true, std::memory_order_release);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const auto& deferred = gc::detail::t_mutator.stop_deferred;
  auto landed = [&] {
    return gc::detail::world_stop_waiting() && deferred.load(std::memory_order_relaxed) != 0;
  };
  while (!landed() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return landed();
}

// Collects with a clean stack.
__attribute__((noinline)) inline void collect_clean() {
  scrub_stack();
  gc::collect();
}

// Collects at least three times, and on until `finished` reaches `threads`, while a test's threads
// run: the pacer's cycles alone can be too few on a loaded machine, where a starved marker
// stretches one cycle over most of a run. Each thread adds one to `finished` as it ends.
inline void collect_while_threads_run(const std::atomic<int>& finished, int threads) {
  for (int collections = 0; collections < 3 || finished.load() < threads; ++collections) {
    gc::collect();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Counts constructions and destructions per test; a destruction of a live instance, or a second
// destruction of the same one, trips the canary.
struct Tracked {
  static inline std::atomic<long> alive{0};
  static inline std::atomic<long> destroyed{0};
  static inline std::atomic<long> double_destroyed{0};
  static constexpr std::uint64_t kCanary = 0xC0FFEE5EED5EED00ull;

  explicit Tracked(int id_ = 0) : id(id_) { alive.fetch_add(1); }
  ~Tracked() {
    if (canary != kCanary) double_destroyed.fetch_add(1);
    canary = 0xDEADull;
    alive.fetch_sub(1);
    destroyed.fetch_add(1);
  }
  bool intact() const { return canary == kCanary; }

  std::uint64_t canary = kCanary;
  int id;
  gc::ptr<Tracked> next;
};

// A chain of `n` Tracked objects linked through `next`; the head has id n-1, its successor n-2, ...
__attribute__((noinline)) inline gc::ptr<Tracked> make_chain(int n) {
  gc::ptr<Tracked> head;
  for (int i = 0; i < n; ++i) {
    auto node = gc::make<Tracked>(i);
    node->next = head;
    head = node;
  }
  return head;
}

// A chain of `n` whose only reference leaves as a raw pointer: what keeps it alive is wherever the
// caller keeps that pointer (a stack word, a register), which the conservative scan must find.
__attribute__((noinline)) inline Tracked* make_raw_chain(int n) { return make_chain(n).get(); }

// Allocates `bytes` of garbage in 128-byte objects.
__attribute__((noinline)) inline void churn(std::size_t bytes) {
  struct Blob {
    char b[128];
  };
  for (std::size_t done = 0; done < bytes; done += sizeof(Blob)) gc::make<Blob>();
}

// Collections that free, and let new objects reuse, anything the marks missed.
inline void collect_and_reuse(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    churn(4 << 20);
    gc::collect();
  }
}

// True when `head` is a chain made by make_chain(n), every node intact.
inline bool chain_intact(const Tracked* head, int n) {
  for (int i = n - 1; i >= 0; --i, head = head->next.get())
    if (head == nullptr || !head->intact() || head->id != i) return false;
  return head == nullptr;
}

// Registered threads of this name. A stop of the world holds the registry's lock while it waits
// for every running registered thread, so a registered caller waits for the lock as a blocked
// thread; running, it would deadlock wherever the stop signal waits until the lock is taken (TSan
// delivers signals only then). `also` narrows the count to records it accepts.
inline std::size_t threads_named(std::string_view name,
                                 bool (*also)(const gc::detail::ThreadRecord&) = nullptr) {
  std::optional<gc::detail::BlockingScope> blocked;
  if (gc::detail::t_mutator.record != nullptr) blocked.emplace();
  std::lock_guard lock(gc::detail::registry_mutex());
  std::size_t n = 0;
  for (auto* r = gc::detail::registry_head(); r != nullptr; r = r->next)
    n += std::string_view(r->name) == name && (also == nullptr || also(*r));
  return n;
}

// Waits until every library thread that has been started has registered: the destructor thread,
// started by the first registration, and the sweeper and scavenger, started by a collection, each
// take the registry's lock for a moment on their own time. True if none is left on its way.
inline bool wait_for_library_threads_to_register() {
  return eventually([] { return gc::detail::LibraryThread::registering_for_test() == 0; });
}

// True once a library thread of this name has registered.
inline bool thread_named(std::string_view name) { return threads_named(name) != 0; }

// Registered threads of the program itself, not counting the library's sweeper and destructor
// threads, which come and go on their own.
inline std::size_t program_threads() { return threads_named("mutator"); }

}  // namespace test
