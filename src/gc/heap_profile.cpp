#include "gc/heap_profile.hpp"

#include <atomic>
#include <mutex>
#include <new>

#include "base/fixed_pool.hpp"
#include "base/mutex.hpp"
#include "base/special_table.hpp"
#include "gc/hooks.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/safepoint.hpp"

namespace gc::detail {

namespace {

struct CycleCounts {
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> alloc_bytes{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> free_bytes{0};

  void add_alloc(std::uint64_t bytes) {
    allocs.fetch_add(1, std::memory_order_relaxed);
    alloc_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  void add_free(std::uint64_t bytes) {
    frees.fetch_add(1, std::memory_order_relaxed);
    free_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  // Adds these counts to `into` and clears them.
  void move_to(ProfileCounts& into) {
    into.allocs += allocs.exchange(0, std::memory_order_relaxed);
    into.alloc_bytes += alloc_bytes.exchange(0, std::memory_order_relaxed);
    into.frees += frees.exchange(0, std::memory_order_relaxed);
    into.free_bytes += free_bytes.exchange(0, std::memory_order_relaxed);
  }
};

struct Bucket {
  std::atomic<Bucket*> next_in_chain{nullptr};
  Bucket* next_in_all = nullptr;  // written before the bucket is published, then constant
  std::uint64_t hash = 0;
  std::size_t size = 0;
  std::size_t depth = 0;
  std::uintptr_t stack[kMaxProfileDepth] = {};
  CycleCounts future[3];
  ProfileCounts active;  // under g_publish_mutex
};

// A sampled object: the key of its record in the specials table, and where its free counts.
struct SampleRecord {
  std::uintptr_t base = 0;
  SampleRecord* next = nullptr;
  Bucket* bucket = nullptr;
  std::size_t size = 0;
  std::uint32_t cycle = 0;  // the profile cycle it was allocated in
};

constexpr std::size_t kChains = 4096;
constinit std::atomic<Bucket*> g_chains[kChains] = {};
constinit std::atomic<Bucket*> g_all_buckets{nullptr};
constinit std::atomic<std::size_t> g_bucket_count{0};
constinit Mutex g_insert_mutex{LockRank::kToolbox};
constinit Mutex g_publish_mutex{LockRank::kToolbox};
SpecialTable<SampleRecord> g_records;

// The profile cycle, shifted left by one, with bit 0 set once the cycle has been published. It
// wraps at a multiple of 3, so that `cycle % 3` stays continuous.
constexpr std::uint32_t kCycleWrap = 3u << 24;
constinit std::atomic<std::uint32_t> g_cycle{0};

std::uint32_t current_cycle() { return g_cycle.load(std::memory_order_acquire) >> 1; }

std::uint64_t hash_stack(const std::uintptr_t* stack, std::size_t depth, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ size;
  for (std::size_t i = 0; i < depth; ++i) h = (h ^ stack[i]) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

bool same_key(const Bucket* b, std::uint64_t hash, const std::uintptr_t* stack, std::size_t depth,
              std::size_t size) {
  if (b->hash != hash || b->size != size || b->depth != depth) return false;
  for (std::size_t i = 0; i < depth; ++i)
    if (b->stack[i] != stack[i]) return false;
  return true;
}

Bucket* find_in_chain(Bucket* b, std::uint64_t hash, const std::uintptr_t* stack, std::size_t depth,
                      std::size_t size) {
  for (; b != nullptr; b = b->next_in_chain.load(std::memory_order_acquire))
    if (same_key(b, hash, stack, depth, size)) return b;
  return nullptr;
}

// Inside a critical section.
Bucket* bucket_for(const std::uintptr_t* stack, std::size_t depth, std::size_t size) {
  const std::uint64_t hash = hash_stack(stack, depth, size);
  std::atomic<Bucket*>& chain = g_chains[hash % kChains];
  if (Bucket* b = find_in_chain(chain.load(std::memory_order_acquire), hash, stack, depth, size))
    return b;
  std::lock_guard lock(g_insert_mutex);
  Bucket* head = chain.load(std::memory_order_acquire);
  if (Bucket* b = find_in_chain(head, hash, stack, depth, size)) return b;
  auto* b = ::new (FixedPool<sizeof(Bucket)>::instance().allocate()) Bucket;
  b->hash = hash;
  b->size = size;
  b->depth = depth;
  for (std::size_t i = 0; i < depth; ++i) b->stack[i] = stack[i];
  b->next_in_chain.store(head, std::memory_order_relaxed);
  b->next_in_all = g_all_buckets.load(std::memory_order_relaxed);
  // Counted before it is listed, so that a snapshot never finds more buckets than the count.
  g_bucket_count.fetch_add(1, std::memory_order_release);
  chain.store(b, std::memory_order_release);
  g_all_buckets.store(b, std::memory_order_release);
  return b;
}

// The dead-object hook, inside a critical section: counts the frees of the object's samples.
void free_samples(std::uintptr_t base) {
  SampleRecord* taken = nullptr;
  {
    std::lock_guard lock(g_records.stripe(base));
    g_records.take_all(base, [&](SampleRecord* r) {
      r->next = taken;
      taken = r;
    });
  }
  const std::uint32_t cycle = current_cycle();
  while (taken != nullptr) {
    SampleRecord* r = taken;
    taken = r->next;
    const std::uint32_t slot = r->cycle == cycle ? cycle + 2 : cycle + 1;
    r->bucket->future[slot % 3].add_free(r->size);
    r->~SampleRecord();
    FixedPool<sizeof(SampleRecord)>::instance().deallocate(r);
  }
}

// Under g_publish_mutex: folds cycle slot `slot` of every bucket into its published counts.
void publish_slot(std::uint32_t slot) {
  for (Bucket* b = g_all_buckets.load(std::memory_order_acquire); b != nullptr; b = b->next_in_all)
    b->future[slot % 3].move_to(b->active);
}

}  // namespace

void record_heap_sample(const void* object, std::size_t size, const std::uintptr_t* stack,
                        std::size_t depth) {
  g_hooks.dead_object.add(free_samples);  // before the first special bit
  CriticalSection critical;
  ObjectRef ref;
  if (!find_object(reinterpret_cast<std::uintptr_t>(object), ref)) return;
  Bucket* bucket = bucket_for(stack, depth, size);
  const std::uint32_t cycle = current_cycle();
  bucket->future[(cycle + 2) % 3].add_alloc(size);
  auto* record = ::new (FixedPool<sizeof(SampleRecord)>::instance().allocate()) SampleRecord;
  record->base = ref.base;
  record->bucket = bucket;
  record->size = size;
  record->cycle = cycle;
  std::lock_guard lock(g_records.stripe(ref.base));
  // The bit goes up under the lock, so the sweep that reads it finds the record linked.
  ref.span->set_special(ref.index);
  g_records.link(record);
}

void heap_profile_next_cycle() {
  std::uint32_t value = g_cycle.load(std::memory_order_relaxed);
  std::uint32_t next = 0;
  do {
    next = (((value >> 1) + 1) % kCycleWrap) << 1;
  } while (!g_cycle.compare_exchange_weak(value, next, std::memory_order_acq_rel));
}

void heap_profile_flush() {
  CriticalSection critical;
  std::lock_guard lock(g_publish_mutex);
  const std::uint32_t value = g_cycle.fetch_or(1, std::memory_order_acq_rel);
  if ((value & 1) == 0) publish_slot(value >> 1);
}

void heap_profile_post_sweep() {
  heap_profile_flush();  // the cycle itself first, if after_cycle has not yet published it
  CriticalSection critical;
  std::lock_guard lock(g_publish_mutex);
  publish_slot(current_cycle() + 1);
}

std::vector<ProfileEntry> heap_profile_snapshot() {
  std::vector<ProfileEntry> entries;
  for (;;) {
    entries.resize(g_bucket_count.load(std::memory_order_acquire));
    CriticalSection critical;
    std::lock_guard lock(g_publish_mutex);
    std::size_t n = 0;
    Bucket* b = g_all_buckets.load(std::memory_order_acquire);
    for (; b != nullptr && n < entries.size(); b = b->next_in_all, ++n)
      entries[n] = {b->stack, b->depth, b->size, b->active};
    if (b != nullptr) continue;  // a bucket came since the resize: again, with room for it
    entries.resize(n);
    break;
  }
  return entries;
}

}  // namespace gc::detail
