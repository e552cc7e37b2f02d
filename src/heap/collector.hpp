// What the allocator asks of the collector, and the collector state it reads.
//
// The heap sits below the collector and includes none of its headers; this file is its whole view
// upward, as Go's heap owns `sweepgen` and calls into the collector only at a few points. The
// allocator calls the collector for three things:
//   - sweeping a stale span it finds on a central list or takes back from a cache (sweep_span);
//   - paying for allocation during a mark (assist_allocation);
//   - starting a cycle when the heap reaches the pacer's trigger (maybe_start_cycle), or a full one
//     when the OS refuses memory (collect_for_memory).
// A slot freed without a sweep (its constructor threw) has its specials processed
// (process_specials). Everything declared here is defined in src/gc.
//
// The state it reads: the sweep generation, which the heap owns and the collector advances at
// mark termination, and the collector's phase, which says whether a mark is in progress.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/check.hpp"
#include "tricolor/detail/span.hpp"

namespace gc::detail {

// --- The collector's phase -------------------------------------------------------------------
// kMark from mark start (the first stop-the-world of a cycle) to mark termination (the second);
// both edges happen with the world stopped. While it is kMark allocation is black, nothing is
// swept, no span is freed, and the only slots freed are ones no live pointer names
// (gc/mark_state.hpp says which).
enum class GcPhase : std::uint8_t { kOff, kMark };
inline constinit std::atomic<GcPhase> g_gc_phase{GcPhase::kOff};
inline bool marking() { return g_gc_phase.load(std::memory_order_acquire) == GcPhase::kMark; }

// --- The sweep generation --------------------------------------------------------------------
// `g_sweepgen` moves by two at every mark termination, with the world stopped. A span whose
// sweepgen equals it is swept; sweepgen - 1 means someone is sweeping it right now; anything older
// means it needs sweeping. Claiming a span is a compare-and-swap to sweepgen - 1, so a span is
// swept by exactly one thread.
inline constinit std::atomic<std::uint32_t> g_sweepgen{4};

inline bool needs_sweep(const Span* s, std::uint32_t sweepgen) {
  const std::uint32_t v = s->sweepgen.load(std::memory_order_acquire);
  return v != sweepgen && v != sweepgen - 1;
}

// The right to sweep one span: only try_claim_sweep makes one, and sweep_span takes it, so a span
// is never swept without its claim. Move-only; a claim must be used (a claim dropped unused would
// leave the span marked "being swept" for ever, which the destructor checks).
class SweepClaim {
 public:
  SweepClaim() = default;
  SweepClaim(SweepClaim&& other) noexcept : span_(other.span_), sweepgen_(other.sweepgen_) {
    other.span_ = nullptr;
  }
  SweepClaim& operator=(SweepClaim&& other) noexcept {
    TRICOLOR_DCHECK(span_ == nullptr, "a sweep claim was overwritten unused");
    span_ = other.span_;
    sweepgen_ = other.sweepgen_;
    other.span_ = nullptr;
    return *this;
  }
  SweepClaim(const SweepClaim&) = delete;
  ~SweepClaim() { TRICOLOR_DCHECK(span_ == nullptr, "a sweep claim was dropped unused"); }

  explicit operator bool() const { return span_ != nullptr; }
  Span* span() const { return span_; }
  std::uint32_t sweepgen() const { return sweepgen_; }
  // Hands the span over to whoever finishes the sweep (sweep_span).
  Span* release() {
    Span* s = span_;
    span_ = nullptr;
    return s;
  }

 private:
  friend SweepClaim try_claim_sweep(Span* s, std::uint32_t sweepgen);
  SweepClaim(Span* s, std::uint32_t sweepgen) : span_(s), sweepgen_(sweepgen) {}
  Span* span_ = nullptr;
  std::uint32_t sweepgen_ = 0;
};

// Claims a span for sweeping; an empty claim if it is swept or being swept.
inline SweepClaim try_claim_sweep(Span* s, std::uint32_t sweepgen) {
  std::uint32_t v = s->sweepgen.load(std::memory_order_acquire);
  while (v != sweepgen && v != sweepgen - 1) {
    if (s->sweepgen.compare_exchange_weak(v, sweepgen - 1, std::memory_order_acq_rel))
      return SweepClaim(s, sweepgen);
  }
  return SweepClaim();
}

// --- Calls into the collector ----------------------------------------------------------------
// gc/sweeper.cpp: sweeps a claimed span that no cache owns and no list holds. Returns true if the
// span had no object left and went back to the page heap (free_or_keep_empty_span, central.hpp,
// decides: `for_allocation` says the caller takes the span for a thread cache if it has room);
// otherwise the span is marked swept.
bool sweep_span(SweepClaim claim, bool for_allocation = false);

// gc/sweeper.cpp: slot `index` of `s` is freed without a sweep (its constructor threw, or its
// destructor ran and registered a weak reference or cleanup on itself): if it has specials, the
// collector's dead-object hook processes them and its bit is cleared. Inside a critical section.
void process_specials(Span* s, std::uint32_t index);

// gc/assist.cpp: called by the allocation slow path, outside critical sections, after taking
// `bytes` during a mark.
void assist_allocation(std::int64_t bytes);

// gc/cycle.cpp: starts a cycle if the heap has reached the pacer's trigger and no cycle is marking.
void maybe_start_cycle();

// gc/cycle.cpp: a full cycle and sweep, to find memory when the OS refused some.
void collect_for_memory();

}  // namespace gc::detail
