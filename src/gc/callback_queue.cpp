#include "gc/callback_queue.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/symbols.hpp"

namespace gc::detail {

void report_callback_stall(const char* kind, long long waited, const void* object,
                           const void* function) {
  // Outside critical sections (the waiter is in a blocking scope): stdio and malloc are fine.
  const std::string name =
      function != nullptr ? symbol_at(reinterpret_cast<std::uintptr_t>(function)).name : "";
  char what[512] = "";
  if (function != nullptr)
    std::snprintf(what, sizeof what, " (function %p%s%s)", function, name.empty() ? "" : ", ",
                  name.c_str());
  std::fprintf(stderr,
               "tricolor: gc::collect() has waited %llds for the %s of object %p%s to finish. A %s "
               "that waits for something the caller of gc::collect() holds (a lock, a thread to "
               "join) never finishes: see \"Destructors\" in the user guide.\n",
               waited, kind, object, what, kind);
}

}  // namespace gc::detail
