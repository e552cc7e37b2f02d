#include "runtime/fork.hpp"

#include <pthread.h>

#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/sweeper.hpp"
#include "heap/os_memory.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"

namespace gc::detail {

namespace {

void before_fork() {
  ensure_registered();
  {
    // As a blocked thread: a cycle in progress must not wait for this one.
    BlockingScope blocked;
    cycle_mutex().lock();
  }
  stop_the_world();
}

void after_fork_in_parent() {
  start_the_world();
  cycle_mutex().unlock();
}

void after_fork_in_child() {
  // Fresh queues first: giving the dead threads' spans back may sweep and queue destructors.
  forget_background_sweeper_after_fork();
  restart_destructor_thread_after_fork();
  forget_other_threads_after_fork(t_mutator.record);
  start_the_world();
  cycle_mutex().unlock();
}

}  // namespace

void install_fork_handlers() {
  if (::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) != 0)
    os::fatal("pthread_atfork failed");
}

}  // namespace gc::detail
