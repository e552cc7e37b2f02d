// The public control and statistics calls of include/tricolor/control.hpp, and gc::ptr's check of
// raw addresses.
#include "tricolor/control.hpp"

#include <iterator>
#include <stdexcept>

#include "base/os_memory.hpp"
#include "base/settings.hpp"
#include "base/thread_gc_time.hpp"
#include "gc/cycle.hpp"
#include "gc/pacer.hpp"
#include "gc/startup.hpp"
#include "gc/trace.hpp"
#include "heap/address_space.hpp"
#include "heap/central.hpp"
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
  std::int64_t previous;
  {
    detail::CriticalSection critical;
    previous = detail::pacer().set_memory_limit(bytes);
    detail::apply_memory_limit();
  }
  // Spans kept empty before the limit (heap/central.hpp) would count against it until their next
  // sweep, where the scavenger cannot return them: they go back now. One that a mark in progress
  // keeps from it goes back at its sweep, which keeps none from now on.
  if (bytes >= 0 && bytes != INT64_MAX) detail::release_kept_empty_spans();
  return previous;
}

void free_os_memory() {
  detail::check_not_in_blocking_region("gc::free_os_memory()");
  detail::ThreadGcTimeScope timed(detail::GcTimeKind::kCollect);
  detail::collect_and_destroy();
  {
    detail::CriticalSection critical;
    detail::page_heap().release_free_pages();
  }
  if (detail::settings().scavtrace) detail::print_scavenger_trace(/*forced=*/true);
}

namespace {

void fill_by_size(stats& s) {
  for (std::size_t c = 1; c < s.by_size.size(); ++c) s.by_size[c].size = detail::kClassToSize[c];
  const std::uintptr_t lo = detail::g_heap.lo.load(std::memory_order_relaxed);
  const std::uintptr_t end = detail::heap_frontier();
  for (std::uintptr_t page = lo; page < end;) {
    const detail::Span* span = detail::span_of(page);
    if (span == nullptr ||
        span->state.load(std::memory_order_acquire) != detail::SpanState::kInUse) {
      page += detail::kPageSize;
      continue;
    }
    const std::uint64_t objects = span->alloc_count.load(std::memory_order_relaxed);
    size_class_stats& entry = s.by_size[detail::span_class_size_class(span->span_class)];
    entry.objects += objects;
    entry.bytes += objects * detail::object_size(span);
    page = span->base + span->npages * detail::kPageSize;
  }
}

cycle_stats public_cycle(const detail::CycleTrace& t) {
  cycle_stats c;
  c.number = t.number;
  c.since_start_ns = t.since_start_ns;
  c.gc_cpu_percent = t.gc_cpu_percent;
  c.mark_start_ns = t.stop_ns;
  c.concurrent_mark_ns = t.mark_ns;
  c.termination_ns = t.termination_ns;
  c.mark_start_cpu_ns = t.stop_cpu_ns;
  c.assist_cpu_ns = t.assist_cpu_ns;
  c.background_cpu_ns = t.background_cpu_ns;
  c.idle_cpu_ns = t.idle_cpu_ns;
  c.marking_threads = t.marking_threads;
  c.termination_cpu_ns = t.termination_cpu_ns;
  c.heap_start = t.heap_start;
  c.heap_end = t.heap_end;
  c.heap_marked = t.heap_marked;
  c.goal = t.goal;
  c.stack_bytes = t.stack_bytes;
  c.roots = t.roots;
  c.threads = t.threads;
  c.forced = t.forced;
  return c;
}

// With the world stopped: the numbers after Go's runtime/metrics.
void fill_metrics(const detail::CycleTotals& totals, stats& s) {
  s.heap_live = static_cast<std::uint64_t>(totals.last.heap_marked);
  s.gc_pause_cpu_ns = totals.pause_cpu_ns;
  s.gc_assist_cpu_ns = totals.assist_cpu_ns;
  s.gc_background_cpu_ns = totals.background_cpu_ns;
  s.gc_idle_cpu_ns = totals.idle_cpu_ns;
  s.gc_total_cpu_ns = totals.total_cpu_ns;
  s.pause_histogram = totals.pause_histogram;
  s.heap_scavenged_total = detail::page_heap().released_total_bytes();
  s.last_cycle = public_cycle(totals.last);
  fill_by_size(s);
}

}  // namespace

thread_gc_time this_thread_gc_time() {
  constexpr std::size_t kKinds = static_cast<std::size_t>(detail::GcTimeKind::kCount);
  static_assert(std::size(thread_gc_time::kFields) == kKinds,
                "thread_gc_time::kFields lists one field per GcTimeKind, in the same order");
  const detail::GcTimeTotals ns = detail::read_thread_gc_time();
  thread_gc_time t;
  for (std::size_t kind = 0; kind < kKinds; ++kind) t.*thread_gc_time::kFields[kind] = ns[kind];
  return t;
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
        fill_metrics(totals, s);
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
