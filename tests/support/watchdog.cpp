// The hang watchdog, linked into every gtest executable. ctest kills a test that runs past its
// timeout without a word, and a hang that happens once in hundreds of runs then leaves nothing to
// go on. Under ctest, TRICOLOR_TEST_WATCHDOG_S (set 20 s under the test's timeout) arms a thread
// that, once that many seconds have passed, prints every thread's backtrace through gdb (where the
// machine has it) and aborts: the test fails with the stacks that show where it hung.
//
// The thread never calls the library, so the collector does not know of it. Everything it needs
// is prepared when it is armed, and it writes with write(2): a hung thread may hold the allocator's
// or stdio's lock. gdb is started with posix_spawn, which runs no fork handlers (the library's
// would stop the world, and a hung world may never stop), and is given 15 s, inside the 20 s left.
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

extern char** environ;

namespace {

struct Watchdog {
  int seconds = 0;
  std::string pid;
  std::string fired;
  posix_spawn_file_actions_t actions;
};

void say(const char* text) {
  const std::size_t length = std::strlen(text);
  for (std::size_t done = 0; done < length;) {
    const ssize_t n = ::write(STDERR_FILENO, text + done, length - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

void print_every_backtrace(Watchdog& w) {
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);  // where Yama restricts ptrace
  const char* argv[] = {"timeout", "15",  "gdb",          "-p",  w.pid.c_str(),         "-batch",
                        "-nx",     "-ex", "info threads", "-ex", "thread apply all bt", nullptr};
  pid_t child = 0;
  int status = 0;
  if (::posix_spawnp(&child, "timeout", &w.actions, nullptr, const_cast<char* const*>(argv),
                     environ) != 0 ||
      ::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) == 127)
    say("test watchdog: no backtraces (gdb could not be run)\n");
}

void watch(Watchdog* w) {
  std::this_thread::sleep_for(std::chrono::seconds(w->seconds));
  say(w->fired.c_str());
  print_every_backtrace(*w);
  say("test watchdog: aborting the hung test\n");
  std::abort();
}

[[maybe_unused]] const bool g_armed = [] {
  const char* value = std::getenv("TRICOLOR_TEST_WATCHDOG_S");
  const int seconds = value != nullptr ? std::atoi(value) : 0;
  if (seconds <= 0) return false;
  auto* w = new Watchdog;  // never freed: the thread may outlive every destructor
  w->seconds = seconds;
  w->pid = std::to_string(::getpid());
  w->fired = "\ntest watchdog: the test still runs after " + std::to_string(seconds) +
             " s; every thread's backtrace:\n";
  posix_spawn_file_actions_init(&w->actions);
  posix_spawn_file_actions_adddup2(&w->actions, STDERR_FILENO, STDOUT_FILENO);
  std::thread(watch, w).detach();
  return true;
}();

}  // namespace
