// A table of "specials": records that the sweep must find when an object dies, keyed by the
// object's base address (Go keeps such records, for finalizers and weak handles, on a per-span
// list). gc::weak cells (toolbox/weak_refs.hpp), gc::add_cleanup records (toolbox/cleanups.hpp)
// and heap-profile samples (gc/heap_profile.hpp) each have one; it lives in base so that both the
// toolbox and the collector layer can key records by object.
//
// The table is a fixed array of 65,536 buckets of intrusive chains, mapped on first use (callers
// are inside critical sections, where malloc is off limits), guarded by 64 striped mutexes. An
// object with records has its slot's bit set in its span's `special_bits`, under the stripe's lock,
// so a sweep that sees the bit finds every record linked; the sweep clears the bit when it frees
// or queues the object, and takes the object's records out of the table then.
//
// Every member runs inside a critical section; those that touch a bucket need the stripe's lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "base/mutex.hpp"
#include "base/os_memory.hpp"

namespace gc::detail {

// Record: has `std::uintptr_t base` (the key) and `Record* next` (the chain).
template <class Record>
class SpecialTable {
 public:
  Mutex& stripe(std::uintptr_t base) { return stripes_[bucket_of(base) % kStripes]; }

  // The bucket that chains the records of the object at `base` (public for tests, which look for
  // objects whose records share a chain).
  static std::size_t bucket_of(std::uintptr_t base) {
    return static_cast<std::size_t>(((base >> 3) * 0x9E3779B97F4A7C15ull) >> 48);
  }

  // Under stripe(r->base).
  void link(Record* r) {
    Record*& head = buckets()[bucket_of(r->base)];
    r->next = head;
    head = r;
  }
  // Under stripe(r->base). False if `r` was not linked.
  bool unlink(Record* r) {
    for (Record** p = &buckets()[bucket_of(r->base)]; *p != nullptr; p = &(*p)->next) {
      if (*p == r) {
        *p = r->next;
        return true;
      }
    }
    return false;
  }
  // Under stripe(base): unlinks every record of the object at `base`, calling taken(record).
  template <class F>
  void take_all(std::uintptr_t base, F&& taken) {
    for (Record** p = &buckets()[bucket_of(base)]; *p != nullptr;) {
      Record* r = *p;
      if (r->base != base) {
        p = &r->next;
        continue;
      }
      *p = r->next;
      taken(r);
    }
  }

 private:
  static constexpr std::size_t kBuckets = std::size_t{1} << 16;
  static constexpr std::size_t kStripes = 64;

  Record** buckets() {
    Record** b = buckets_.load(std::memory_order_acquire);
    if (b != nullptr) return b;
    auto* fresh = static_cast<Record**>(os::map_metadata(kBuckets * sizeof(Record*)));
    if (fresh == nullptr) os::fatal("out of memory for the table of weak references and cleanups");
    if (buckets_.compare_exchange_strong(b, fresh, std::memory_order_acq_rel)) return fresh;
    os::unmap_metadata(fresh, kBuckets * sizeof(Record*));
    return b;
  }

  RankedMutex<LockRank::kToolbox> stripes_[kStripes];
  std::atomic<Record**> buckets_{nullptr};
};

}  // namespace gc::detail
