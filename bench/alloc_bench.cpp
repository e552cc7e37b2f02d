// bench_alloc_bench — the cost of one allocation: gc::make against malloc/free and new/delete.
//
// Objects: Blob<N> = struct { std::byte b[N]; } for N = 16, 64, 256, 4096. Blob is trivially
// copyable, so tricolor puts it in a noscan span (the marker never looks inside); 16 bytes is a
// regular size class (the tiny allocator only takes objects under 16 bytes). Scanned is a 64-byte
// struct { gc::ptr<Scanned> next; std::byte payload[56]; }: it holds a gc::ptr, so it lives in a
// scanned span with a pointer bitmap, and since gc::ptr has a non-trivial destructor, gc::make
// also registers a destructor for it.
//
// Each benchmark's loop body is one allocation "the way the program pays for it":
//   gc_make/<kind>/<N>          p = gc::make<T>(); the handle is dropped at the end of the
//                                iteration and the collector reclaims the object later, on its own
//                                schedule (gc::collect is never called). So the per-item cost
//                                includes the amortised mark/sweep work the allocation causes
//                                (some of it on the collector's background threads — hence
//                                real-time measurement, below).
//   gc_make_fast/noscan/<N>     the allocation alone: the collector is off while timing and the
//                                timer pauses for a gc::collect() every 4096 allocations.
//   gc_make_window/<kind>/<N>   the same as gc_make, but the new handle is stored into a ring of
//   the last 1024
//                                objects (a managed array of gc::ptr), so each object lives for
//                                1024 allocations and every store goes through the write barrier.
//   malloc_free/<N>             p = malloc(N); free(p) right away: glibc malloc's best case (the
//                                same chunk comes back from the thread's tcache every time).
//   malloc_window/<N>           a ring of the last 1024 blocks: free the oldest, malloc a new one
//                                (closer to a real program; the ring is filled before timing).
//   gc_make_ring/<kind>/<N>     steady-state replacement: gc_make_window with a ring of 64 Ki live
//   malloc_ring/<N>              objects, and malloc_window with one of 64 Ki blocks. The kinds
//                                two_ptrs and two_words are a 64-byte object with two gc::ptr
//                                members and the same object with two plain words instead.
//   new_ring/<N>                new/delete with the 64 Ki ring: the object value-initialised
//                                (zeroed), as gc::make does, which malloc_ring skips.
//   gc_make_for_overwrite_ring/noscan/<N>   gc_make_ring with gc::make_for_overwrite: the object
//                                default-initialised (not zeroed), as malloc_ring leaves it.
//   boehm_ring/<N>              Boehm's collector with the 64 Ki ring (only when libgc-dev was
//                                found, TRICOLOR_HAVE_BOEHM): the ring from GC_MALLOC, each object
//                                GC_MALLOC_ATOMIC and value-initialised, the one it replaces left
//                                for the collector; the same work as gc_make_ring/noscan.
//   new_delete/<N>              p = new Blob<N>(); delete p. Note `new T()` value-initialises, i.e.
//                                zeroes the N bytes, as gc::make does; malloc does not zero.
//   new_window/<N>              new/delete with the 1024-object ring.
//   make_shared/<N>             p = std::make_shared<Blob<N>>(), dropped at the end of the
//                                iteration: one allocation of object and control block, one free.
//   make_shared_window/<N>      std::make_shared with the 1024-object ring (the assignment into the
//                                ring frees the oldest object).
// Every variant runs with 1 thread and with 2 threads (suffix threads:2; each thread allocates
// independently, gc_make threads share one managed heap). benchmark::DoNotOptimize keeps every
// pointer observable.
//
// Reading the output: all benchmarks use real (wall) time, because a collector does part of its
// work on other threads and CPU time of the allocating thread alone would flatter it. "Time" is
// wall nanoseconds per allocation per thread; items_per_second is allocations per second summed
// over the threads (the throughput to compare: with threads:2 on 2 cores a perfectly scalable
// allocator doubles it). bytes_per_second is items_per_second * sizeof(object). The machine this
// was written on is shared and noisy: use --benchmark_repetitions=5 and compare medians for
// anything finer than ~20%.
//
//   ./bench_alloc_bench                                  everything
//   ./bench_alloc_bench --benchmark_filter='/64'         only the 64-byte rows
//   GODEBUG=gctrace=1 ./bench_alloc_bench --benchmark_filter=gc_make   with the collector's trace
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <tricolor/gc.hpp>
#include <type_traits>
#include <vector>

#include "boehm_peer.hpp"

namespace {

template <std::size_t N>
struct Blob {
  std::byte b[N];
};
static_assert(std::is_trivially_copyable_v<Blob<16>> && sizeof(Blob<16>) == 16);
static_assert(sizeof(Blob<4096>) == 4096);

struct Scanned {
  gc::ptr<Scanned> next;
  std::byte payload[56];
};
static_assert(!std::is_trivially_copyable_v<Scanned> && sizeof(Scanned) == 64);

// Two gc::ptr members, and the same object with two plain words in their place (trivially
// copyable: a noscan span, no pointer bits, no destructor). The ring of these two shows what the
// gc::ptr members cost on their own.
struct TwoPtrs {
  gc::ptr<TwoPtrs> left, right;
  std::byte payload[48];
};
struct TwoWords {
  std::uintptr_t left, right;
  std::byte payload[48];
};
static_assert(sizeof(TwoPtrs) == 64 && sizeof(TwoWords) == 64);

constexpr std::size_t kWindow = 1024;     // a power of two
constexpr std::size_t kRing = 64 * 1024;  // a power of two: the steady-state ring's live objects

template <class T>
void finish(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(sizeof(T)));
}

// --- tricolor ------------------------------------------------------------------------------------

template <class T>
void gc_make(benchmark::State& state) {
  for (auto _ : state) {
    gc::ptr<T> p = gc::make<T>();
    T* raw = p.get();
    benchmark::DoNotOptimize(raw);
  }
  finish<T>(state);
}

// The allocation itself, without the collections it causes: the collector is off while timing,
// and every 4096 allocations the timer pauses for a gc::collect(). Compare with malloc_free, which
// likewise excludes nothing but also never collects anything.
template <class T>
void gc_make_fast(benchmark::State& state) {
  // One thread switches the collector off and back on (to the default), so that threads:2 does not
  // restore a value the other thread set.
  if (state.thread_index() == 0) gc::set_percent(-1);
  std::size_t n = 0;
  for (auto _ : state) {
    gc::ptr<T> p = gc::make<T>();
    T* raw = p.get();
    benchmark::DoNotOptimize(raw);
    if (++n % 4096 == 0) {
      state.PauseTiming();
      gc::collect();
      state.ResumeTiming();
    }
  }
  if (state.thread_index() == 0) gc::set_percent(100);
  finish<T>(state);
}

enum class Init { kValue, kForOverwrite };

template <class T, Init kInit>
gc::ptr<T> make_one() {
  if constexpr (kInit == Init::kForOverwrite)
    return gc::make_for_overwrite<T>();
  else
    return gc::make<T>();
}

template <class T, std::size_t Slots = kWindow, Init kInit = Init::kValue>
void gc_make_window(benchmark::State& state) {
  gc::ptr<gc::ptr<T>[]> window = gc::make<gc::ptr<T>[]>(Slots);
  for (std::size_t i = 0; i < Slots; ++i) window[i] = make_one<T, kInit>();
  std::size_t next = 0;
  for (auto _ : state) {
    window[next] = make_one<T, kInit>();
    T* raw = window[next].get();
    benchmark::DoNotOptimize(raw);
    next = (next + 1) & (Slots - 1);
  }
  finish<T>(state);
}

// --- malloc / free -------------------------------------------------------------------------------

template <std::size_t N>
void malloc_free(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(N);
    if (p == nullptr) throw std::bad_alloc();
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  finish<Blob<N>>(state);
}

template <std::size_t N, std::size_t Slots = kWindow>
void malloc_window(benchmark::State& state) {
  std::vector<void*> window(Slots);
  for (void*& p : window) p = std::malloc(N);
  std::size_t next = 0;
  for (auto _ : state) {
    std::free(window[next]);
    void* p = std::malloc(N);
    if (p == nullptr) throw std::bad_alloc();
    benchmark::DoNotOptimize(p);
    window[next] = p;
    next = (next + 1) & (Slots - 1);
  }
  for (void* p : window) std::free(p);
  finish<Blob<N>>(state);
}

// --- new / delete --------------------------------------------------------------------------------

template <std::size_t N>
void new_delete(benchmark::State& state) {
  using T = Blob<N>;
  for (auto _ : state) {
    T* p = new T();
    benchmark::DoNotOptimize(p);
    delete p;
  }
  finish<T>(state);
}

template <std::size_t N, std::size_t Slots = kWindow>
void new_window(benchmark::State& state) {
  using T = Blob<N>;
  std::vector<T*> window(Slots);
  for (T*& p : window) p = new T();
  std::size_t next = 0;
  for (auto _ : state) {
    delete window[next];
    T* p = new T();
    benchmark::DoNotOptimize(p);
    window[next] = p;
    next = (next + 1) & (Slots - 1);
  }
  for (T* p : window) delete p;
  finish<T>(state);
}

// --- Boehm's collector ---------------------------------------------------------------------------

#if TRICOLOR_HAVE_BOEHM
template <std::size_t N>
void boehm_ring(benchmark::State& state) {
  using T = Blob<N>;
  static const bool ready = (bench::boehm_setup(), true);  // once, on the first thread here
  (void)ready;
  bench::BoehmThreadScope registered;  // a no-op on the thread GC_INIT ran on
  auto** ring = static_cast<T**>(GC_MALLOC(kRing * sizeof(T*)));
  if (ring == nullptr) throw std::bad_alloc();
  const auto make = [] {
    void* p = GC_MALLOC_ATOMIC(sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return ::new (p) T();
  };
  for (std::size_t i = 0; i < kRing; ++i) ring[i] = make();
  std::size_t next = 0;
  for (auto _ : state) {
    T* p = make();
    benchmark::DoNotOptimize(p);
    ring[next] = p;
    next = (next + 1) & (kRing - 1);
  }
  finish<T>(state);
}
#endif

// --- std::make_shared ---------------------------------------------------------------------------

template <std::size_t N>
void make_shared(benchmark::State& state) {
  using T = Blob<N>;
  for (auto _ : state) {
    std::shared_ptr<T> p = std::make_shared<T>();
    T* raw = p.get();
    benchmark::DoNotOptimize(raw);
  }
  finish<T>(state);
}

template <std::size_t N>
void make_shared_window(benchmark::State& state) {
  using T = Blob<N>;
  std::array<std::shared_ptr<T>, kWindow> window;
  for (std::shared_ptr<T>& p : window) p = std::make_shared<T>();
  std::size_t next = 0;
  for (auto _ : state) {
    window[next] = std::make_shared<T>();
    T* raw = window[next].get();
    benchmark::DoNotOptimize(raw);
    next = (next + 1) & (kWindow - 1);
  }
  finish<T>(state);
}

#define ALLOC_BENCH(fn, name) BENCHMARK(fn)->Name(name)->UseRealTime()->Threads(1)->Threads(2)

#define ALLOC_BENCH_SIZE(N)                                      \
  ALLOC_BENCH(malloc_free<N>, "malloc_free/" #N);                \
  ALLOC_BENCH(malloc_window<N>, "malloc_window/" #N);            \
  ALLOC_BENCH(new_delete<N>, "new_delete/" #N);                  \
  ALLOC_BENCH(new_window<N>, "new_window/" #N);                  \
  ALLOC_BENCH(make_shared<N>, "make_shared/" #N);                \
  ALLOC_BENCH(make_shared_window<N>, "make_shared_window/" #N);  \
  ALLOC_BENCH(gc_make<Blob<N>>, "gc_make/noscan/" #N);           \
  ALLOC_BENCH(gc_make_fast<Blob<N>>, "gc_make_fast/noscan/" #N); \
  ALLOC_BENCH(gc_make_window<Blob<N>>, "gc_make_window/noscan/" #N)

// Steady-state replacement: a ring of 64 Ki live objects, each slot replaced in turn.
#if TRICOLOR_HAVE_BOEHM
#define BOEHM_RING_BENCH(N) ALLOC_BENCH(boehm_ring<N>, "boehm_ring/" #N)
#else
#define BOEHM_RING_BENCH(N) static_assert(true)
#endif
#define RING_BENCH_SIZE(N)                                                  \
  ALLOC_BENCH((malloc_window<N, kRing>), "malloc_ring/" #N);                \
  ALLOC_BENCH((new_window<N, kRing>), "new_ring/" #N);                      \
  ALLOC_BENCH((gc_make_window<Blob<N>, kRing>), "gc_make_ring/noscan/" #N); \
  ALLOC_BENCH((gc_make_window<Blob<N>, kRing, Init::kForOverwrite>),        \
              "gc_make_for_overwrite_ring/noscan/" #N);                     \
  BOEHM_RING_BENCH(N)

ALLOC_BENCH_SIZE(16);
ALLOC_BENCH_SIZE(64);
ALLOC_BENCH(gc_make<Scanned>, "gc_make/scanned/64");
ALLOC_BENCH(gc_make_window<Scanned>, "gc_make_window/scanned/64");
ALLOC_BENCH_SIZE(256);
ALLOC_BENCH_SIZE(4096);
RING_BENCH_SIZE(16);
RING_BENCH_SIZE(64);
RING_BENCH_SIZE(256);
ALLOC_BENCH((gc_make_window<TwoWords, kRing>), "gc_make_ring/two_words/64");
ALLOC_BENCH((gc_make_window<TwoPtrs, kRing>), "gc_make_ring/two_ptrs/64");

}  // namespace

BENCHMARK_MAIN();
