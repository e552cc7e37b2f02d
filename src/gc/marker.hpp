// The marker: greys what the roots reach and blackens grey objects until no grey is left.
//
// shade(word) is the one entry point for anything that might be a pointer: a stack word, a root
// slot, a slot of a heap object, a value the write barrier saw. It resolves the word to the object
// it points into (interior pointers included, in O(1) through the span table and the span's
// division magic), ignores words that point nowhere, into free pages or at free slots, and sets
// the object's mark bit. An object whose bit this call set is grey: pushed on the marker's work
// list, or its span pushed (small objects, below), unless its span is noscan. An object allocated
// since mark start is black already (mark_state.hpp) and is left alone.
//
// Blackening an object scans exactly its gc::ptr slots, found through the pointer bitmap; words
// without a bit are never read. Stacks, by contrast, are scanned conservatively: every aligned
// word. Slots are read with relaxed atomic loads, because mutators write them concurrently.
//
// Many markers run at once during a concurrent mark: the mark workers, mutators scanning their own
// stacks or flushing barrier buffers, and mark assists. Each keeps its work private and shares it
// through the grey queue (mark_queue.hpp); its totals reach g_mark when it is destroyed. A marker
// is busy for its whole life, so mark termination never overlooks its private work.
//
// The same marker runs the gccheckmark verification (stopped_mark.cpp) with the world stopped, into
// the checkmark bits (checkmark_bits.hpp): it aborts with a report at the first object it reaches
// through a root slot or a heap slot that the real mark left white, naming where it read the
// pointer. A word on a stack that leads to a white object is not an error: a frame pushed after its
// thread's stack scan may hold stale words from frames that died before it, which conservative
// scanning cannot tell from pointers; the verifier does not trace through such an object.
//
// Small objects are marked by span (kMark only; Go 1.25's "Green Tea" marker): a span of objects
// of at most 512 bytes with slots is queued, not the object, and a marker that takes it scans
// every object of it whose mark bit is set and whose scanned bit is not, in address order
// (scan_span). A span is on at most one work list at a time: its `mark_queued` flag leaves idle
// when it is queued and returns to idle when a marker takes it, before that marker reads the mark
// bits. Shading sets the mark bit (a locked instruction) and then reads the flag; both sides order
// their two accesses with sequential consistency, so either the shading marker sees the flag idle
// and queues the span again, or the scan reads the new mark bit. Markers that scan the same span at
// once (queued again while it was scanned) split its grey objects by the scanned bits, taken with
// one fetch_or a word. Where objects have several parents, or were allocated together, a span comes
// off the list with many grey objects, which are scanned in one pass over memory rather than one
// queue entry each (docs/design.md, section 5, "Small objects marked by span").
//
// The flag has two queued states, as Go's span ownership does: one grey, set by the shade that
// queued the span, and many, set by any later shade that finds it one grey. The work-list entry is
// the address of the object that queued the span, with its low bit set (any other entry is an
// object or an oblet). A marker that takes the span in the one-grey state scans that object alone:
// every bit set since was set by a shade that then found the flag one grey, and so made it many, or
// found it idle, after the take, and queued the span again. A linked list, whose every node queues
// its span alone, then costs no pass over the span's bitmaps per node.
//
// Prefetching (kMark only). On a large heap nearly every shade misses the cache three times, on the
// span descriptor's header, its allocation bits and its mark bits, and every scan twice more, on
// the object itself and on the pointer-bitmap words that say which of its words are slots; a
// marker that waits for each in turn spends most of its time waiting. So a heap slot's value is
// not shaded at once: its span's descriptor lines are prefetched and the value waits in a small
// ring (kShadeAhead), with the span, while the next ones are read; and an object popped from the
// work list is prefetched, with the pointer-bitmap line covering its start, and waits in another
// ring (kScanAhead) before it is scanned. The rings are the marker's private work: drain() empties
// them before it looks for shared work or returns, so no grey object hides in them when the marker
// says it is done. Shading reads the object's mark bit before its allocation bits: where objects
// have several parents, many words name an object marked already, and those read neither the
// allocation bits nor the black test.
//
// A pointer-free object has nothing to scan, so its mark bit need not be set at once: a marker
// gathers the bits of one mark-bit word and sets them with one locked OR when a shade moves to
// another word, or when its rings are emptied (flush_shades), so they too are set before it says it
// is done. An array of pointers to buffers made in order marks 64 of them with one locked
// instruction, where the locked OR of each was half of the mark's time (docs/design.md, "Mark bits
// of pointer-free objects, gathered"). A bit that waits here reads as clear to other shades, which
// gather or set it again; whoever sets it first counts the object.
//
// An object marked by span is gathered too, but not the first that a marker shades in a mark-bit
// word: that one's bit is set and its span queued at once, so a shade that follows
// pointers to random places pays one compare more. The shades that follow it in the same word
// (a tree's nodes, made together; an array of objects made in order) gather their bits, and the
// OR that sets them queues the span to owe many, or makes it owe many if it is queued still: once
// per word, not once per object. Until then the span owes only the first object, and a scan that
// takes it meanwhile scans that one alone; the gathered ones queue it again. A marker's drain that
// runs out of work sets what it gathered, and goes on if that queued the span (flush_shades).
//
// gc::why_alive runs it a third way (Mode::kPath, gc/why_alive.cpp), also with the world stopped
// and into the checkmark bits: breadth first, one layer of objects at a time, so that the first
// route that reaches an object is a shortest one, and it tells a PathRecorder, for each object it
// greys, where the word came from: the root, or the object and slot it was read from.
#pragma once

#include <atomic>
#include <cstdint>

#include "gc/mark_stack.hpp"
#include "tricolor/detail/span.hpp"

namespace gc::detail {

class PathRecorder;
struct HeapView;  // heap/object_lookup.hpp

// A registered thread marks in turns: an assist paying for its allocation, a thread waiting in a
// blocking gc::collect(). Each turn runs inside one critical section, and a stop of the world that
// lands in it waits for the turn to end (safepoint.hpp), so a turn is short: it ends after this
// much scan work or this long, whichever comes first, or as soon as a stop waits for it. Go's
// assists likewise give way to a preemption request between objects (gcDrainN).
inline constexpr std::int64_t kMarkTurnBytes = 64 * 1024;
inline constexpr std::int64_t kMarkTurnNs = 10'000;
inline constexpr std::int64_t kNoDeadline = INT64_MAX;

class Marker {
 public:
  enum class Mode { kMark, kCheckmark, kPath };
  explicit Marker(Mode mode, PathRecorder* path = nullptr);
  ~Marker();
  Marker(const Marker&) = delete;
  Marker& operator=(const Marker&) = delete;

  void shade(std::uintptr_t word);
  // kMark: prefetches what shading `word` reads and queues it; shades the word it displaces. For
  // many words at once, each likely a cache miss (a heap object's slots, a barrier buffer).
  void shade_soon(std::uintptr_t word);
  // Shades every aligned word of [lo, hi): a stack or a register save area. `what` names the
  // range in a gccheckmark report.
  void scan_conservative(std::uintptr_t lo, std::uintptr_t hi, const char* what = "a stack");
  // Names the root that the following shade() calls come from, for a gccheckmark report or a path.
  void set_root_source(const char* what, std::uintptr_t where) {
    source_ = what;
    source_address_ = where;
    source_object_ = 0;
  }
  // kPath: a word equal to `word` in [lo, hi) is not a root (the stack of gc::why_alive's caller,
  // which holds the address it asks about only because it asks).
  void ignore_word_within(std::uintptr_t word, std::uintptr_t lo, std::uintptr_t hi) {
    ignored_word_ = word;
    ignored_lo_ = lo;
    ignored_hi_ = hi;
  }
  Mode mode() const { return mode_; }
  // Blackens grey objects, taking chunks from the grey queue when its own work runs out, until no
  // work is left (true) or `budget` bytes of objects have been scanned (false). kMark, with a
  // `deadline` on the monotonic clock (now_ns): also false once it has passed, or once a stop of
  // the world waits for the calling thread's critical section, both tested every 32 objects.
  bool drain(std::int64_t budget = INT64_MAX, std::int64_t deadline = kNoDeadline);
  // One turn of a registered thread's marking (kMarkTurnBytes and kMarkTurnNs above); false if it
  // ended with grey work left.
  bool drain_turn(std::int64_t budget);
  // Hands all private work to the grey queue.
  void publish();

  std::int64_t marked_bytes() const { return marked_bytes_; }
  std::int64_t scanned_bytes() const { return scanned_bytes_; }

 private:
  // What scan_object does with each slot's value: queue it in the shade ring (kMark), shade it at
  // once (kCheckmark), or shade it with the slot named as its source (kPath).
  enum class SlotUse { kQueueShade, kShade, kShadeNamingSlot };
  // Scans `object`, or the oblet of a large object that starts there.
  template <SlotUse kUse>
  inline void scan_object(const HeapView& heap, Span* s, std::uintptr_t object);
  // Takes the span of `object` (one marked by span, see the header) off the work list and scans,
  // in address order, every object of it whose mark bit is set and whose scanned bit is not,
  // setting the scanned bits; or `object` alone, if no shade found the span queued for one object
  // after `object` queued it. Returns how many objects it scanned.
  unsigned scan_span(const HeapView& heap, std::uintptr_t object);
  // kMark's drain.
  bool drain_marking(std::int64_t budget, std::int64_t deadline);
  // kPath's drain: breadth first, one layer at a time.
  void drain_by_layers();
  // kMark's shade of `word`, a heap address whose page has span `s` (null: a free page).
  inline void grey(Span* s, std::uintptr_t word);
  // Counts an object this marker has just marked, and queues it for scanning if it has slots.
  inline void queue_grey(Span* s, std::uintptr_t base);
  // kMark's mark of a pointer-free object (see the header): its bit joins the gathered ones.
  inline void gather_mark(Span* s, std::uint32_t index);
  // kMark's mark of an object marked by span (see the header): its bit is set, or joins the
  // gathered ones if the last shade was in the same mark-bit word.
  inline void grey_in_span(Span* s, std::uint32_t index);
  // Sets the bits gathered so far, and gathers the next ones in mark-bit word `word` of span `s`.
  inline void gather_into(Span* s, std::atomic<std::uint64_t>* word);
  // Sets the gathered mark bits, with one locked OR, counts the objects they newly mark, and
  // queues their span if they have slots. Returns whether it queued it.
  bool set_gathered_marks();
  // shade_soon's body, inline in kMark's scan.
  inline void queue_shade(const HeapView& heap, std::uintptr_t word);
  // Shades every queued word, and sets the gathered mark bits. Returns whether any words were
  // queued, or the gathered bits queued a span.
  bool flush_shades();
  // kMark: the next object to scan, through the prefetch ring; false when no private work is left.
  inline bool next_to_scan(const HeapView& heap, std::uintptr_t& object);
  [[noreturn]] void report_missed(Span* s, std::uint32_t index);

  Mode mode_;
  bool honour_black_;   // a mark is in progress, so allocated_black() means something
  bool inert_ = false;  // kMark made after mark termination closed the mark (mark_queue.hpp)
  bool from_stack_ = false;
  MarkStack work_;
  const char* source_ = "";  // where the word being shaded was read: a root, or an object
  std::uintptr_t source_address_ = 0;
  std::uintptr_t source_object_ = 0;  // the object whose slot is being read (kPath); 0: a root
  PathRecorder* path_ = nullptr;
  std::uintptr_t ignored_word_ = 0, ignored_lo_ = 0, ignored_hi_ = 0;
  std::int64_t marked_bytes_ = 0;
  std::int64_t scanned_bytes_ = 0;
  static constexpr unsigned kShadeAhead = 8;  // a power of two
  static constexpr unsigned kScanAhead = 8;   // a power of two
  // A heap word waiting in the shade ring, with the span its page had when it was queued (null for
  // a free page), so that shading it looks nothing up again. A page's span cannot change
  // meanwhile: no span is freed while a mark runs (mark_state.hpp), so a page with a span keeps
  // it, and a free page that gets one later holds only objects allocated black, or is an arena
  // chunk, which the foreign-word hook that a null span leads to looks up for itself.
  struct PendingShade {
    std::uintptr_t word;
    Span* span;
  };
  PendingShade shade_ring_[kShadeAhead] = {};
  unsigned shade_next_ = 0;  // queue_shade() calls so far; the ring holds the last kShadeAhead
  unsigned shade_held_ = 0;  // words in the ring
  std::uintptr_t scan_ring_[kScanAhead] = {};
  unsigned scan_next_ = 0;
  unsigned scan_held_ = 0;
  // Mark bits in one mark-bit word of span gathered_span_, not set yet: of pointer-free objects
  // (gather_mark), or of objects marked by span after the first in the word (grey_in_span).
  std::atomic<std::uint64_t>* gathered_word_ = nullptr;
  Span* gathered_span_ = nullptr;
  std::uint64_t gathered_bits_ = 0;
};

}  // namespace gc::detail
