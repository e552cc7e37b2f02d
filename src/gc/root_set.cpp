#include "gc/root_set.hpp"

#include <atomic>
#include <mutex>
#include <optional>

#include "base/os_memory.hpp"
#include "gc/mark_state.hpp"
#include "gc/marker.hpp"
#include "runtime/known_stacks.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/barrier.hpp"

namespace gc::detail {

namespace {

constexpr std::uintptr_t kEmpty = 0;
constexpr std::uintptr_t kTombstone = 1;  // slot addresses are 8-aligned, never 1
constexpr std::size_t kStripes = 64;

std::uint64_t hash_slot(std::uintptr_t slot) {
  return (static_cast<std::uint64_t>(slot) >> 3) * 0x9E3779B97F4A7C15ull;
}

// Open addressing with linear probing; capacity is a power of two.
class Stripe {
 public:
  // A slot on a known stack is not added: that stack's scan covers it. The test is made under the
  // stripe's lock, which drop_within takes too: a stack that becomes known either is seen here or
  // drops the slot afterwards (runtime/known_stacks.hpp).
  void add(std::uintptr_t slot) {
    std::lock_guard lock(mutex_);
    if (on_known_stack(slot)) return;
    if ((count_ + tombstones_ + 1) * 4 > capacity_ * 3) rehash(count_ * 2 + 16);
    std::size_t i = index_of(slot);
    std::size_t tomb = SIZE_MAX;
    for (;; i = (i + 1) & (capacity_ - 1)) {
      const std::uintptr_t v = table_[i];
      if (v == slot) return;
      if (v == kTombstone && tomb == SIZE_MAX) tomb = i;
      if (v == kEmpty) break;
    }
    if (tomb != SIZE_MAX) {
      i = tomb;
      --tombstones_;
    }
    table_[i] = slot;
    ++count_;
  }

  void remove(std::uintptr_t slot) {
    std::lock_guard lock(mutex_);
    if (capacity_ == 0) return;
    for (std::size_t i = index_of(slot);; i = (i + 1) & (capacity_ - 1)) {
      const std::uintptr_t v = table_[i];
      if (v == kEmpty) return;
      if (v == slot) {
        table_[i] = kTombstone;
        --count_;
        ++tombstones_;
        return;
      }
    }
  }

  // Removes every slot in [lo, hi), calling f on each.
  template <class F>
  void drop_within(std::uintptr_t lo, std::uintptr_t hi, F&& f) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < capacity_; ++i) {
      const std::uintptr_t v = table_[i];
      if (v <= kTombstone || v - lo >= hi - lo) continue;
      f(v);
      table_[i] = kTombstone;
      --count_;
      ++tombstones_;
    }
  }

  template <class F>
  void for_each_locked(F&& f) {
    std::lock_guard lock(mutex_);
    for_each_unlocked(f);
  }

  template <class F>
  void for_each_unlocked(F&& f) const {
    for (std::size_t i = 0; i < capacity_; ++i)
      if (table_[i] > kTombstone) f(table_[i]);
  }

  std::size_t size() const { return count_; }

 private:
  std::size_t index_of(std::uintptr_t slot) const {
    return static_cast<std::size_t>(hash_slot(slot) >> 20) & (capacity_ - 1);
  }

  void rehash(std::size_t wanted) {
    std::size_t capacity = 512;  // a page of slots at least: each table is its own mapping
    while (capacity * 3 < wanted * 4) capacity *= 2;
    // mmap, not new: this runs inside a critical section (base/fixed_pool.hpp explains why).
    std::uintptr_t* old = table_;
    const std::size_t old_capacity = capacity_;
    table_ = static_cast<std::uintptr_t*>(os::map_metadata(capacity * sizeof(std::uintptr_t)));
    if (table_ == nullptr) os::fatal("out of memory for the root set");
    capacity_ = capacity;
    count_ = 0;
    tombstones_ = 0;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      const std::uintptr_t v = old[i];
      if (v <= kTombstone) continue;
      std::size_t j = index_of(v);
      while (table_[j] != kEmpty) j = (j + 1) & (capacity_ - 1);
      table_[j] = v;
      ++count_;
    }
    if (old != nullptr) os::unmap_metadata(old, old_capacity * sizeof(std::uintptr_t));
  }

  RankedMutex<LockRank::kRootSet> mutex_;
  std::uintptr_t* table_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
  std::size_t tombstones_ = 0;
};

Stripe* stripes() {
  static Stripe* all = new Stripe[kStripes];  // never destroyed: globals unregister at exit
  return all;
}

Stripe& stripe_for(std::uintptr_t slot) { return stripes()[hash_slot(slot) >> 58]; }

}  // namespace

void add_root(void* slot) {
  CriticalSection critical;
  const auto s = reinterpret_cast<std::uintptr_t>(slot);
  stripe_for(s).add(s);
}

void remove_root(void* slot) {
  CriticalSection critical;
  const auto s = reinterpret_cast<std::uintptr_t>(slot);
  stripe_for(s).remove(s);
}

void drop_roots_within(std::uintptr_t lo, std::uintptr_t hi) {
  CriticalSection critical;
  std::optional<Marker> marker;
  if (marking()) marker.emplace(Marker::Mode::kMark);
  for (std::size_t i = 0; i < kStripes; ++i) {
    stripes()[i].drop_within(lo, hi, [&](std::uintptr_t slot) {
      // The root pass of the mark in progress may not have read this slot yet, and the stack it is
      // on may count as scanned already (a thread that registers during a mark).
      if (marker)
        marker->shade(std::atomic_ref<std::uintptr_t>(*reinterpret_cast<std::uintptr_t*>(slot))
                          .load(std::memory_order_relaxed));
    });
  }
}

void mark_roots(Marker& marker) {
  for (std::size_t i = 0; i < kStripes; ++i) {
    stripes()[i].for_each_unlocked([&](std::uintptr_t slot) {
      marker.set_root_source("the root slot", slot);
      marker.shade(std::atomic_ref<std::uintptr_t>(*reinterpret_cast<std::uintptr_t*>(slot))
                       .load(std::memory_order_relaxed));
    });
  }
}

void mark_roots_concurrently(Marker& marker) {
  for (std::size_t i = 0; i < kStripes; ++i) {
    stripes()[i].for_each_locked([&](std::uintptr_t slot) {
      marker.shade(std::atomic_ref<std::uintptr_t>(*reinterpret_cast<std::uintptr_t*>(slot))
                       .load(std::memory_order_relaxed));
    });
  }
}

std::size_t root_count() {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kStripes; ++i) n += stripes()[i].size();
  return n;
}

// The out-of-line halves of detail/barrier.hpp's slot registration.
void register_root(void* slot) {
  ensure_registered();  // sets the stack bounds, which may show the slot is on this stack
  if (on_my_stack(slot)) return;
  check_not_in_blocking_region("a gc::ptr made outside the heap and the stack (a root)");
  add_root(slot);
}

void fail_slot_in_pointer_free_object(const void* slot) {
  os::fatal(
      "a gc::ptr was constructed at %p, inside an object that gc::make allocated as pointer-free "
      "(an array of bytes or of a trivially copyable type, or such a type): the collector never "
      "scans those, so what the gc::ptr points to would be freed while it holds it. Allocate the "
      "storage with a type that holds the gc::ptr (gc::make<T>, gc::make<gc::ptr<U>[]>), or use "
      "gc::allocator for containers",
      slot);
}

void unregister_root(void* slot) {
  ensure_registered();
  if (on_my_stack(slot)) return;
  check_not_in_blocking_region("a gc::ptr destroyed outside the heap and the stack (a root)");
  remove_root(slot);
}

}  // namespace gc::detail
