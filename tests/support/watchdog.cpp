// The hang watchdog, linked into every gtest executable. ctest kills a test that runs past its
// timeout without a word, and a hang that happens once in hundreds of runs then leaves nothing to
// go on. Under ctest, TRICOLOR_TEST_WATCHDOG_S (set a little under the test's timeout) arms a
// thread that, once that many seconds have passed, prints every thread's backtrace through gdb
// (where the machine has it) and aborts: the test fails with the stacks that show where it hung.
//
// The thread never calls the library, so the collector does not know of it. gdb is started with
// posix_spawn, which runs no fork handlers: the library's would stop the world, and a hung world
// may never stop.
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

extern char** environ;

namespace {

void print_every_backtrace() {
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);  // where Yama restricts ptrace
  const std::string pid = std::to_string(::getpid());
  const char* argv[] = {"timeout", "60",  "gdb",          "-p",  pid.c_str(),           "-batch",
                        "-nx",     "-ex", "info threads", "-ex", "thread apply all bt", nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t child = 0;
  const int error =
      ::posix_spawnp(&child, "timeout", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (error != 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) == 127)
    std::fprintf(stderr, "test watchdog: no backtraces (gdb could not be run)\n");
}

void watch(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  std::fprintf(stderr,
               "\ntest watchdog: the test still runs after %d s; every thread's backtrace:\n",
               seconds);
  print_every_backtrace();
  std::fprintf(stderr, "test watchdog: aborting the hung test\n");
  std::abort();
}

[[maybe_unused]] const bool g_armed = [] {
  const char* value = std::getenv("TRICOLOR_TEST_WATCHDOG_S");
  const int seconds = value != nullptr ? std::atoi(value) : 0;
  if (seconds <= 0) return false;
  std::thread(watch, seconds).detach();
  return true;
}();

}  // namespace
