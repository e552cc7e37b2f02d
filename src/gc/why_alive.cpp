// gc::why_alive (why_alive.hpp says how it works and what it costs).
#include "gc/why_alive.hpp"

#include <unwind.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/check.hpp"
#include "base/os_memory.hpp"
#include "base/symbols.hpp"
#include "gc/checkmark_bits.hpp"
#include "gc/cycle.hpp"
#include "gc/destructors.hpp"
#include "gc/hooks.hpp"
#include "gc/mark_stack.hpp"
#include "gc/marker.hpp"
#include "gc/stopped_mark.hpp"
#include "heap/object_lookup.hpp"
#include "runtime/clear_stack.hpp"
#include "runtime/safepoint.hpp"
#include "runtime/thread_registry.hpp"
#include "tricolor/inspect.hpp"

namespace gc::detail {

namespace {

constexpr std::size_t kFirstCapacity = std::size_t{1} << 16;
constexpr std::size_t kStringSpace = std::size_t{4} << 20;  // lazily backed

std::size_t hash_of(std::uintptr_t object) { return (object >> 4) * 0x9E3779B97F4A7C15ull >> 20; }

PathRecorder::Entry* map_entries(std::size_t capacity) {
  void* p = os::map_table(capacity * sizeof(PathRecorder::Entry));
  if (p == nullptr)
    os::fatal("gc::why_alive: out of memory for the table of %zu objects", capacity);
  return static_cast<PathRecorder::Entry*>(p);
}

}  // namespace

PathRecorder::PathRecorder()
    : table_(map_entries(kFirstCapacity)),
      capacity_(kFirstCapacity),
      strings_(static_cast<char*>(os::map_table(kStringSpace))) {
  if (strings_ == nullptr) os::fatal("gc::why_alive: out of memory for root descriptions");
}

PathRecorder::~PathRecorder() {
  os::unmap(table_, capacity_ * sizeof(Entry));
  os::unmap(strings_, kStringSpace);
}

void PathRecorder::grow() {
  Entry* old = table_;
  const std::size_t old_capacity = capacity_;
  capacity_ *= 2;
  table_ = map_entries(capacity_);
  for (std::size_t i = 0; i < old_capacity; ++i) {
    if (old[i].object == 0) continue;
    std::size_t at = hash_of(old[i].object) & (capacity_ - 1);
    while (table_[at].object != 0) at = (at + 1) & (capacity_ - 1);
    table_[at] = old[i];
  }
  os::unmap(old, old_capacity * sizeof(Entry));
}

// Descriptions come in runs (every word of one stack shares one), so only a change is stored.
std::uint32_t PathRecorder::intern(const char* what) {
  if (std::strcmp(strings_ + last_what_, what) == 0) return last_what_;
  const std::size_t length = std::strlen(what) + 1;
  if (strings_used_ + length > kStringSpace) return 0;
  std::memcpy(strings_ + strings_used_, what, length);
  last_what_ = static_cast<std::uint32_t>(strings_used_);
  strings_used_ += length;
  return last_what_;
}

void PathRecorder::reached(std::uintptr_t object, std::uintptr_t parent, std::uintptr_t where,
                           const char* what) {
  if (2 * (count_ + 1) > capacity_) grow();
  std::size_t at = hash_of(object) & (capacity_ - 1);
  while (table_[at].object != 0) {
    TRICOLOR_CHECK(table_[at].object != object, "gc::why_alive reached %p twice",
                   reinterpret_cast<void*>(object));
    at = (at + 1) & (capacity_ - 1);
  }
  table_[at] = Entry{object, parent, where, parent == 0 ? intern(what) : 0};
  ++count_;
}

const PathRecorder::Entry* PathRecorder::find(std::uintptr_t object) const {
  for (std::size_t at = hash_of(object) & (capacity_ - 1); table_[at].object != 0;
       at = (at + 1) & (capacity_ - 1)) {
    if (table_[at].object == object) return &table_[at];
  }
  return nullptr;
}

namespace {

// Marks from the roots into the recorder with the world stopped; returns the base of the object
// that `asked` points into if the mark reached it, else 0. The caller holds the cycle lock.
std::uintptr_t trace_stopped(std::uintptr_t asked, ThreadRecord* self, const StackExtent& extent,
                             PathRecorder& recorder) {
  WorldStopped world = stop_the_world();
  {
    const CheckmarkBits checkmarks(world);
    Marker marker(Marker::Mode::kPath, &recorder);
    marker.ignore_word_within(asked, extent.sp, self->stack_hi);
    mark_from_roots_stopped(world, marker, self, extent);
    marker.drain();
  }
  ObjectRef object;
  const bool reached = find_object(asked, object) && recorder.find(object.base) != nullptr;
  start_the_world(std::move(world));
  trim_mark_chunk_spares();  // as a cycle's end does: this mark may be the last for a long time
  return reached ? object.base : 0;
}

// Spills the caller's callee-saved registers into this frame and traces with the calling thread's
// stack scanned from here up: what the caller holds is seen.
__attribute__((noinline)) std::uintptr_t trace(std::uintptr_t asked, ThreadRecord* self,
                                               PathRecorder& recorder) {
  __builtin_unwind_init();
  const StackExtent extent = locate_stacks(self, current_stack_pointer());
  const std::uintptr_t found = trace_stopped(asked, self, extent, recorder);
  asm volatile("" ::: "memory");  // not a tail call: this frame must outlive the trace
  return found;
}

// One object of the route, root side first.
struct Hop {
  std::uintptr_t object;
  std::size_t size;
  const Destructor* destructor;
  std::uintptr_t where;  // the word that reached it: a root's, or a slot of the previous hop
};

struct Route {
  std::string root;  // the root's description, as the marker named it
  std::vector<Hop> hops;
};

// Reads the route back, object by object; the cycle lock keeps them all allocated.
Route read_route(const PathRecorder& recorder, std::uintptr_t target) {
  Route route;
  for (const PathRecorder::Entry* e = recorder.find(target); e != nullptr;
       e = e->parent == 0 ? nullptr : recorder.find(e->parent)) {
    Span* s = span_of(e->object);
    const std::uint32_t index = s->nelems == 1 ? 0 : s->slot_index(e->object);
    route.hops.push_back(Hop{e->object, object_size(s), registered_destructor(s, index), e->where});
    if (e->parent == 0) route.root = recorder.description(e->what);
  }
  return {std::move(route.root), std::vector<Hop>(route.hops.rbegin(), route.hops.rend())};
}

std::string hex(std::uintptr_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "%#lx", static_cast<unsigned long>(v));
  return text;
}

// The frames of the calling thread, innermost first: the instruction each will return to, and the
// stack pointer it had when it made its call (what libgcc's unwinder reports as the CFA of the
// frame it is unwinding from), so that frame k spans [frames[k].bottom, frames[k + 1].bottom).
struct Frame {
  std::uintptr_t bottom;
  std::uintptr_t ip;
};

_Unwind_Reason_Code note_frame(_Unwind_Context* context, void* data) {
  auto* frames = static_cast<std::vector<Frame>*>(data);
  frames->push_back(Frame{_Unwind_GetCFA(context), _Unwind_GetIP(context)});
  return frames->size() < 512 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

// Where the word at `where` on the calling thread's stack belongs: the frame of a function, or the
// registers gc::why_alive saved below its own frame.
std::string place_on_own_stack(const std::vector<Frame>& frames, std::uintptr_t where) {
  if (frames.empty() || where < frames.front().bottom)
    return "in a register of its callers (saved by gc::why_alive)";
  std::size_t k = 0;
  while (k + 1 < frames.size() && frames[k + 1].bottom <= where) ++k;
  const SymbolName symbol = symbol_at(frames[k].ip - 1);
  return "in the frame of " + (symbol.name.empty()
                                   ? "a function with no symbol, returning to " + hex(frames[k].ip)
                                   : symbol.name);
}

std::string describe_root(const std::string& what, std::uintptr_t where, const ThreadRecord* self,
                          const std::vector<Frame>& frames) {
  if (what == "the root slot") {
    if (const char* owner = g_hooks.root_owner.first(where))
      return "a gc::ptr in " + std::string(owner) + ", at " + hex(where);
    const SymbolName symbol = symbol_at(where);
    if (!symbol.name.empty()) {
      std::string global = "the global " + symbol.name;
      if (symbol.offset != 0) global += " (at +" + std::to_string(symbol.offset) + ")";
      return global + ", at " + hex(where);
    }
    return "a gc::ptr registered as a root at " + hex(where) +
           " (in memory from malloc, mmap or another allocator)";
  }
  if (what == "the arena slot") return "a gc::ptr in a gc::arena, at " + hex(where);
  if (what == "the tiny block of thread")
    return "the tiny-object block of thread " + std::to_string(where);
  if (what == "a suspended stack")
    return "a suspended stack (a gc::fiber's, or a thread's own while it runs a fiber), word at " +
           hex(where);
  if (where - self->stack_lo < self->stack_hi - self->stack_lo)
    return "the stack of the calling thread " + std::to_string(self->tid) + " (" + self->name +
           "), " + place_on_own_stack(frames, where) + ", word at " + hex(where);
  return what + ", word at " + hex(where);
}

// "Node" for an object that gc::make<Node> made, "Node[]" for gc::make<Node[]>; otherwise the
// destructor's own name, or nothing for an object without one.
std::string type_name(const Destructor* destructor) {
  if (destructor == nullptr) return {};
  const std::string name = symbol_at(reinterpret_cast<std::uintptr_t>(destructor->one)).name;
  for (const char* maker : {"destroy_object<", "destroy_array<"}) {
    const std::size_t at = name.find(maker);
    if (at == std::string::npos) continue;
    const std::size_t first = at + std::strlen(maker);
    std::size_t depth = 1, i = first;
    for (; i < name.size() && depth != 0; ++i)
      depth += name[i] == '<' ? 1 : name[i] == '>' ? -1 : 0;
    if (depth != 0) break;
    return name.substr(first, i - 1 - first) + (maker[8] == 'a' ? "[]" : "");
  }
  return name.empty() ? std::string{} : "destroyed by " + name;
}

std::string describe_object(const Hop& hop) {
  const std::string type = type_name(hop.destructor);
  return hex(hop.object) + " (" + (type.empty() ? "" : type + ", ") + std::to_string(hop.size) +
         " bytes)";
}

std::string put_into_words(const Route& route, std::uintptr_t asked, const ThreadRecord* self,
                           const std::vector<Frame>& frames) {
  std::string text = "root: " + describe_root(route.root, route.hops.front().where, self, frames);
  constexpr std::size_t kShownAtEachEnd = 100;
  for (std::size_t i = 0; i < route.hops.size(); ++i) {
    if (route.hops.size() > 2 * kShownAtEachEnd && i == kShownAtEachEnd) {
      text += "\n  ... " + std::to_string(route.hops.size() - 2 * kShownAtEachEnd) +
              " more objects ...";
      i = route.hops.size() - kShownAtEachEnd;
    }
    const Hop& hop = route.hops[i];
    text += "\n  -> " + describe_object(hop);
    if (i > 0)
      text += " via the gc::ptr at +" + std::to_string(hop.where - route.hops[i - 1].object) +
              " of the object before";
  }
  const Hop& target = route.hops.back();
  text += asked == target.object ? "\n  the object asked about is the last one"
                                 : "\n  the address asked about is +" +
                                       std::to_string(asked - target.object) + " into the last one";
  return text;
}

// The whole answer: its frames lie below the cleared stack, so no slot of theirs that is read
// before it is written holds a stale address.
__attribute__((noinline)) std::string explain(std::uintptr_t asked) {
  ThreadRecord* self = t_mutator.record;
  PathRecorder recorder;
  auto lock = lock_cycle_between_marks();
  const std::uintptr_t target = trace(asked, self, recorder);
  if (target == 0) return {};
  const Route route = read_route(recorder, target);
  lock.unlock();
  std::vector<Frame> frames;
  _Unwind_Backtrace(note_frame, &frames);
  return put_into_words(route, asked, self, frames);
}

// Stale words below the caller's frame would be read as roots (runtime/clear_stack.hpp): this
// function has no frame of its own, so explain()'s frames lie over cleared stack.
__attribute__((noinline)) std::string clear_and_explain(std::uintptr_t asked) {
  clear_dead_stack();
  return explain(asked);  // a tail call
}

}  // namespace

}  // namespace gc::detail

namespace gc {

std::string why_alive(const void* p) {
  detail::check_not_in_blocking_region("gc::why_alive");
  detail::ensure_registered();  // first, so that the clearing knows where the stack ends
  if (p == nullptr) return {};
  return detail::clear_and_explain(reinterpret_cast<std::uintptr_t>(p));
}

}  // namespace gc
