#include "gc/callback_queue.hpp"

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace gc::detail {

void report_callback_stall(const char* kind, long long waited, const void* object,
                           const void* function) {
  // Outside critical sections (the waiter is in a blocking scope): stdio and malloc are fine.
  const char* name = nullptr;
  char* demangled = nullptr;
  Dl_info info{};
  if (function != nullptr && ::dladdr(function, &info) != 0 && info.dli_sname != nullptr) {
    int status = 0;
    demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    name = status == 0 && demangled != nullptr ? demangled : info.dli_sname;
  }
  char what[512] = "";
  if (function != nullptr)
    std::snprintf(what, sizeof what, " (function %p%s%s)", function, name != nullptr ? ", " : "",
                  name != nullptr ? name : "");
  std::fprintf(stderr,
               "tricolor: gc::collect() has waited %llds for the %s of object %p%s to finish. A %s "
               "that waits for something the caller of gc::collect() holds (a lock, a thread to "
               "join) never finishes: see \"Destructors\" in the user guide.\n",
               waited, kind, object, what, kind);
  std::free(demangled);
}

}  // namespace gc::detail
