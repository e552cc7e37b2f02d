// A libFuzzer target for the public API: the input is a program of operations that one to three
// threads run at once — make, link, unlink, drop, load, weak set and lock, pool get and put, arena
// make and free, publish and take through gc::atomic_ptr, cleanups, garbage, collect (on the
// thread or on a helper thread, while the thread goes on), free_os_memory, set_percent, repeats of
// the last few operations — and everything the program reaches is checked against a shadow
// model of its heap. Unit tests check one mechanism at a time; this one lets the fuzzer find the
// interleavings of mechanisms and threads that nobody wrote a test for.
//
// What the model checks, and why only this much. Stacks are scanned conservatively, so an object
// the model has let go of may live on through a stale stack word; the model therefore asserts
// "reachable => alive and intact", never "unreachable => gone", except where the API is exact (an
// arena's free() runs the destructor of every object made in it, at once). Alive and intact means:
//   - an object has its canary, its id, the checksum of its id and size, its payload array's
//     pattern, and in each slot the object the model put there; no cleanup of it has run;
//   - a weak reference to a reachable object locks, and returns that object; one that locks to an
//     object the model has dropped returns it intact, with everything the model says it reached
//     (an object that survived a cycle had its slots marked through);
//   - a pooled buffer comes back from get() with the pattern and the attached object it was put
//     with, or fresh from the factory; collect() completes a cycle (num_gc grows).
// Each thread checks what it reaches from its own roots after every operation that reaches it, and
// all of it after collect() and after its helper's collection; at the end of each round (the
// "round" operation, and the end of the input) the threads meet at a barrier, and thread 0
// collects and checks the whole model while the others wait.
//
// Threads share objects without racing on them: an object's slots are written and read only by
// the thread that made it (its owner, named in its id), while its header and payload never change
// after gc::make, so any thread may check them. Objects pass between threads through gc::atomic_ptr
// slots (publish, take), pooled buffers and weak references; a thread that reaches another's object
// checks its header and goes no further. The barrier's check, with every thread waiting, walks all.
//
// Input: byte 0 chooses the number of threads (1 + b % 3) and the GOGC each input starts with;
// then every 3 bytes are an operation [op][a][b]: the low 5 bits of op pick the operation from
// kOpTable, the high 3 bits the thread (modulo the thread count), a and b are its operands (a
// missing operand reads as 0). A repeat runs the thread's last few operations again, a round
// ends the round of every thread. Nothing the fuzzer can write is misuse of the API: an arena is
// used by its own thread only, and never weak-referenced, linked or touched after free().
//
//   cmake --workflow --preset fuzz      # a bounded run (docs/getting-started.md)
//   build/fuzz/tests/fuzz/api_fuzzer -max_len=600 CORPUS_DIR tests/fuzz/corpus
//   API_FUZZER_PRINT=1 build/fuzz/tests/fuzz/api_fuzzer INPUT   # one input, and its program
#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <tricolor/gc.hpp>
#include <type_traits>
#include <vector>

namespace {

constexpr std::uint64_t kLive = 0x11FE0B1EC7ull;
constexpr std::uint64_t kDead = 0xDEADDEADull;

constexpr int kMaxThreads = 3;
constexpr int kMaxRounds = 8;
constexpr int kSlots = 3;          // gc::ptr<Obj> slots per object
constexpr int kStackObjects = 4;   // roots 0-3: gc::ptr<Obj> on the thread's stack
constexpr int kStackInterior = 2;  // roots 4-5: gc::ptr<std::uint64_t> into an object, on the stack
constexpr int kHeapRoots = 4;      // roots 6-9: gc::ptr<Obj> in malloc memory
constexpr int kRoots = kStackObjects + kStackInterior + kHeapRoots;
constexpr int kWeaks = 3;
constexpr int kExchangeSlots = 2;

// Payload sizes in words: the tiny allocator (1), small classes, and a large object (> 32 KiB).
constexpr std::array<std::uint32_t, 8> kPayloadWords = {0, 1, 2, 5, 16, 60, 500, 4100};
constexpr std::array<int, 5> kPercents = {-1, 5, 25, 100, 300};

// --- ids, patterns, failures -------------------------------------------------------------------

// An id names the input (so that garbage of earlier inputs never matches), the owning thread and
// the object's index in its owner's model; 0 is null.
constexpr int kGarbageOwner = 14;  // objects no model holds
std::uint64_t make_id(std::uint64_t input, int owner, std::uint32_t index) {
  return (input << 24) | (static_cast<std::uint64_t>(owner + 1) << 20) | (index & 0xFFFFF);
}
int id_owner(std::uint64_t id) { return static_cast<int>((id >> 20) & 0xF) - 1; }
std::uint32_t id_index(std::uint64_t id) { return static_cast<std::uint32_t>(id & 0xFFFFF); }

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
std::uint64_t pattern(std::uint64_t seed, std::uint64_t i) {
  return mix(seed * 0x100000001B3ull + i);
}

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* format, ...) {
  std::fprintf(stderr, "\napi_fuzzer: ");
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::abort();
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// --- the objects --------------------------------------------------------------------------------

struct Obj {
  Obj(std::uint64_t id_, std::uint32_t words)
      : id(id_),
        payload_words(words),
        check(mix(id_ ^ (static_cast<std::uint64_t>(words) << 48))),
        payload(gc::make<std::uint64_t[]>(words)) {
    for (std::uint32_t i = 0; i < words; ++i) payload[i] = pattern(id, i);
  }
  ~Obj() { canary = kDead; }

  std::uint64_t canary = kLive;
  std::uint64_t id;
  std::uint32_t payload_words;
  gc::ptr<Obj> slots[kSlots];
  std::uint64_t check;  // interior roots point here
  gc::ptr<std::uint64_t[]> payload;
};
static_assert(std::is_standard_layout_v<Obj>);

Obj* object_of_check(std::uint64_t* check) {
  return check == nullptr
             ? nullptr
             : reinterpret_cast<Obj*>(reinterpret_cast<char*>(check) - offsetof(Obj, check));
}

// Kept in a gc::pool shared by the threads; it carries a pattern and may hold an object.
struct PoolBuf {
  PoolBuf() { fill(0); }
  ~PoolBuf() { canary = kDead; }
  void fill(std::uint64_t new_stamp) {
    stamp = new_stamp;
    for (std::size_t i = 0; i < words.size(); ++i) words[i] = pattern(stamp, i);
  }

  std::uint64_t canary = kLive;
  std::uint64_t stamp = 0;
  std::array<std::uint64_t, 8> words{};
  gc::ptr<Obj> attached;
  std::uint64_t attached_id = 0;
};

// Made in a thread's arena, chained newest first; its gc::ptr keeps an object alive until free().
struct ArenaNode {
  ArenaNode(gc::ptr<Obj> target_, std::uint64_t target_id_, gc::ptr<ArenaNode> next_,
            int* destroyed_)
      : target_id(target_id_),
        target(std::move(target_)),
        next(std::move(next_)),
        destroyed(destroyed_) {}
  ~ArenaNode() {
    canary = kDead;
    ++*destroyed;
  }

  std::uint64_t canary = kLive;
  std::uint64_t target_id;
  gc::ptr<Obj> target;
  gc::ptr<ArenaNode> next;
  int* destroyed;
};

// --- the model ----------------------------------------------------------------------------------

struct CleanupCount {
  std::atomic<int> registered{0};
  std::atomic<int> run{0};
};

struct ObjRecord {
  std::array<std::uint64_t, kSlots> slots{};  // ids
  std::uint32_t payload_words = 0;
  std::uint64_t seen = 0;  // the last walk that reached it
  std::shared_ptr<CleanupCount> cleanups;
};

// The roots a thread keeps on its own stack.
struct StackRoots {
  std::array<gc::ptr<Obj>, kStackObjects> objects;
  std::array<gc::ptr<std::uint64_t>, kStackInterior> interior;
};

// One thread's part of the program: its roots off the stack, and its part of the model. Only its
// thread touches it, but for the barrier's check, which runs while the thread waits.
struct Worker {
  explicit Worker(int index_) : index(index_) {}

  int index;
  StackRoots* stack = nullptr;  // while the thread runs
  std::array<gc::ptr<Obj>, kHeapRoots> heap_roots;
  std::array<gc::weak<Obj>, kWeaks> weaks;
  gc::ptr<PoolBuf> hand;  // a buffer taken from the pool
  int arena_destroyed = 0;
  std::unique_ptr<gc::arena> arena = std::make_unique<gc::arena>();
  gc::ptr<ArenaNode> arena_head;

  std::vector<ObjRecord> objects;  // by id_index
  std::array<std::uint64_t, kRoots> root_ids{};
  std::array<std::uint64_t, kWeaks> weak_ids{};
  std::vector<std::uint64_t> arena_targets;  // oldest first
  std::uint32_t garbage_made = 0;
  std::uint64_t stamps = 0;
};

struct Op {
  std::uint8_t code, a, b;
};

enum class Kind {
  kMake,
  kLink,
  kUnlink,
  kDrop,
  kLoad,
  kWeakSet,
  kWeakLock,
  kPoolGet,
  kPoolPut,
  kArenaMake,
  kArenaFree,
  kCollect,
  kSetPercent,
  kPublish,
  kTake,
  kGarbage,
  kCleanup,
  kVerify,
  kRound,
  kRepeat,
};
// The low 5 bits of an op byte: the common operations take more of the 32 codes.
constexpr std::array<Kind, 32> kOpTable = {
    Kind::kMake,       Kind::kMake,      Kind::kMake,      Kind::kRepeat,  Kind::kLink,
    Kind::kLink,       Kind::kLink,      Kind::kLink,      Kind::kUnlink,  Kind::kDrop,
    Kind::kDrop,       Kind::kLoad,      Kind::kLoad,      Kind::kLoad,    Kind::kWeakSet,
    Kind::kWeakSet,    Kind::kWeakLock,  Kind::kWeakLock,  Kind::kPoolGet, Kind::kPoolPut,
    Kind::kArenaMake,  Kind::kArenaMake, Kind::kArenaFree, Kind::kCollect, Kind::kCollect,
    Kind::kSetPercent, Kind::kPublish,   Kind::kTake,      Kind::kGarbage, Kind::kCleanup,
    Kind::kVerify,     Kind::kRound,
};

constexpr const char* kKindNames[] = {
    "make",     "link",     "unlink",     "drop",       "load",    "weak-set",    "weak-lock",
    "pool-get", "pool-put", "arena-make", "arena-free", "collect", "set-percent", "publish",
    "take",     "garbage",  "cleanup",    "verify",     "round",   "repeat"};
static_assert(std::size(kKindNames) == static_cast<std::size_t>(Kind::kRepeat) + 1);

// A thread's operations in a round, after repeats, are at most this many.
constexpr std::size_t kMaxOpsPerThread = 2048;

struct Program {
  int threads = 1;
  int start_percent = 25;
  std::vector<std::array<std::vector<Op>, kMaxThreads>> rounds;
};

Program decode(const std::uint8_t* data, std::size_t size) {
  Program program;
  program.rounds.emplace_back();
  if (size == 0) return program;
  program.threads = 1 + data[0] % kMaxThreads;
  program.start_percent = kPercents[1 + (data[0] / kMaxThreads) % (kPercents.size() - 1)];
  for (std::size_t i = 1; i < size; i += 3) {
    Op op{data[i], i + 1 < size ? data[i + 1] : std::uint8_t{0},
          i + 2 < size ? data[i + 2] : std::uint8_t{0}};
    const Kind kind = kOpTable[op.code & 31];
    if (kind == Kind::kRound) {
      if (program.rounds.size() < kMaxRounds) program.rounds.emplace_back();
      continue;
    }
    std::vector<Op>& ops = program.rounds.back()[(op.code >> 5) % program.threads];
    if (kind != Kind::kRepeat) {
      if (ops.size() < kMaxOpsPerThread) ops.push_back(op);
      continue;
    }
    // The thread's last 1-8 operations (a) again, 1-32 times (b): loops that mutate while
    // another thread collects, so that more of them fall inside a concurrent mark.
    const std::size_t length = std::min<std::size_t>(1 + op.a % 8, ops.size());
    const std::vector<Op> loop(ops.end() - static_cast<std::ptrdiff_t>(length), ops.end());
    for (int times = 1 + op.b % 32; times > 0 && ops.size() + length <= kMaxOpsPerThread; --times)
      ops.insert(ops.end(), loop.begin(), loop.end());
  }
  return program;
}

// API_FUZZER_PRINT=1: each input's program on stderr before it runs, to read a reproducer by.
void print(const Program& program) {
  std::fprintf(stderr, "%d threads, GOGC %d\n", program.threads, program.start_percent);
  for (std::size_t round = 0; round < program.rounds.size(); ++round)
    for (int t = 0; t < program.threads; ++t)
      for (const Op& op : program.rounds[round][t])
        std::fprintf(stderr, "  round %zu thread %d: %s %d %d\n", round, t,
                     kKindNames[static_cast<int>(kOpTable[op.code & 31])], op.a, op.b);
}

std::atomic<std::uint64_t> g_walks{0};

// Everything one input's threads share.
struct Shared {
  Shared(std::uint64_t input_, const Program& program_) : input(input_), program(program_) {
    for (int t = 0; t < program.threads; ++t) workers.push_back(std::make_unique<Worker>(t));
  }

  Worker& owner_of(std::uint64_t id) const { return *workers[id_owner(id)]; }
  ObjRecord& record(std::uint64_t id) const { return owner_of(id).objects[id_index(id)]; }

  std::uint64_t input;
  const Program& program;
  std::vector<std::unique_ptr<Worker>> workers;
  gc::pool<PoolBuf> pool{[] { return gc::make<PoolBuf>(); }};
  std::mutex exchange_mutex;
  std::array<gc::atomic_ptr<Obj>, kExchangeSlots> exchange;
  std::array<std::uint64_t, kExchangeSlots> exchange_ids{};
};

// --- checks -------------------------------------------------------------------------------------

// The header and payload: immutable after gc::make, so any thread may check any object.
void check_header(const Obj* obj, std::uint64_t id, const char* where) {
  if (id == 0) {
    if (obj != nullptr)
      fail("%s: the model holds null here, the program object %#llx", where, ull(obj->id));
    return;
  }
  if (obj == nullptr) fail("%s: object %#llx is null in the program", where, ull(id));
  if (obj->canary != kLive)
    fail("%s: object %#llx at %p was destroyed (canary %#llx, id %#llx)", where, ull(id),
         static_cast<const void*>(obj), ull(obj->canary), ull(obj->id));
  if (obj->id != id)
    fail("%s: expected object %#llx, found %#llx at %p", where, ull(id), ull(obj->id),
         static_cast<const void*>(obj));
  const std::uint32_t words = obj->payload_words;
  if (obj->check != mix(id ^ (static_cast<std::uint64_t>(words) << 48)))
    fail("%s: object %#llx has a bad checksum (payload %u words)", where, ull(id), words);
  if (obj->payload.size() != words)
    fail("%s: object %#llx's payload has %zu words, not %u", where, ull(id), obj->payload.size(),
         words);
  for (std::uint32_t i = 0; i < words; ++i)
    if (obj->payload[i] != pattern(id, i))
      fail("%s: object %#llx's payload word %u is %#llx", where, ull(id), i, ull(obj->payload[i]));
}

void check_buffer(const PoolBuf& buffer, const char* where) {
  if (buffer.canary != kLive)
    fail("%s: pooled buffer at %p was destroyed", where, static_cast<const void*>(&buffer));
  for (std::size_t i = 0; i < buffer.words.size(); ++i)
    if (buffer.words[i] != pattern(buffer.stamp, i))
      fail("%s: pooled buffer with stamp %#llx has word %zu = %#llx", where, ull(buffer.stamp), i,
           ull(buffer.words[i]));
}

// Walks the program's objects and the model together from roots, checking every object reached:
// its header always, and, for an object whose slots this walk may read (its own thread's, or
// every thread's when the world waits at the barrier), its slots against the model, recursively.
class Walk {
 public:
  static constexpr int kEveryThread = -1;

  Walk(const Shared& shared, int self) : shared_(shared), self_(self), epoch_(++g_walks) {}

  void reach(const Obj* obj, std::uint64_t id, const char* where) {
    check_header(obj, id, where);
    if (id == 0) return;
    if (self_ != kEveryThread && id_owner(id) != self_) {
      foreign_.push_back(id);
      return;
    }
    ObjRecord& record = shared_.record(id);
    if (record.seen == epoch_) return;
    record.seen = epoch_;
    if (record.payload_words != obj->payload_words)
      fail("%s: object %#llx has %u payload words, the model %u", where, ull(id),
           obj->payload_words, record.payload_words);
    if (record.cleanups && record.cleanups->run.load() != 0)
      fail("%s: a cleanup of object %#llx ran, but it is still reachable", where, ull(id));
    for (int k = 0; k < kSlots; ++k) reach(obj->slots[k].get(), record.slots[k], "a slot");
  }

  // Everything a thread holds: its roots, its pooled buffer, its arena's chain.
  void roots_of(const Worker& w) {
    for (int r = 0; r < kStackObjects; ++r)
      reach(w.stack->objects[r].get(), w.root_ids[r], "a stack root");
    for (int r = 0; r < kStackInterior; ++r)
      reach(object_of_check(w.stack->interior[r].get()), w.root_ids[kStackObjects + r],
            "an interior root");
    for (int r = 0; r < kHeapRoots; ++r)
      reach(w.heap_roots[r].get(), w.root_ids[kStackObjects + kStackInterior + r], "a heap root");
    if (w.hand) {
      check_buffer(*w.hand, "the buffer in hand");
      reach(w.hand->attached.get(), w.hand->attached_id, "the object in the buffer in hand");
    }
    std::size_t nodes = 0;
    for (const ArenaNode* node = w.arena_head.get(); node != nullptr; node = node->next.get()) {
      if (node->canary != kLive)
        fail("thread %d: an arena node was destroyed before free()", w.index);
      if (++nodes > w.arena_targets.size()) break;
      if (node->target_id != w.arena_targets[w.arena_targets.size() - nodes])
        fail("thread %d: arena node %zu from the head holds %#llx, the model %#llx", w.index, nodes,
             ull(node->target_id), ull(w.arena_targets[w.arena_targets.size() - nodes]));
      reach(node->target.get(), node->target_id, "an arena node's target");
    }
    if (nodes != w.arena_targets.size())
      fail("thread %d: the arena chain has %zu nodes (or more), the model %zu", w.index, nodes,
           w.arena_targets.size());
  }

  // Whether this walk reached `id` (an object of another thread: whether it reached it directly).
  bool reached(std::uint64_t id) const {
    if (self_ != kEveryThread && id_owner(id) != self_)
      return std::find(foreign_.begin(), foreign_.end(), id) != foreign_.end();
    return shared_.record(id).seen == epoch_;
  }

 private:
  const Shared& shared_;
  int self_;
  std::uint64_t epoch_;
  std::vector<std::uint64_t> foreign_;
};

// A weak reference that the walk did not require to lock: if it locks all the same (a stale stack
// word kept its object), the object and all the model says it reaches must be intact.
void check_unrequired_weak(const Shared& shared, const gc::weak<Obj>& weak, std::uint64_t id) {
  gc::ptr<Obj> p = weak.lock();
  if (id == 0) {
    if (p) fail("an empty gc::weak locked to object %#llx", ull(p->id));
    return;
  }
  if (p) Walk(shared, Walk::kEveryThread).reach(p.get(), id, "a weak reference the model dropped");
}

// The barrier's check: every thread waits, so one walk covers every object of the model.
void check_world(Shared& shared) {
  gc::collect();
  Walk walk(shared, Walk::kEveryThread);
  for (auto& w : shared.workers) walk.roots_of(*w);
  for (int e = 0; e < kExchangeSlots; ++e)
    walk.reach(shared.exchange[e].load().get(), shared.exchange_ids[e], "an exchange slot");
  for (auto& w : shared.workers) {
    for (int i = 0; i < kWeaks; ++i) {
      const std::uint64_t id = w->weak_ids[i];
      if (id == 0 || !walk.reached(id)) continue;
      gc::ptr<Obj> p = w->weaks[i].lock();
      if (!p) fail("thread %d: weak %d to reachable object %#llx expired", w->index, i, ull(id));
      check_header(p.get(), id, "a weak reference to a reachable object");
    }
  }
  for (auto& w : shared.workers)
    for (int i = 0; i < kWeaks; ++i)
      if (w->weak_ids[i] == 0 || !walk.reached(w->weak_ids[i]))
        check_unrequired_weak(shared, w->weaks[i], w->weak_ids[i]);
}

// --- one thread's operations --------------------------------------------------------------------

class Runner {
 public:
  Runner(Shared& shared, Worker& w, StackRoots& stack) : shared_(shared), w_(w), stack_(stack) {}

  void run(const Op& op) {
    const int a = op.a, b = op.b;
    switch (kOpTable[op.code & 31]) {
      case Kind::kMake: {
        const std::uint64_t id =
            make_id(shared_.input, w_.index, static_cast<std::uint32_t>(w_.objects.size()));
        const std::uint32_t words = kPayloadWords[b % kPayloadWords.size()];
        w_.objects.push_back(ObjRecord{{}, words, 0, nullptr});
        set_root(a % kRoots, gc::make<Obj>(id, words), id);
        break;
      }
      case Kind::kLink: {  // a's root's slot (a / kRoots) = b's root
        Obj* from = own_root(a % kRoots);
        if (from == nullptr) break;
        const int slot = (a / kRoots) % kSlots;
        const int to = b % kRoots;
        from->slots[slot] = root(to);
        shared_.record(from->id).slots[slot] = w_.root_ids[to];
        break;
      }
      case Kind::kUnlink: {
        Obj* from = own_root(a % kRoots);
        if (from == nullptr) break;
        const int slot = b % kSlots;
        from->slots[slot] = nullptr;
        shared_.record(from->id).slots[slot] = 0;
        break;
      }
      case Kind::kDrop:
        set_root(a % kRoots, nullptr, 0);
        break;
      case Kind::kLoad: {  // root a = root b, or its slot (b / kRoots)
        const int from = b % kRoots, slot = (b / kRoots) % (kSlots + 1);
        if (slot == kSlots) {
          set_root(a % kRoots, root(from), w_.root_ids[from]);
          break;
        }
        Obj* obj = own_root(from);
        if (obj == nullptr) break;
        const std::uint64_t id = shared_.record(obj->id).slots[slot];
        check_header(obj->slots[slot].get(), id, "load: the slot");
        set_root(a % kRoots, obj->slots[slot], id);
        break;
      }
      case Kind::kWeakSet: {
        const int r = b % kRoots;
        w_.weaks[a % kWeaks] = gc::weak<Obj>(root(r));
        w_.weak_ids[a % kWeaks] = w_.root_ids[r];
        break;
      }
      case Kind::kWeakLock:
        weak_lock(a % kWeaks, b);
        break;
      case Kind::kPoolGet:
        w_.hand = shared_.pool.get();
        if (!w_.hand) fail("thread %d: gc::pool::get() returned null", w_.index);
        local_walk();  // the buffer in hand, and the object it carries, among the rest
        break;
      case Kind::kPoolPut: {
        if (!w_.hand) break;
        const int r = a % kRoots;
        w_.hand->attached = root(r);
        w_.hand->attached_id = w_.root_ids[r];
        w_.hand->fill(make_id(shared_.input, w_.index, 0) ^ (++w_.stamps << 32));
        shared_.pool.put(std::move(w_.hand));
        w_.hand = nullptr;
        break;
      }
      case Kind::kArenaMake: {
        const int r = a % kRoots;
        w_.arena_head =
            w_.arena->make<ArenaNode>(root(r), w_.root_ids[r], w_.arena_head, &w_.arena_destroyed);
        w_.arena_targets.push_back(w_.root_ids[r]);
        break;
      }
      case Kind::kArenaFree:
        free_arena(a % 2 == 0);
        break;
      case Kind::kCollect: {
        if (a % 4 == 1) {  // on a helper thread, while this one goes on (checked at the next)
          join_helper();
          helper_ = std::thread([] { gc::collect(); });
          break;
        }
        const std::uint64_t before = gc::read_stats().num_gc;
        if (a % 4 == 0) {
          gc::free_os_memory();
        } else {
          gc::collect();
        }
        const std::uint64_t after = gc::read_stats().num_gc;
        if (after <= before)
          fail("thread %d: num_gc went from %llu to %llu over a collection", w_.index, ull(before),
               ull(after));
        local_walk();
        break;
      }
      case Kind::kSetPercent: {
        const int previous = gc::set_percent(kPercents[a % kPercents.size()]);
        if (std::find(kPercents.begin(), kPercents.end(), previous) == kPercents.end())
          fail("thread %d: set_percent returned %d, which nobody set", w_.index, previous);
        break;
      }
      case Kind::kPublish:
        publish(a % kExchangeSlots, (a / kExchangeSlots) % 3, b % kRoots);
        break;
      case Kind::kTake:
        take(a % kExchangeSlots, (a / kExchangeSlots) % 2 == 0, b % kRoots);
        break;
      case Kind::kGarbage: {  // a chain that nothing holds, to keep the pacer busy
        gc::ptr<Obj> head;
        for (int i = 0; i <= a % 32; ++i) {
          auto obj = gc::make<Obj>(make_id(shared_.input, kGarbageOwner, ++w_.garbage_made),
                                   kPayloadWords[b % kPayloadWords.size()]);
          obj->slots[0] = head;
          head = obj;
        }
        break;
      }
      case Kind::kCleanup: {
        const int r = a % kRoots;
        Obj* obj = own_root(r);
        if (obj == nullptr) break;
        ObjRecord& record = shared_.record(obj->id);
        if (!record.cleanups) record.cleanups = std::make_shared<CleanupCount>();
        std::shared_ptr<CleanupCount> count = record.cleanups;
        count->registered.fetch_add(1);
        const std::uint64_t id = obj->id;
        gc::add_cleanup(root(r), [count, id] {
          if (count->run.fetch_add(1) >= count->registered.load())
            fail("object %#llx's cleanups ran more often than they were added", ull(id));
        });
        break;
      }
      case Kind::kVerify:
        local_walk();
        break;
      case Kind::kRound:  // decode() splits rounds there, and expands repeats
      case Kind::kRepeat:
        break;
    }
  }

  // Waits for the helper's collection, then checks what this thread reaches: anything the cycle
  // lost while this thread mutated under it has been destroyed by now.
  void join_helper() {
    if (!helper_.joinable()) return;
    {
      gc::blocking_region waiting;
      helper_.join();
    }
    local_walk();
  }

  // At the end of the thread: the arena's destructors all run; the stack roots die with the frame.
  void finish() { free_arena(true); }

 private:
  // The object at root r as a gc::ptr, its header checked.
  gc::ptr<Obj> root(int r) {
    gc::ptr<Obj> p;
    if (r < kStackObjects) {
      p = stack_.objects[r];
    } else if (r < kStackObjects + kStackInterior) {
      p = gc::ptr<Obj>(object_of_check(stack_.interior[r - kStackObjects].get()));
    } else {
      p = w_.heap_roots[r - kStackObjects - kStackInterior];
    }
    check_header(p.get(), w_.root_ids[r], "a root");
    return p;
  }

  // The object at root r if this thread made it (only then may it read and write its slots).
  Obj* own_root(int r) {
    gc::ptr<Obj> p = root(r);
    return p && id_owner(p->id) == w_.index ? p.get() : nullptr;
  }

  void set_root(int r, gc::ptr<Obj> p, std::uint64_t id) {
    check_header(p.get(), id, "a new root");
    if (r < kStackObjects) {
      stack_.objects[r] = std::move(p);
    } else if (r < kStackObjects + kStackInterior) {
      stack_.interior[r - kStackObjects] =
          p ? gc::ptr<std::uint64_t>(&p->check) : gc::ptr<std::uint64_t>();
    } else {
      w_.heap_roots[r - kStackObjects - kStackInterior] = std::move(p);
    }
    w_.root_ids[r] = id;
  }

  // Checks everything this thread reaches; returns the walk, which knows what it reached.
  Walk local_walk() {
    Walk walk(shared_, w_.index);
    walk.roots_of(w_);
    return walk;
  }

  // b's low bit: keep what lock() returned in root (b / 2).
  void weak_lock(int i, int b) {
    const std::uint64_t id = w_.weak_ids[i];
    const bool required = id != 0 && local_walk().reached(id);
    gc::ptr<Obj> p = w_.weaks[i].lock();
    if (p) {
      if (id == 0) fail("thread %d: an empty gc::weak locked to %#llx", w_.index, ull(p->id));
      local_walk().reach(p.get(), id, "weak lock");  // the walk of a fresh epoch checks it all
    } else if (required) {
      fail("thread %d: weak %d to reachable object %#llx expired", w_.index, i, ull(id));
    }
    const std::uint64_t kept = p ? id : 0;
    if (b % 2 == 1) set_root((b / 2) % kRoots, std::move(p), kept);
  }

  // Every arena node's destructor runs in free(), exactly (no stack word can keep one).
  void free_arena(bool replace) {
    w_.arena_head = nullptr;
    const std::size_t made = w_.arena_targets.size();
    w_.arena_destroyed = 0;
    if (replace) {
      w_.arena = std::make_unique<gc::arena>();  // the old one's destructor frees
    } else {
      w_.arena->free();
    }
    if (static_cast<std::size_t>(w_.arena_destroyed) != made)
      fail("thread %d: the arena's free() ran %d destructors for %zu objects", w_.index,
           w_.arena_destroyed, made);
    w_.arena_targets.clear();
  }

  // Waits for the exchange's lock as a blocked thread: a holder stopped by a collection never
  // holds the collection up.
  std::unique_lock<std::mutex> lock_exchange() {
    {
      gc::blocking_region waiting;
      shared_.exchange_mutex.lock();
    }
    return std::unique_lock<std::mutex>(shared_.exchange_mutex, std::adopt_lock);
  }

  // mode 0: store; 1: exchange (the old value checked); 2: compare-exchange from the value loaded.
  void publish(int e, int mode, int r) {
    gc::ptr<Obj> p = root(r);
    auto lock = lock_exchange();
    gc::atomic_ptr<Obj>& slot = shared_.exchange[e];
    if (mode == 0) {
      slot.store(p);
    } else if (mode == 1) {
      check_header(slot.exchange(p).get(), shared_.exchange_ids[e], "publish: the old value");
    } else {
      gc::ptr<Obj> expected = slot.load();
      check_header(expected.get(), shared_.exchange_ids[e], "publish: the value loaded");
      if (!slot.compare_exchange_strong(expected, p))
        fail("thread %d: compare_exchange failed under the exchange's lock", w_.index);
    }
    shared_.exchange_ids[e] = w_.root_ids[r];
  }

  void take(int e, bool exchange, int r) {
    auto lock = lock_exchange();
    gc::ptr<Obj> p = exchange ? shared_.exchange[e].exchange(nullptr) : shared_.exchange[e].load();
    const std::uint64_t id = shared_.exchange_ids[e];
    if (exchange) shared_.exchange_ids[e] = 0;
    set_root(r, std::move(p), id);
  }

  Shared& shared_;
  Worker& w_;
  StackRoots& stack_;
  std::thread helper_;  // running a collection started by kCollect
};

// Zeroes the stack below the caller, where the next operation's frames will be. Stale copies of
// pointers there would keep objects alive that the program dropped, and hide a collector that
// loses them: an object a weak reference locks during a mark is kept by nothing else.
[[gnu::noinline]] void scrub_stack() {
  volatile char below[16 * 1024];
  std::memset(const_cast<char*>(below), 0, sizeof below);
  asm volatile("" : : "r"(below) : "memory");
}

// Waits as a blocked thread (gc::blocking_region): a collection never waits for the waiters.
void wait_at(std::barrier<>& barrier) {
  gc::blocking_region waiting;
  barrier.arrive_and_wait();
}

void run_thread(Shared& shared, Worker& w, std::barrier<>& barrier) {
  StackRoots stack;
  w.stack = &stack;
  Runner runner(shared, w, stack);
  for (const auto& round : shared.program.rounds) {
    for (const Op& op : round[w.index]) {
      runner.run(op);
      scrub_stack();
    }
    runner.join_helper();
    wait_at(barrier);  // every thread has finished the round
    if (w.index == 0) check_world(shared);
    wait_at(barrier);  // and the others waited for the check
  }
  runner.finish();
  w.stack = nullptr;
}

}  // namespace

extern "C" const char* __asan_default_options() {
  // A fake stack frame would hide stack words from the collector; leaks are the collector's call.
  return "detect_stack_use_after_return=0:detect_leaks=0";
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("GODEBUG", "gccheckmark=1", 0);  // every cycle's mark verified by a second mark
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::uint64_t inputs = 0;
  const Program program = decode(data, size);
  static const bool print_programs = std::getenv("API_FUZZER_PRINT") != nullptr;
  if (print_programs) print(program);
  gc::set_percent(program.start_percent);
  Shared shared(++inputs, program);
  std::barrier<> barrier(program.threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < program.threads; ++t)
    threads.emplace_back([&, t] { run_thread(shared, *shared.workers[t], barrier); });
  gc::blocking_region waiting;
  for (auto& t : threads) t.join();
  return 0;
}
