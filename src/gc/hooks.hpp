// The collector's hooks: how the toolbox (src/toolbox: pools, arenas, weak references, cleanups)
// takes part in a cycle without the collector naming it.
//
// The collector core knows no feature. As Go's collector calls a registered `poolcleanup` and never
// sync.Pool by name, each toolbox component registers the hooks it needs the first time it is used
// (the first pool, the first arena chunk, the first weak reference or cleanup), and the core calls
// whatever is registered:
//
//   mark start      world stopped, barrier still off (pools: primaries become victims). Not for
//                   the follow-up cycle of a collect(), so that one collect() empties no pool.
//   roots           extra roots, scanned in the concurrent root pass and in every stopped pass
//                   (gcstoptheworld, gccheckmark) (arenas: the gc::ptr slots of live chunks).
//   foreign word    a word the marker shaded that is in the heap's range but not an object
//                   (arenas: a pointer into a quarantined chunk keeps it from being reused).
//   dead object     the sweep, or a path that frees a slot without one, found an object with its
//                   special bit set dead; inside a critical section, before the slot can be reused
//                   (weak cells are cleared, cleanups queued).
//   collect waits   what gc::collect() waits for after its cycles (the cleanups they queued).
//   fork child      in the child after fork(), once the library's own threads are forgotten (the
//                   cleanup thread starts again).
//   root owner      gc::why_alive names a registered root slot: the component whose memory holds
//                   it, or nullptr (pools: "a gc::pool's free list"). The world runs; any lock.
//
// A registration is an atomic store with release, idempotent, and never undone; calls load with
// acquire. A component registers before it creates anything the hook must see (a pool before its
// first shard is reachable, the specials hook before the first special bit is set, which the sweep
// reads with acquire), so a call never misses its component's state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace gc::detail {

class Marker;

// A fixed set of registered functions of one kind.
template <class Fn, std::size_t N = 4>
class HookList {
 public:
  // Adds `fn` unless it is there already. Aborts if the list is full (a programming error).
  void add(Fn fn);

  template <class... Args>
  void call(Args&&... args) const {
    for (const auto& slot : slots_) {
      const Fn fn = slot.load(std::memory_order_acquire);
      if (fn == nullptr) return;
      fn(args...);
    }
  }
  // The first non-null result of the registered functions, in order; nullptr if none gives one.
  template <class... Args>
  auto first(Args&&... args) const -> decltype(std::declval<Fn>()(args...)) {
    for (const auto& slot : slots_) {
      const Fn fn = slot.load(std::memory_order_acquire);
      if (fn == nullptr) break;
      if (auto result = fn(args...)) return result;
    }
    return nullptr;
  }

 private:
  std::atomic<Fn> slots_[N] = {};
};

using RootHook = void (*)(Marker&);
using WordHook = void (*)(std::uintptr_t);
using VoidHook = void (*)();
using OwnerHook = const char* (*)(std::uintptr_t);

struct CollectorHooks {
  HookList<VoidHook> mark_start;
  HookList<RootHook> roots;
  HookList<WordHook> foreign_word;
  HookList<WordHook> dead_object;
  HookList<VoidHook> collect_waits;
  HookList<VoidHook> fork_child;
  HookList<OwnerHook> root_owner;
};

inline constinit CollectorHooks g_hooks;

}  // namespace gc::detail
