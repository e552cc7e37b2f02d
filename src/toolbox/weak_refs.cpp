#include "toolbox/weak_refs.hpp"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "base/fixed_pool.hpp"
#include "base/special_table.hpp"
#include "gc/mark_state.hpp"
#include "gc/sweeper.hpp"
#include "gc/write_barrier.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "toolbox/specials.hpp"

namespace gc::detail {

struct WeakCell {
  std::atomic<std::uintptr_t> target{0};  // the address the gc::weak was made from; 0 once dead
  std::uintptr_t base = 0;                // the object's base: the key in the table
  WeakCell* next = nullptr;               // in its bucket, while linked
  bool linked = false;
};

namespace {
SpecialTable<WeakCell> g_cells;
}  // namespace

WeakCell* weak_register(const void* target) {
  ensure_registered();
  ensure_specials_hook();
  WeakCell* cell = nullptr;
  {
    CriticalSection critical;
    ObjectRef object;
    if (find_object(reinterpret_cast<std::uintptr_t>(target), object)) {
      cell = ::new (FixedPool<sizeof(WeakCell)>::instance().allocate()) WeakCell;
      cell->target.store(reinterpret_cast<std::uintptr_t>(target), std::memory_order_relaxed);
      cell->base = object.base;
      std::lock_guard lock(g_cells.stripe(object.base));
      // The bit goes up under the lock, so the sweep that reads it finds the cell linked.
      object.span->set_special(object.index);
      g_cells.link(cell);
      cell->linked = true;
    }
  }
  // Thrown outside the section: throwing allocates.
  if (cell == nullptr)
    throw std::invalid_argument("gc::weak: the object is not a live managed object");
  return cell;
}

void weak_unregister(WeakCell* cell) noexcept {
  CriticalSection critical;
  {
    std::lock_guard lock(g_cells.stripe(cell->base));
    if (cell->linked) g_cells.unlink(cell);
  }
  cell->~WeakCell();
  FixedPool<sizeof(WeakCell)>::instance().deallocate(cell);
}

void clear_weak_refs(std::uintptr_t base) {
  std::lock_guard lock(g_cells.stripe(base));
  g_cells.take_all(base, [](WeakCell* cell) {
    cell->target.store(0, std::memory_order_relaxed);
    cell->linked = false;
  });
}

void* weak_lock(WeakCell* cell) noexcept {
  ThreadRecord* self = ensure_registered();
  CriticalSection critical;
  Mutex& stripe = g_cells.stripe(cell->base);
  for (;;) {
    {
      // Under the stripe's lock the object's span cannot be freed: if the object is dead, its
      // sweep must clear this cell first, and that takes the same lock.
      std::lock_guard lock(stripe);
      const std::uintptr_t target = cell->target.load(std::memory_order_relaxed);
      if (target == 0) return nullptr;
      if (marking()) {
        // Nothing is swept during a mark, so the object was not found dead; the caller may store
        // it where the mark has looked already: shade it.
        shade_for_barrier(self, target);
        return reinterpret_cast<void*>(target);
      }
      Span* s = span_of(target);
      const std::uint32_t sweepgen = g_sweepgen.load(std::memory_order_acquire);
      const std::uint32_t before = s->sweepgen.load(std::memory_order_acquire);
      if (before == sweepgen) return reinterpret_cast<void*>(target);  // swept: the cell is exact
      if (before != sweepgen - 1) {
        // Not swept since the last mark: its bits decide, unless a sweep begins meanwhile. The
        // sweep claims the span (sweepgen) before it rewrites these words, with release stores,
        // and they are read with acquire: if any read sees the sweep's work, the sweepgen read
        // after it sees the claim, and the decision is taken again.
        const std::uint32_t index = s->nelems == 1 ? 0 : s->slot_index(target);
        const std::uint64_t bit = std::uint64_t{1} << (index % 64);
        const bool marked = (s->mark_bits[index / 64].load(std::memory_order_acquire) & bit) != 0;
        const bool free_at_mark =
            (s->alloc_bits[index / 64].load(std::memory_order_acquire) & bit) == 0;
        const std::uint32_t mark_free_index = s->mark_free_index.load(std::memory_order_acquire);
        const std::uint32_t free_index = s->free_index.load(std::memory_order_acquire);
        const bool black = index >= mark_free_index && index < free_index && free_at_mark;
        if (s->sweepgen.load(std::memory_order_acquire) == before)
          return marked || black ? reinterpret_cast<void*>(target) : nullptr;
      }
    }
    // The span is being swept: let the sweep finish (it may need this stripe's lock).
    std::this_thread::yield();
  }
}

}  // namespace gc::detail
