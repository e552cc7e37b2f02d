// The public control and statistics calls of include/tricolor/control.hpp, and gc::ptr's check of
// raw addresses.
#include "tricolor/control.hpp"

#include <stdexcept>

#include "base/os_memory.hpp"
#include "base/settings.hpp"
#include "gc/cycle.hpp"
#include "gc/pacer.hpp"
#include "gc/startup.hpp"
#include "gc/trace.hpp"
#include "heap/heap_counters.hpp"
#include "heap/object_lookup.hpp"
#include "heap/page_heap.hpp"
#include "runtime/clear_stack.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/ptr.hpp"

namespace gc {

namespace detail {
namespace {

// Stale words below the caller's frame would keep dead objects alive (runtime/clear_stack.hpp):
// this function has no frame of its own, so the collection's frames lie over cleared stack.
[[gnu::noinline]] void clear_and_collect() {
  clear_dead_stack();
  collect_and_destroy();  // a tail call
}

}  // namespace
}  // namespace detail

void collect() {
  detail::check_not_in_blocking_region("gc::collect()");
  // Registered first, so that the clearing knows where the stack ends.
  detail::ensure_registered();
  detail::clear_and_collect();  // a tail call: what this frame left lies below, and is cleared
}

// The pacer's lock is taken inside a critical section, like every library lock, so that no thread
// is ever stopped (or left behind by fork) while holding it.
int set_percent(int percent) {
  detail::ensure_runtime();
  detail::CriticalSection critical;
  return detail::pacer().set_percent(percent);
}

std::int64_t set_memory_limit(std::int64_t bytes) {
  detail::ensure_runtime();
  detail::CriticalSection critical;
  return detail::pacer().set_memory_limit(bytes);
}

void free_os_memory() {
  detail::check_not_in_blocking_region("gc::free_os_memory()");
  detail::collect_and_destroy();
  {
    detail::CriticalSection critical;
    detail::page_heap().release_free_pages();
  }
  if (detail::settings().scavtrace) detail::print_scavenger_trace(/*forced=*/true);
}

stats read_stats() {
  detail::check_not_in_blocking_region("gc::read_stats()");  // it stops the world
  stats result;
  detail::snapshot_with_world_stopped(
      [](const detail::CycleTotals& totals, void* context) {
        stats& s = *static_cast<stats*>(context);
        const auto& c = detail::g_counters;
        s.heap_alloc = static_cast<std::uint64_t>(c.heap_alloc.load(std::memory_order_relaxed));
        s.total_alloc = static_cast<std::uint64_t>(c.total_alloc.load(std::memory_order_relaxed));
        s.mallocs = static_cast<std::uint64_t>(c.mallocs.load(std::memory_order_relaxed));
        s.frees = static_cast<std::uint64_t>(c.frees.load(std::memory_order_relaxed));
        s.heap_inuse = detail::page_heap().inuse_bytes();
        s.heap_idle = detail::page_heap().idle_bytes();
        s.heap_released = detail::page_heap().released_bytes();
        // The page heap's pages and the arena chunks not retired: the rest of the committed range
        // is retired arena chunks, given back to the OS.
        s.heap_sys =
            s.heap_inuse + s.heap_idle + detail::os::ready_bytes(detail::os::Account::kArena);
        s.metadata_sys = detail::os::ready_bytes(detail::os::Account::kMetadata);
        s.sys = s.heap_sys + s.metadata_sys;
        const std::int64_t goal = detail::pacer().goal();
        s.next_gc = goal == INT64_MAX ? 0 : static_cast<std::uint64_t>(goal);
        s.num_gc = totals.num_gc;
        s.num_forced_gc = totals.num_forced_gc;
        s.pause_total_ns = totals.pause_total_ns;
        s.pause_max_ns = totals.pause_max_ns;
        s.last_gc_unix_ns = totals.last_gc_unix_ns;
        s.pause_ns = totals.pause_ns;
        s.gc_cpu_fraction = totals.gc_cpu_fraction;
      },
      &result);
  return result;
}

// A tail call: enter_blocking saves the registers of the frame that calls it, which must be the
// user's, since that frame lasts for the whole region.
blocking_region::blocking_region() { detail::enter_blocking(/*user_region=*/true); }
blocking_region::~blocking_region() { detail::leave_blocking(); }

namespace detail {

void check_managed(const void* p) {
  if (p == nullptr) return;
  ObjectRef object;
  if (!find_object(reinterpret_cast<std::uintptr_t>(p), object))
    throw std::invalid_argument("gc::ptr: the address is not inside a live managed object");
}

}  // namespace detail
}  // namespace gc
