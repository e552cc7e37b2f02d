#include "toolbox/cleanups.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>

#include "base/special_table.hpp"
#include "gc/callback_queue.hpp"
#include "gc/hooks.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "toolbox/specials.hpp"
#include "tricolor/cleanup.hpp"

namespace gc::detail {

namespace {

struct CleanupRecord {
  std::uintptr_t base = 0;        // the object's base: the key in the table
  CleanupRecord* next = nullptr;  // in its bucket, then in the ready queue
  std::uint64_t ready_seq = 0;    // the ready queue's
  bool ready_queued = false;
  std::function<void()> fn;
};

SpecialTable<CleanupRecord> g_records;

void run_cleanup(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tricolor: a cleanup threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "tricolor: a cleanup threw an exception that is not a std::exception\n");
  }
}

void drain_ready_cleanups();
constinit CallbackQueue<CleanupRecord, &CleanupRecord::next, &CleanupRecord::ready_seq,
                        &CleanupRecord::ready_queued>
    g_ready("cleanups", "cleanup", drain_ready_cleanups);

// One round of the cleanup thread: run everything queued, until the queue stays empty.
void drain_ready_cleanups() {
  g_ready.run_all([](CleanupRecord* r) {
    g_ready.note_running(reinterpret_cast<const void*>(r->base), nullptr);
    run_cleanup(r->fn);
    delete r;  // outside any critical section: frees what the function held
  });
}

}  // namespace

void add_cleanup(const void* object, std::function<void()> fn) {
  ensure_registered();
  ensure_specials_hook();
  g_hooks.fork_child.add(restart_cleanup_thread_after_fork);
  auto record = std::make_unique<CleanupRecord>();
  record->fn = std::move(fn);
  // Throws if the OS refuses the cleanup thread; collect() waits for cleanups only once it runs.
  g_ready.prepare();
  g_hooks.collect_waits.add(wait_for_cleanups);
  bool linked = false;
  {
    CriticalSection critical;
    ObjectRef ref;
    if (find_object(reinterpret_cast<std::uintptr_t>(object), ref)) {
      record->base = ref.base;
      std::lock_guard lock(g_records.stripe(ref.base));
      // The bit goes up under the lock, so the sweep that reads it finds the record linked.
      ref.span->set_special(ref.index);
      g_records.link(record.release());
      linked = true;
    }
  }
  if (!linked)
    throw std::invalid_argument("gc::add_cleanup: the object is not a live managed object");
}

void queue_cleanups(std::uintptr_t base) {
  CleanupRecord* taken = nullptr;
  CleanupRecord* last = nullptr;
  {
    std::lock_guard lock(g_records.stripe(base));
    g_records.take_all(base, [&](CleanupRecord* r) {
      r->next = nullptr;
      (last == nullptr ? taken : last->next) = r;
      last = r;
    });
  }
  if (taken != nullptr) g_ready.push(taken, last);  // prepared by add_cleanup
}

void wait_for_cleanups() { g_ready.wait(); }

void restart_cleanup_thread_after_fork() { g_ready.restart_after_fork(); }

}  // namespace gc::detail
