// The library's mutex: std::mutex with Clang's thread-safety annotations and, where internal
// checks are on, a check of the lock order.
//
// Lock order. Every Mutex has a rank; a thread may take a lock only if its rank is higher than that
// of every library lock it holds. The ranks, outermost first (docs/design.md, "Lock order", says
// why each comes where it does):
//
//   kCycle        the cycle lock: serialises the collector's stops: mark start, termination, fork
//   kRegistry     the thread registry, held for a whole stop of the world
//   kFibers       the list of fiber stacks (gc::fiber)
//   kToolbox      a toolbox structure (pool registry, arena chunks, specials stripe)
//   kRootSet      one stripe of the root set
//   kCentral      one span class's central lists
//   kPageHeap     the page heap
//   kAddressSpace growing the heap's reservation
//   kLeaf         fixed pools, mark queue, spare mark chunks: nothing is taken under them
//
// Locks of one rank never nest (two central lists, two stripes). With TRICOLOR_DCHECKS on, each
// thread keeps the ranks it holds in a bit set, and taking a lock out of order aborts with both
// ranks named; off, a Mutex is a std::mutex taken by lock_spinning.
//
// lock_spinning: what the library does under a lock is short (a few list operations), shorter than
// a futex sleep and wakeup, two system calls and on a virtual machine two exits. So a waiter first
// spins, a bounded few microseconds, trying the lock; it then usually gets it without entering the
// kernel, and the holder's unlock has nobody to wake. A holder that was preempted costs a waiter
// those microseconds more than before (docs/design.md, "The destructor path", has the numbers).
//
// Clang (-Wthread-safety) checks statically that members marked TRICOLOR_GUARDED_BY are touched
// only with their lock held, and that functions marked TRICOLOR_REQUIRES are called with it.
#pragma once

#include <cstdint>
#include <mutex>

#include "base/check.hpp"
#include "base/thread_gc_time.hpp"

#if defined(__clang__)
#define TRICOLOR_TSA(x) __attribute__((x))
#else
#define TRICOLOR_TSA(x)
#endif
#define TRICOLOR_CAPABILITY(x) TRICOLOR_TSA(capability(x))
#define TRICOLOR_SCOPED_CAPABILITY TRICOLOR_TSA(scoped_lockable)
#define TRICOLOR_GUARDED_BY(x) TRICOLOR_TSA(guarded_by(x))
#define TRICOLOR_PT_GUARDED_BY(x) TRICOLOR_TSA(pt_guarded_by(x))
#define TRICOLOR_REQUIRES(...) TRICOLOR_TSA(requires_capability(__VA_ARGS__))
#define TRICOLOR_EXCLUDES(...) TRICOLOR_TSA(locks_excluded(__VA_ARGS__))
#define TRICOLOR_ACQUIRE(...) TRICOLOR_TSA(acquire_capability(__VA_ARGS__))
#define TRICOLOR_RELEASE(...) TRICOLOR_TSA(release_capability(__VA_ARGS__))
#define TRICOLOR_NO_THREAD_SAFETY_ANALYSIS TRICOLOR_TSA(no_thread_safety_analysis)

namespace gc::detail {

enum class LockRank : std::uint8_t {
  kCycle = 1,
  kRegistry,
  kFibers,
  kToolbox,
  kRootSet,
  kCentral,
  kPageHeap,
  kAddressSpace,
  kLeaf,
};

const char* lock_rank_name(LockRank rank);

#if TRICOLOR_DCHECKS
// The ranks the calling thread holds, one bit each.
inline thread_local std::uint32_t t_held_ranks = 0;
void lock_order_violation(LockRank taking, std::uint32_t held);
#endif

// A hint to the CPU that this thread spins (x86 pause, Arm yield).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Takes `m`, after trying for a while without sleeping (see above).
// The wait is timed only once the spin has failed: the spin is short, and contended locks are
// common enough in the library's threads that a clock read on each would show.
inline void lock_spinning(std::mutex& m) {
  constexpr int kSpins = 64;
  for (int i = 0; i < kSpins; ++i) {
    if (m.try_lock()) return;
    cpu_relax();
  }
  ThreadGcTimeScope timed(GcTimeKind::kLockWait);
  m.lock();
}

class TRICOLOR_CAPABILITY("mutex") Mutex {
 public:
  explicit constexpr Mutex(LockRank rank) : rank_(rank) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() TRICOLOR_ACQUIRE() {
    before_lock();
    lock_spinning(mutex_);
  }
  bool try_lock() TRICOLOR_TSA(try_acquire_capability(true)) {
    before_lock();
    if (mutex_.try_lock()) return true;
    after_unlock();
    return false;
  }
  void unlock() TRICOLOR_RELEASE() {
    mutex_.unlock();
    after_unlock();
  }
  LockRank rank() const { return rank_; }

 private:
  void before_lock() {
#if TRICOLOR_DCHECKS
    const std::uint32_t bit = std::uint32_t{1} << static_cast<unsigned>(rank_);
    // Out of order: a lock of this rank or a later one is held already.
    if (t_held_ranks >= bit) [[unlikely]]
      lock_order_violation(rank_, t_held_ranks);
    t_held_ranks |= bit;
#endif
  }
  void after_unlock() {
#if TRICOLOR_DCHECKS
    t_held_ranks &= ~(std::uint32_t{1} << static_cast<unsigned>(rank_));
#endif
  }

  std::mutex mutex_;
  LockRank rank_;
};

// A Mutex of a rank fixed by its type, for arrays of striped locks.
template <LockRank Rank>
class RankedMutex : public Mutex {
 public:
  constexpr RankedMutex() : Mutex(Rank) {}
};

// Holds a Mutex for a scope (or until unlock()).
class TRICOLOR_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) TRICOLOR_ACQUIRE(mutex) : mutex_(&mutex) { mutex.lock(); }
  ~MutexLock() TRICOLOR_RELEASE() {
    if (mutex_ != nullptr) mutex_->unlock();
  }
  void unlock() TRICOLOR_RELEASE() {
    mutex_->unlock();
    mutex_ = nullptr;
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mutex_;
};

}  // namespace gc::detail
