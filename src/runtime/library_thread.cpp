#include "runtime/library_thread.hpp"

#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <system_error>
#include <thread>

#include "base/check.hpp"
#include "base/thread_gc_time.hpp"
#include "runtime/clear_stack.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"
#include "runtime/thread_registry.hpp"

namespace gc::detail {

LibraryThread::Signal& LibraryThread::signal() {
  Signal* s = signal_.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  auto* fresh = new Signal;
  if (signal_.compare_exchange_strong(s, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *s;
}

void LibraryThread::start() {
  TRICOLOR_DCHECK(t_mutator.critical_depth.load(std::memory_order_relaxed) == 0,
                  "the %s thread started inside a critical section", name_);
  // The signal exists before the thread does: notify() may come at once.
  Signal* s = &signal();
  for (;;) {
    if (started_.load(std::memory_order_acquire)) return;
    bool ours = false;
    {
      // Inside a critical section: a thread that pushes work inside one takes this lock too, and
      // must never wait for a holder that a stop of the world has parked.
      CriticalSection critical;
      std::lock_guard lock(s->mutex);
      if (!s->running) {
        s->stop = false;
        s->running = true;
        ours = true;
      }
    }
    if (ours) break;
    // Another start() is making the thread. Only its outcome says whether there is one: returning
    // now would tell the caller so before it is known, and a refusal lets this call try in turn.
    std::this_thread::yield();
  }
  if (kind_ == Kind::kMutator) registering_.fetch_add(1, std::memory_order_relaxed);
  try {
    if (refuse_starts_.load(std::memory_order_relaxed))
      throw std::system_error(EAGAIN, std::generic_category(), "refused for a test");
    std::thread([this, s] { run(s); }).detach();  // outside the section: it allocates
  } catch (...) {
    if (kind_ == Kind::kMutator) registering_.fetch_sub(1, std::memory_order_relaxed);
    {
      CriticalSection critical;
      std::lock_guard lock(s->mutex);
      s->running = false;
    }
    throw;  // the next start() tries again
  }
  started_.store(true, std::memory_order_release);
}

void LibraryThread::wake() {
  start();
  notify();
}

bool LibraryThread::try_start() noexcept {
  try {
    start();
    return true;
  } catch (const std::exception& e) {
    if (!refusal_reported_.exchange(true, std::memory_order_relaxed))
      std::fprintf(stderr,
                   "tricolor: the library's %s thread could not be started (%s); the library goes "
                   "on without it and tries again later\n",
                   name_, e.what());
    return false;
  }
}

bool LibraryThread::try_wake() noexcept {
  if (!try_start()) return false;
  notify();
  return true;
}

void LibraryThread::notify() {
  Signal* signal = signal_.load(std::memory_order_acquire);
  TRICOLOR_CHECK(signal != nullptr, "the %s thread is notified before it was ever started", name_);
  Signal& s = *signal;
  {
    CriticalSection critical;  // see start()
    std::lock_guard lock(s.mutex);
    ++s.requests;
  }
  // The wake is a system call (a futex wake), and on a virtual machine the interrupt it sends to
  // the woken thread's CPU took up to 35 us: a thread that may count as stopped meanwhile does, so
  // that a stop of the world does not wait for it (docs/design.md, section 5, "A stop waited for a
  // wake of a library thread"). Not while a stop is under way: the caller may be the thread that
  // stopped the world, and leaving the scope would park it in its own stop; any other thread is
  // at most one wake late to it.
  ThreadRecord* r = t_mutator.record;
  if (r != nullptr && t_mutator.critical_depth.load(std::memory_order_relaxed) == 0 &&
      !r->in_blocking_region.load(std::memory_order_relaxed) && !world_stopping()) {
    BlockingScope waking;
    wake_one(s);
  } else {
    wake_one(s);
  }
}

void LibraryThread::wake_one(Signal& s) {
  if (void (*hook)() = wake_hook_.load(std::memory_order_relaxed)) hook();
  s.wake.notify_one();
}

void LibraryThread::stop() {
  if (!started_.load(std::memory_order_acquire)) return;
  Signal& s = signal();
  const auto wait_until_exited = [&] {
    std::unique_lock lock(s.mutex);
    s.stop = true;
    s.wake.notify_one();
    s.exited.wait(lock, [&] { return !s.running; });
  };  // the lock is released before a blocking scope around it ends
  if (t_mutator.record != nullptr) {
    BlockingScope blocked;  // the thread may need a stop of the world to finish its round
    wait_until_exited();
  } else {
    wait_until_exited();
  }
  started_.store(false, std::memory_order_release);
}

void LibraryThread::forget_after_fork() {
  signal_.store(new Signal, std::memory_order_release);
  started_.store(false);
  refusal_reported_.store(false, std::memory_order_relaxed);  // the child reports its own
  registering_.store(0, std::memory_order_relaxed);  // a thread on its way did not come along
}

namespace {
// The OS's name for the thread, which top -H, perf, gdb and /proc/<pid>/task/*/comm show: "gc "
// and the thread's name, cut to the 15 bytes Linux keeps.
void name_os_thread(const char* name) {
  char os_name[16];
  std::snprintf(os_name, sizeof os_name, "gc %s", name);
  ::pthread_setname_np(::pthread_self(), os_name);
}
}  // namespace

void LibraryThread::run(Signal* s) {
  name_os_thread(name_);
  // The C library hands a new thread the cached stack of one that exited, and the frames of this
  // thread, which the collector scans while it waits, would have slots still holding that thread's
  // pointers: an object it made and dropped would stay alive. So the loop runs in frames laid over
  // zeros.
  clear_stack();
  loop(s);
  asm volatile("" ::: "memory");  // not a tail call: loop's frames must lie where clear_stack was
}

bool LibraryThread::wait_for_work(Signal* s) {
  std::unique_lock lock(s->mutex);
  s->wake.wait(lock, [&] { return s->requests != s->served || s->stop; });
  if (s->stop) {
    s->running = false;
    s->exited.notify_all();
    return false;
  }
  s->served = s->requests;
  return true;  // the lock is released here, before a blocking scope around the call ends
}

__attribute__((noinline)) void LibraryThread::loop(Signal* s) {
  t_gc_time.off = true;  // nobody reads this thread's account (base/thread_gc_time.hpp)
  if (kind_ == Kind::kMutator) {
    register_current_thread(name_);
    registering_.fetch_sub(1, std::memory_order_release);
  }
  for (;;) {
    bool more;
    if (kind_ == Kind::kMutator) {
      IdleScope idle;  // its stack is cleared (below), and the next round's work is in a queue
      more = wait_for_work(s);
    } else {
      more = wait_for_work(s);
    }
    if (!more) return;  // a registered thread leaves the registry when it exits
    work_();
    // The round's frames are dead now, and the blocking scope's entry lays its frame over them
    // and saves a copy for the collector to scan: the slots of that frame it never writes would
    // keep what the round left there (an object it made and dropped) alive until the next round.
    clear_stack();
  }
}

}  // namespace gc::detail
