#include "gc/startup.hpp"

#include <mutex>

#include "base/cpus.hpp"
#include "base/settings.hpp"
#include "gc/cycle.hpp"
#include "gc/cycle_stats.hpp"
#include "gc/destructors.hpp"
#include "gc/fork.hpp"
#include "gc/pacer.hpp"
#include "gc/root_set.hpp"
#include "gc/write_barrier.hpp"
#include "heap/address_space.hpp"
#include "heap/page_heap.hpp"
#include "heap/thread_cache.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/stop_the_world.hpp"

namespace gc::detail {

void ensure_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    library_start_ns();  // the origin of gctrace's times
    const Settings& s = settings();
    init_address_space();
    // Singletons that allocate when first used are created here, outside any critical section
    // (base/fixed_pool.hpp says why that matters).
    page_heap();
    root_count();
    // Read on the first registering thread, not on the first cycle's, which may be a fiber's small
    // stack or a signal handler's, or, with its controller refused, hold the world stopped.
    cpu_count();
    install_stop_signal(s.stop_signal);
    install_fork_handlers();
    pacer().configure(s.gc_percent, s.memory_limit);
    apply_memory_limit();
  });
  // Outside the call_once (it starts a thread, which registers itself and so comes back here), and
  // before any sweep can queue a destructor.
  start_destructor_thread();
}

void release_exiting_thread(ThreadRecord* r) {
  flush_thread_cache(*r->mutator);
  CriticalSection critical;
  flush_barrier_buffer(r);
}

void release_vanished_thread(ThreadRecord* r) { flush_thread_cache(*r->mutator); }

}  // namespace gc::detail
