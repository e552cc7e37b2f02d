#include "gc/fork.hpp"

#include <pthread.h>

#include "base/futex.hpp"
#include "base/os_memory.hpp"
#include "gc/assist.hpp"
#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_workers.hpp"
#include "gc/sweeper.hpp"
#include "heap/page_backer.hpp"
#include "heap/scavenger.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"

namespace gc::detail {

namespace {

// The cycle and registry locks are held from before_fork to the after-fork handlers, across
// functions, which Clang's lock analysis cannot follow.
void before_fork() TRICOLOR_NO_THREAD_SAFETY_ANALYSIS {
  ensure_registered();
  // Between marks: the child has no mark controller to finish one. Waits as a blocked thread, so
  // that the cycle in progress does not wait for this one.
  lock_cycle_between_marks().release();
  WorldStopped world = stop_the_world();
  // Every thread resumes knowing the flag: the restart orders it before whatever they do next.
  g_fork_in_progress.store(1, std::memory_order_relaxed);
  start_the_world(std::move(world));
  // Threads register and unregister outside critical sections, and briefly: wait for them.
  registry_mutex().lock();
}

void end_fork() {
  g_fork_in_progress.store(0, std::memory_order_release);
  futex_wake_all(&g_fork_in_progress);
}

void after_fork_in_parent() TRICOLOR_NO_THREAD_SAFETY_ANALYSIS {
  end_fork();
  registry_mutex().unlock();
  cycle_mutex().unlock();
}

void after_fork_in_child() TRICOLOR_NO_THREAD_SAFETY_ANALYSIS {
  end_fork();  // first: giving the dead threads' caches back enters critical sections
  // Fresh queues next: giving the dead threads' spans back may sweep and queue destructors.
  forget_background_sweeper_after_fork();
  // A fork comes between marks, but a thread that waited for grey work or for credit may not have
  // woken yet: the child forgets it with the workers.
  forget_mark_workers_after_fork();
  forget_assist_waiters_after_fork();
  forget_scavenger_after_fork();
  forget_page_backer_after_fork();
  restart_destructor_thread_after_fork();
  g_hooks.fork_child.call();
  forget_other_threads_after_fork(t_mutator.record);
  registry_mutex().unlock();
  cycle_mutex().unlock();
}

}  // namespace

void install_fork_handlers() {
  if (::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) != 0)
    os::fatal("pthread_atfork failed");
}

}  // namespace gc::detail
