// worker_pool: worker threads that reuse scratch buffers through a gc::pool.
//
// Each job needs a 64 KiB scratch buffer for a moment. Making a fresh one per job would allocate
// 64 KiB per job and bring collections on sooner; a free list kept by hand would hold buffers
// forever, even after a burst of work is over. gc::pool, like Go's sync.Pool, sits between the two:
// get() hands out a buffer that a previous job put back (the calling thread's own first), or a new
// one from the factory; put() returns it. The pool holds its buffers loosely: a collection may drop
// those that nobody has taken (each survives at least one), so an idle pool costs no memory in the
// long run, and a buffer is never freed while a job still uses it, because the job's gc::ptr keeps
// it alive.
//
// The jobs come in two bursts with an idle spell between them. In each burst the workers take jobs
// from a mutex-guarded queue, fill a pooled buffer with the job's input and reduce it to a
// checksum through a 16 KiB managed histogram, so the heap grows and the collector runs on its
// own. In the idle spell the program counts what the pool still holds after one explicit
// collection and after two more (by then the pool has let them go, and the second burst makes new
// ones; printed, not checked, since the contract only says it may). Every checksum is checked
// against one computed with an ordinary buffer; an in-use flag in each buffer checks that the pool
// never gives one buffer to two jobs at once; and once the pool itself is gone, every buffer it
// made must be collected.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <tricolor/gc.hpp>
#include <vector>

namespace {

constexpr std::size_t kBufferBytes = 64 << 10;
constexpr int kWorkers = 4;
constexpr int kJobsPerBurst = 3'000;

struct Buffer {
  Buffer() { made.fetch_add(1, std::memory_order_relaxed); }
  // Runs on the library's destructor thread when a collection drops the buffer.
  ~Buffer() { destroyed.fetch_add(1, std::memory_order_relaxed); }

  // The bytes are a separate managed array: std::byte is trivially copyable, so the array lives in
  // memory the collector never scans.
  gc::ptr<std::byte[]> bytes = gc::make<std::byte[]>(kBufferBytes);
  std::atomic<bool> in_use{false};

  static inline std::atomic<long> made{0}, destroyed{0};
};

// The job's input, written into `scratch`, then reduced through a managed histogram. The result
// does not depend on what the scratch held before: a pooled object comes back as it was put, so the
// job overwrites all of it.
std::uint64_t run_job(int job, std::span<std::byte> scratch) {
  std::uint64_t state = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(job + 1);
  for (std::size_t i = 0; i + sizeof state <= scratch.size(); i += sizeof state) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
    std::memcpy(&scratch[i], &state, sizeof state);
  }
  gc::ptr<std::uint32_t[]> histogram = gc::make<std::uint32_t[]>(4096);  // 16 KiB of garbage
  for (std::size_t i = 0; i + sizeof(std::uint16_t) <= scratch.size(); i += sizeof(std::uint16_t)) {
    std::uint16_t word;
    std::memcpy(&word, &scratch[i], sizeof word);
    ++histogram[word >> 4];
  }
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < histogram.size(); ++i) sum = sum * 31 + histogram[i];
  return sum;
}

// Jobs are plain ints, so nothing here touches managed memory, and the waits can be blocking
// regions: a worker that waits for work, or main waiting for the workers, counts as stopped for the
// collector, which then never has to interrupt it. The short critical sections take the mutex in
// one too: a thread that waits for it while its holder is stopped must not hold the stop up (under
// ThreadSanitizer, a thread blocked on a mutex takes no signal until it has the mutex).
class JobQueue {
 public:
  void push(int job) {
    {
      gc::blocking_region waiting;
      std::lock_guard lock(mutex_);
      jobs_.push_back(job);
      ++unfinished_;
    }
    changed_.notify_all();
  }
  // The next job, or nothing once the queue is closed and empty.
  std::optional<int> pop() {
    gc::blocking_region waiting;
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
    if (jobs_.empty()) return std::nullopt;
    const int job = jobs_.front();
    jobs_.pop_front();
    return job;
  }
  void finished() {
    {
      gc::blocking_region waiting;
      std::lock_guard lock(mutex_);
      --unfinished_;
    }
    changed_.notify_all();
  }
  void wait_until_idle() {
    gc::blocking_region waiting;
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return unfinished_ == 0; });
  }
  void close() {
    {
      gc::blocking_region waiting;
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> jobs_;
  int unfinished_ = 0;
  bool closed_ = false;
};

std::atomic<int> g_failures{0};

void fail(const char* what, int job) {
  if (g_failures.fetch_add(1) < 10) std::fprintf(stderr, "FAILED: %s (job %d)\n", what, job);
}

void worker(JobQueue& queue, gc::pool<Buffer>& buffers, std::vector<std::uint64_t>& results) {
  while (const std::optional<int> job = queue.pop()) {
    gc::ptr<Buffer> scratch = buffers.get();
    if (scratch->in_use.exchange(true)) fail("a buffer was handed to two jobs at once", *job);
    results[*job] = run_job(*job, std::span(scratch->bytes.get(), scratch->bytes.size()));
    scratch->in_use.store(false);
    buffers.put(std::move(scratch));
    queue.finished();
  }
}

// How many buffers the pool holds: takes them with get() until it has to make one, then puts back
// all but that new one.
long count_pooled(gc::pool<Buffer>& buffers) {
  std::vector<gc::ptr<Buffer>> taken;  // malloc memory: its gc::ptrs are roots while they exist
  for (long made = Buffer::made.load();; made = Buffer::made.load()) {
    gc::ptr<Buffer> b = buffers.get();
    if (Buffer::made.load() != made) break;
    taken.push_back(std::move(b));
  }
  for (gc::ptr<Buffer>& b : taken) buffers.put(std::move(b));
  return static_cast<long>(taken.size());
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// Two bursts of jobs with an idle spell between them, in which two collections run.
void run_bursts(std::vector<std::uint64_t>& results) {
  gc::pool<Buffer> buffers([] { return gc::make<Buffer>(); });
  JobQueue queue;
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i)
    workers.emplace_back(worker, std::ref(queue), std::ref(buffers), std::ref(results));

  const gc::stats start = gc::read_stats();
  for (int job = 0; job < kJobsPerBurst; ++job) queue.push(job);
  queue.wait_until_idle();
  const long made_first = Buffer::made.load();
  const gc::stats first = gc::read_stats();
  std::printf(
      "burst 1: %d jobs, %ld buffers made (%.0f jobs per buffer), %.1f MiB allocated, %llu "
      "collections\n",
      kJobsPerBurst, made_first, static_cast<double>(kJobsPerBurst) / made_first,
      mib(first.total_alloc - start.total_alloc),
      static_cast<unsigned long long>(first.num_gc - start.num_gc));

  // Idle: the pooled buffers are held by nothing but the pool. A buffer put back survives at least
  // one collection, and the pool is free to let it go after that. (Not checked: one gc::collect()
  // may run two cycles, and a cycle may already be under way when it is called.)
  const long at_end = count_pooled(buffers);
  gc::collect();
  const long after_one = count_pooled(buffers);
  gc::collect();
  gc::collect();
  const long after_three = count_pooled(buffers);
  std::printf("idle: the pool held %ld buffers, %ld after gc::collect(), %ld after two more\n",
              at_end, after_one, after_three);

  const long made_before_second = Buffer::made.load();
  for (int job = kJobsPerBurst; job < 2 * kJobsPerBurst; ++job) queue.push(job);
  queue.close();
  {
    gc::blocking_region waiting;  // joining touches no managed memory
    for (std::thread& t : workers) t.join();
  }
  std::printf("burst 2: %d jobs, %ld new buffers made\n", kJobsPerBurst,
              Buffer::made.load() - made_before_second);
}

}  // namespace

int main() {
  std::vector<std::uint64_t> results(2 * kJobsPerBurst);
  // On a thread of its own, so that once it has exited no stale stack word of it can keep a
  // buffer alive through the collection below (stacks are scanned conservatively).
  std::thread(run_bursts, std::ref(results)).join();

  std::vector<std::byte> plain(kBufferBytes);
  for (int job = 0; job < 2 * kJobsPerBurst; ++job)
    if (results[job] != run_job(job, plain)) fail("wrong checksum", job);

  // The pool is gone, and with it the last references to the buffers it held.
  gc::collect();
  const long made = Buffer::made.load(), destroyed = Buffer::destroyed.load();
  std::printf(
      "%d jobs on %d workers: %ld buffers of %zu KiB in all; %ld collected once the pool "
      "was gone; checksums %s\n",
      2 * kJobsPerBurst, kWorkers, made, kBufferBytes >> 10, destroyed,
      g_failures.load() == 0 ? "right" : "WRONG");

  // Reuse is the point: a few buffers per worker per collection at most, far fewer than jobs.
  if (made > kJobsPerBurst / 10) fail("the pool hardly reused its buffers", 0);
  if (destroyed != made) fail("buffers outlived their pool", 0);
  return g_failures.load() == 0 ? 0 : 1;
}
