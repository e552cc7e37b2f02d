// A library thread: one of the threads the library runs for itself (the background sweeper, the
// scavenger, the destructor and cleanup threads, the mark controller and workers, the page
// backer). Every one of them is owned the same way, by a LibraryThread, which starts it, wakes it,
// stops it, and lets it start again after fork().
//
// A LibraryThread is constant-initialised and trivially destructible, so it can be a global that
// is usable before any dynamic initialiser has run (a user's global constructor may allocate and
// collect first) and that is never destroyed while its thread may still run at exit.
//
// The thread starts on start() or the first wake(), which must come from outside any critical
// section (starting a thread allocates). A kMutator thread (the sweeper, the scavenger, the
// destructor and cleanup threads: they allocate, sweep or run user code) registers itself, so that
// stops see it, and waits inside a blocking scope between rounds, so a stop never waits for a
// sleeping thread; it releases its signal's lock before that scope ends (leaving it may wait for a
// stop in progress). A kCollector thread (the mark controller and workers, the page backer) does
// not register: a stop never waits for it, and it never touches a stack or a lock that a stopped
// thread could hold (every lock it shares with mutators is taken by mutators only inside critical
// sections). Each wake asks for one round of `work`; wakes are counted, not queued: several during
// one round cause one more round.
//
// After fork() the thread is gone and may have died holding its signal's lock: the child drops the
// signal and starts a new thread at the next wake.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace gc::detail {

class LibraryThread {
 public:
  enum class Kind : std::uint8_t { kMutator, kCollector };

  // `work` runs one round on the thread each time it is woken.
  constexpr LibraryThread(const char* name, void (*work)(), Kind kind = Kind::kMutator)
      : name_(name), work_(work), kind_(kind) {}
  LibraryThread(const LibraryThread&) = delete;
  LibraryThread& operator=(const LibraryThread&) = delete;

  // Starts the thread if it is not running (outside critical sections: it allocates). Throws
  // std::system_error if the OS refuses a thread; the next start() tries again.
  void start();
  // Asks for a round of work, starting the thread if needed (outside critical sections).
  void wake();
  // start() and wake() for a thread the library can go on without, doing its work some other way
  // (the caller's fallback): a refusal is reported on stderr, the first time only, and returns
  // false; the next call tries again. They never throw, so an allocation that has taken its slot
  // may call them.
  bool try_start() noexcept;
  bool try_wake() noexcept;
  // Asks for a round of work without starting the thread: anywhere, critical sections included.
  // A thread that is not running yet does the round when it starts. Outside critical sections and
  // blocking scopes, a registered caller counts as stopped while it makes the wake's system call,
  // and may park at a stop on its way out.
  void notify();
  // Asks the thread to leave once its round is done, and waits until it has; start() or wake()
  // starts a new one. Not from the thread itself.
  void stop();
  // In the child after fork(): the thread did not survive; the next start() makes a new one.
  void forget_after_fork();

  bool started() const { return started_.load(std::memory_order_acquire); }
  const char* name() const { return name_; }

  // Tests: while set, every start() of a thread not running is refused as the OS refuses one at
  // its thread limit (std::system_error, EAGAIN). A test sets it in a process of its own.
  static void refuse_starts_for_test(bool refuse) {
    refuse_starts_.store(refuse, std::memory_order_relaxed);
  }
  // Tests: kMutator threads started that have not registered yet. A registration takes the
  // registry's lock, which a test that stages a stop or a mark start may need to find free.
  static int registering_for_test() { return registering_.load(std::memory_order_acquire); }
  // Tests: `hook` runs on the waking thread just before each wake's system call, where the wake
  // makes it (nullptr: none).
  static void set_wake_hook_for_test(void (*hook)()) {
    wake_hook_.store(hook, std::memory_order_relaxed);
  }

 private:
  struct Signal {
    std::mutex mutex;
    std::condition_variable wake;
    std::condition_variable exited;
    std::uint64_t requests = 0;
    // The requests a round has started for. The signal's, not a thread's: a thread started after a
    // stop owes no round for what its predecessor served, and does one for what it did not.
    std::uint64_t served = 0;
    bool stop = false;
    bool running = false;
  };
  Signal& signal();
  void run(Signal* s);
  void loop(Signal* s);
  // Waits for a wake; false when asked to stop (the thread then leaves).
  static bool wait_for_work(Signal* s);
  static void wake_one(Signal& s);

  const char* name_;
  void (*work_)();
  Kind kind_;
  // Made by the first start() and never freed: after a fork the old one may still be locked by a
  // thread that no longer exists, and at exit the thread may still wait on it.
  std::atomic<Signal*> signal_{nullptr};
  std::atomic<bool> started_{false};
  std::atomic<bool> refusal_reported_{false};
  static constinit inline std::atomic<bool> refuse_starts_{false};
  static constinit inline std::atomic<void (*)()> wake_hook_{nullptr};
  static constinit inline std::atomic<int> registering_{0};
};

}  // namespace gc::detail
