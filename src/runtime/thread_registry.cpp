#include "runtime/thread_registry.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/os_memory.hpp"
#include "runtime/known_stacks.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/upcalls.hpp"

namespace gc::detail {

namespace {

ThreadRecord* g_head = nullptr;
pthread_key_t g_exit_key;

// A fiber whose thread is gone while it ran on it (the thread exited there, or did not survive a
// fork): its frames died with the thread, so it is left suspended with nothing live on it.
void abandon_fiber(ThreadRecord* r) {
  StackRecord* fiber = r->current_stack;
  if (fiber == &r->own_stack) return;
  lock_stack(fiber);
  fiber->saved_sp = fiber->hi;
  fiber->saved_frame_words = 0;
  fiber->running_on.store(nullptr, std::memory_order_relaxed);
  unlock_stack(fiber);
}

void unregister_current_thread(void*) {
  MutatorState& m = t_mutator;
  ThreadRecord* r = m.record;
  if (r == nullptr) return;
  release_exiting_thread(r);
  {
    // The collector holds the registry lock while the world is stopped: wait for it as a thread
    // that is blocked, so that the collector never waits for this one.
    BlockingScope blocked;
    // Before the lock: a fork's handler raises its flag and then waits for the registry's lock, so
    // a section begun under that lock must not wait for the flag (safepoint.hpp).
    CriticalSection critical;
    std::lock_guard lock(registry_mutex());
    stack_scan_on_exit(r);  // its stack dies with it
    abandon_fiber(r);
    remove_known_stack(r->own_stack.lo, r->own_stack.hi);
    for (ThreadRecord** p = &g_head; *p != nullptr; p = &(*p)->next) {
      if (*p == r) {
        *p = r->next;
        break;
      }
    }
  }
  m.record = nullptr;
  set_stack_bounds(m, 0, 0);
  delete r;
}

void find_stack(ThreadRecord* r) {
  pthread_attr_t attr;
  if (::pthread_getattr_np(::pthread_self(), &attr) != 0)
    os::fatal("pthread_getattr_np failed: cannot find the thread's stack");
  void* addr = nullptr;
  std::size_t size = 0;
  ::pthread_attr_getstack(&attr, &addr, &size);
  ::pthread_attr_destroy(&attr);
  r->stack_lo = reinterpret_cast<std::uintptr_t>(addr);
  r->stack_hi = r->stack_lo + size;
  r->own_stack.lo = r->stack_lo;
  r->own_stack.hi = r->stack_hi;
  r->own_stack.running_on.store(r, std::memory_order_relaxed);
}

}  // namespace

bool try_take_scan_lock(std::atomic<std::uint32_t>& lock) {
  std::uint32_t expected = 0;
  return lock.compare_exchange_strong(expected, 1, std::memory_order_seq_cst);
}

void take_scan_lock(std::atomic<std::uint32_t>& lock) {
  while (!try_take_scan_lock(lock)) futex_wait(&lock, 1);
}

void drop_scan_lock(std::atomic<std::uint32_t>& lock) {
  lock.store(0, std::memory_order_seq_cst);
  futex_wake_all(&lock);
}

Mutex& registry_mutex() {
  // Constant-initialised and never destroyed: threads may still exit while the process does.
  static constinit Mutex mutex{LockRank::kRegistry};
  return mutex;
}

ThreadRecord* registry_head() { return g_head; }

void forget_other_threads_after_fork(ThreadRecord* self) {
  ThreadRecord* r = g_head;
  while (r != nullptr) {
    ThreadRecord* next = r->next;
    if (r != self) {
      // The thread may have been inside the allocation fast path at the fork; it never resumes:
      // its cache is consistent enough to give back (a half-taken slot just stays free).
      release_vanished_thread(r);
      abandon_fiber(r);
      remove_known_stack(r->own_stack.lo, r->own_stack.hi);
      delete r;
    }
    r = next;
  }
  self->next = nullptr;
  g_head = self;
}

ThreadRecord* register_current_thread(const char* name) {
  MutatorState& m = t_mutator;
  if (m.record != nullptr) return m.record;
  TRICOLOR_DCHECK(m.critical_depth.load(std::memory_order_relaxed) == 0,
                  "a thread registers inside a critical section");
  ensure_runtime();
  static const bool key_created = [] {
    return ::pthread_key_create(&g_exit_key, unregister_current_thread) == 0;
  }();
  if (!key_created) os::fatal("pthread_key_create failed");

  auto* r = new ThreadRecord;
  r->handle = ::pthread_self();
  r->tid = static_cast<pid_t>(::syscall(SYS_gettid));
  r->name = name;
  r->mutator = &m;
  find_stack(r);
  set_stack_bounds(m, r->stack_lo, r->stack_hi - r->stack_lo);
  m.record = r;
  {
    // Before the lock, as in unregister_current_thread.
    CriticalSection critical;
    // Not yet in the registry, so no stop waits for this thread while it waits for the lock.
    std::lock_guard lock(registry_mutex());
    // Known first, then the roots inside it dropped (stack_scan_on_register): a slot another
    // thread registers meanwhile either sees the stack known or is dropped with the rest.
    TRICOLOR_CHECK(add_known_stack(r->stack_lo, r->stack_hi),
                   "the stack of thread %d [%#lx, %#lx) overlaps a gc::fiber's", r->tid,
                   static_cast<unsigned long>(r->stack_lo),
                   static_cast<unsigned long>(r->stack_hi));
    stack_scan_on_register(r);  // a new stack holds nothing the mark in progress could miss
    r->next = g_head;
    g_head = r;
  }
  ::pthread_setspecific(g_exit_key, r);
  return r;
}

}  // namespace gc::detail
