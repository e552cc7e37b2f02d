// Boehm's collector as a peer in the tree benchmarks: the header with thread support, and the
// per-thread registration its threaded runs need. Only included when libgc-dev was found.
#pragma once

#if TRICOLOR_HAVE_BOEHM
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1  // threads are registered explicitly (GC_register_my_thread)
#include <gc/gc.h>

namespace bench {

// Registers the calling thread with Boehm's collector for its lifetime (the main thread is
// registered by GC_INIT).
struct BoehmThreadScope {
  bool registered = false;
  BoehmThreadScope() {
    GC_stack_base sb;
    if (GC_get_stack_base(&sb) == GC_SUCCESS) registered = GC_register_my_thread(&sb) == GC_SUCCESS;
  }
  ~BoehmThreadScope() {
    if (registered) GC_unregister_my_thread();
  }
  BoehmThreadScope(const BoehmThreadScope&) = delete;
  BoehmThreadScope& operator=(const BoehmThreadScope&) = delete;
};

// Once, before the first allocation.
inline void boehm_setup() {
  GC_INIT();
  GC_allow_register_threads();
}

}  // namespace bench
#endif
