// A ucontext fiber for the tests: every switch is announced to tricolor (tricolor/fiber.hpp) and,
// in a sanitizer build, to the sanitizer's own fiber API too, as a program would.
//
//   test::Fiber f([&](test::Fiber& self) { ...; self.yield(); ... });
//   f.resume();  // runs the body until it yields or returns
//
// `announce = false` makes a fiber whose switches tricolor is not told of (misuse, for the tests
// that expect the program to stop with a message).
#pragma once

#include <ucontext.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <tricolor/fiber.hpp>

#include "sanitizers.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define TRICOLOR_TEST_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRICOLOR_TEST_ASAN_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TRICOLOR_TEST_TSAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TRICOLOR_TEST_TSAN_FIBERS 1
#endif
#endif
#ifdef TRICOLOR_TEST_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TRICOLOR_TEST_TSAN_FIBERS
#include <sanitizer/tsan_interface.h>
#endif

namespace test {

class Fiber {
 public:
  explicit Fiber(std::function<void(Fiber&)> body, std::size_t stack_size = 256 * 1024,
                 bool announce = true)
      : body_(std::move(body)), stack_size_(stack_size), announce_(announce) {
    stack_ = static_cast<char*>(std::aligned_alloc(64, stack_size));
    if (announce_) gc_fiber_.emplace(stack_, stack_size);
    getcontext(&context_);
    context_.uc_stack.ss_sp = stack_;
    context_.uc_stack.ss_size = stack_size;
    context_.uc_link = nullptr;
    const auto self = reinterpret_cast<std::uintptr_t>(this);
    makecontext(&context_, reinterpret_cast<void (*)()>(&Fiber::entry), 2,
                static_cast<unsigned>(self >> 32), static_cast<unsigned>(self));
#ifdef TRICOLOR_TEST_TSAN_FIBERS
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
  }
  ~Fiber() {
#ifdef TRICOLOR_TEST_TSAN_FIBERS
    __tsan_destroy_fiber(tsan_fiber_);
#endif
    gc_fiber_.reset();
    std::free(stack_);
  }
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // From a thread's own stack: runs the fiber until it yields or its body returns.
  void resume() {
    if (announce_) gc::start_switch_fiber(&*gc_fiber_);
#ifdef TRICOLOR_TEST_ASAN_FIBERS
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, stack_, stack_size_);
#endif
#ifdef TRICOLOR_TEST_TSAN_FIBERS
    tsan_caller_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
    swapcontext(&caller_, &context_);
#ifdef TRICOLOR_TEST_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    if (announce_) gc::finish_switch_fiber();
  }

  // From inside the body: back to the thread that resumed it.
  void yield() { switch_to_caller(/*exiting=*/false); }

  bool done() const { return done_; }
  char* stack() const { return stack_; }
  std::size_t stack_size() const { return stack_size_; }

 private:
  static void entry(unsigned hi, unsigned lo) {
    auto* self = reinterpret_cast<Fiber*>((std::uintptr_t{hi} << 32) | lo);
    self->arrived();
    self->body_(*self);
    self->done_ = true;
    self->switch_to_caller(/*exiting=*/true);
  }

  void arrived() {
#ifdef TRICOLOR_TEST_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(fake_stack_, &caller_bottom_, &caller_size_);
#endif
    if (announce_) gc::finish_switch_fiber();
  }

  void switch_to_caller(bool exiting) {
    if (announce_) gc::start_switch_fiber(nullptr);
#ifdef TRICOLOR_TEST_ASAN_FIBERS
    __sanitizer_start_switch_fiber(exiting ? nullptr : &fake_stack_, caller_bottom_, caller_size_);
#endif
#ifdef TRICOLOR_TEST_TSAN_FIBERS
    __tsan_switch_to_fiber(tsan_caller_, 0);
#endif
    (void)exiting;
    swapcontext(&context_, &caller_);
    arrived();
  }

  std::function<void(Fiber&)> body_;
  std::size_t stack_size_;
  bool announce_;
  char* stack_ = nullptr;
  std::optional<gc::fiber> gc_fiber_;
  ucontext_t context_{};
  ucontext_t caller_{};
  bool done_ = false;
  [[maybe_unused]] void* fake_stack_ = nullptr;
  [[maybe_unused]] const void* caller_bottom_ = nullptr;
  [[maybe_unused]] std::size_t caller_size_ = 0;
  [[maybe_unused]] void* tsan_fiber_ = nullptr;
  [[maybe_unused]] void* tsan_caller_ = nullptr;
};

}  // namespace test
