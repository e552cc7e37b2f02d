#include "gc/destructors.hpp"

#include <bit>
#include <cstdio>
#include <exception>

#include "base/bit_count.hpp"
#include "base/check.hpp"
#include "gc/callback_queue.hpp"
#include "gc/sweeper.hpp"
#include "gc/test_hooks.hpp"
#include "heap/central.hpp"
#include "heap/destructor_table.hpp"
#include "heap/object_lookup.hpp"
#include "heap/thread_cache.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/detail/dying_objects.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

namespace {

std::atomic<std::uint64_t> g_deferred_slots{0};

// Destructors between two looks at what the thread allocated (a call, not worth one each).
constexpr unsigned kAssistCheckEvery = 16;

void run_destructor(void* object, const Destructor* destructor) {
  try {
    destructor->one(object);
  } catch (...) {
    report_destructor_exception(object);
  }
}

void drain_destructors();
constinit CallbackQueue<Span, &Span::destructor_next, &Span::destructor_seq,
                        &Span::destructor_queued>
    g_queue("destructors", "destructor", drain_destructors);

// Publishes the zombies of `s` destroyed since the last call (`ran`, cleared): their specials
// first (a destructor may have made a gc::weak or cleanup of its own object), then their
// destroyed bits, after which an owner of the span may free their slots.
void publish_destroyed(Span* s, std::uint64_t* ran) {
  const std::uint32_t words = (s->nelems + 63) / 64;
  CriticalSection critical;
  for (std::uint32_t w = 0; w < words; ++w) {
    if (ran[w] == 0) continue;
    for (std::uint64_t b = s->special_bits[w].load(std::memory_order_acquire) & ran[w]; b != 0;
         b &= b - 1)
      process_specials(s, w * 64 + static_cast<std::uint32_t>(std::countr_zero(b)));
    s->destroyed_bits[w].fetch_or(ran[w], std::memory_order_release);
    ran[w] = 0;
  }
}

// Runs the destructors of every zombie of `s` not destroyed yet, then frees their slots if it may.
// Zombies of the span's own type go in batches (detail/dying_objects.hpp), each ending where the
// one-at-a-time loop would look at what the thread allocated.
void run_span(Span* s) {
  const auto* const uniform =
      reinterpret_cast<const Destructor*>(s->destructor.load(std::memory_order_acquire));
  const std::uint32_t words = (s->nelems + 63) / 64;
  const std::uintptr_t size = object_size(s);
  MutatorState& m = t_mutator;
  std::uint64_t ran[kBitmapWords] = {};
  std::int64_t assisted_at = thread_allocated_bytes();
  unsigned since_check = 0;
  for (std::uint32_t w = 0; w < words; ++w) {
    // Destroyed bits before zombie bits: see the header.
    const std::uint64_t destroyed = s->destroyed_bits[w].load(std::memory_order_acquire);
    std::uint64_t pending = s->zombie_bits[w].load(std::memory_order_acquire) & ~destroyed;
    // The table as the sweeps that found these zombies saw it (their bits were read with acquire):
    // made perhaps since this run began.
    std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
    while (pending != 0) {
      if (table == nullptr && uniform != nullptr && uniform->some != nullptr) {
        // No table: every zombie of the word has the span's own destructor.
        g_queue.note_running_function(reinterpret_cast<const void*>(uniform->one));
        DyingObjects batch;
        batch.hidden_first = ~s->slot_base(w * 64);
        batch.size = size;
        batch.pending = pending;
        batch.budget = kAssistCheckEvery - since_check % kAssistCheckEvery;
        batch.running = g_queue.running_object();
        batch.started = g_queue.started_count();
        uniform->some(batch);
        const std::uint64_t done = pending & ~batch.pending;
        ran[w] |= done;
        since_check += static_cast<unsigned>(count_ones(done));
        pending = batch.pending;
      } else {
        const std::uint32_t bit = static_cast<std::uint32_t>(std::countr_zero(pending));
        pending &= pending - 1;
        const std::uint32_t index = w * 64 + bit;
        const std::uintptr_t object = s->slot_base(index);
        std::uintptr_t entry = 0;
        if (table != nullptr) entry = table[index].load(std::memory_order_acquire);
        const auto* const destructor =
            entry != 0 ? reinterpret_cast<const Destructor*>(entry) : uniform;
        TRICOLOR_DCHECK(destructor != nullptr, "zombie %p has no destructor",
                        reinterpret_cast<void*>(object));
        g_queue.note_running(reinterpret_cast<const void*>(object),
                             reinterpret_cast<const void*>(destructor->one));
        m.dying_lo = object;
        m.dying_size = size;
        run_destructor(reinterpret_cast<void*>(object), destructor);
        // Both go: the thread's MutatorState is thread-local storage, a root, and the address
        // left there would keep whatever is built in the slot next alive, and all it reaches.
        m.dying_size = 0;
        m.dying_lo = 0;
        // The slot's next object may be of the span's own type: published with the destroyed
        // bit.
        if (entry != 0) table[index].store(0, std::memory_order_relaxed);
        ran[w] |= std::uint64_t{1} << bit;
        ++since_check;
        poll_safepoint();
      }
      // Its own garbage, queued since: destroyed first (see the header). What ran so far is
      // published, so that a nested run of this very span skips it; and what the nested runs
      // destroyed is not run again here.
      if (since_check % kAssistCheckEvery == 0 &&
          thread_allocated_bytes() - assisted_at >= kDestructorAssistBytes) {
        publish_destroyed(s, ran);
        if (g_queue.run_queued(run_span)) {
          const std::uint64_t now_destroyed = s->destroyed_bits[w].load(std::memory_order_acquire);
          pending &= s->zombie_bits[w].load(std::memory_order_acquire) & ~now_destroyed;
          table = s->destructors.load(std::memory_order_acquire);
        }
        assisted_at = thread_allocated_bytes();
      }
    }
  }
  publish_destroyed(s, ran);
  std::uint32_t left = 0;
  {
    CriticalSection critical;
    left = central(s->span_class).release_destroyed(s);  // the last access to the span
  }
  if (left != 0) g_deferred_slots.fetch_add(left, std::memory_order_relaxed);
}

// One round of the destructor thread: every span queued, until the queue stays empty.
void drain_destructors() { g_queue.run_all(run_span); }

}  // namespace

void report_destructor_exception(const void* object) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p): %s\n", object, e.what());
  } catch (...) {
    std::fprintf(stderr, "tricolor: a destructor threw (object %p)\n", object);
  }
}

void register_destructor_slow(Span* s, std::uint32_t index, const Destructor* fn) {
  TRICOLOR_DCHECK(index < s->nelems, "destructor registered for slot %u of %u", index, s->nelems);
  TRICOLOR_DCHECK(
      (s->destructor_bits[index / 64].load(std::memory_order_relaxed) >> (index % 64) & 1) == 0,
      "slot %u of span %p already has a destructor", index, reinterpret_cast<void*>(s->base));
#if TRICOLOR_TEST_HOOKS
  if (auto hook = g_destructor_registration_hook.load(std::memory_order_acquire)) {
    CriticalSection critical;  // like the table's own, which a stop may end at a safepoint
    hook();
  }
#endif
  const auto entry = reinterpret_cast<std::uintptr_t>(fn);
  std::uintptr_t first = 0;
  // A second type in this span: its destructor goes in the table.
  if (!s->destructor.compare_exchange_strong(first, entry, std::memory_order_acq_rel) &&
      first != entry)
    destructor_table_of(s)[index].store(entry, std::memory_order_release);
  s->destructor_bits[index / 64].fetch_or(std::uint64_t{1} << (index % 64),
                                          std::memory_order_release);
}

const Destructor* registered_destructor(const Span* s, std::uint32_t index) {
  if ((s->destructor_bits[index / 64].load(std::memory_order_acquire) >> (index % 64) & 1) == 0)
    return nullptr;
  const std::atomic<std::uintptr_t>* table = s->destructors.load(std::memory_order_acquire);
  const std::uintptr_t entry = table != nullptr ? table[index].load(std::memory_order_acquire) : 0;
  return reinterpret_cast<const Destructor*>(
      entry != 0 ? entry : s->destructor.load(std::memory_order_acquire));
}

void queue_zombies(Span* span) {
  // The hold comes first: the thread may take the span as soon as it is linked.
  span->destructor_holds.fetch_add(1, std::memory_order_relaxed);
  if (!g_queue.push(span, span)) span->destructor_holds.fetch_sub(1, std::memory_order_relaxed);
}

void start_destructor_thread() { g_queue.prepare(); }

void restart_destructor_thread_after_fork() { g_queue.restart_after_fork(); }

std::uint64_t deferred_zombie_slots() { return g_deferred_slots.load(std::memory_order_relaxed); }

void wait_for_destructors() { g_queue.wait(); }

}  // namespace gc::detail
