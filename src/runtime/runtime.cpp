#include "runtime/runtime.hpp"

#include <mutex>

#include "gc/pacer.hpp"
#include "gc/root_set.hpp"
#include "heap/address_space.hpp"
#include "heap/page_heap.hpp"
#include "runtime/fork.hpp"
#include "runtime/settings.hpp"
#include "runtime/stop_the_world.hpp"

namespace gc::detail {

void ensure_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    const Settings& s = settings();
    init_address_space();
    // Singletons that allocate when first used are created here, outside any critical section
    // (heap/fixed_pool.hpp says why that matters).
    page_heap();
    root_count();
    install_stop_signal(s.stop_signal);
    install_fork_handlers();
    pacer().configure(s.gc_percent, s.memory_limit);
  });
}

}  // namespace gc::detail
