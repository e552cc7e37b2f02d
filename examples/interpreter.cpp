// interpreter: a small Scheme whose every value, list and environment lives in the managed heap.
//
// Why gc::ptr everywhere. An interpreter cannot know who owns a value: lists are shared between
// variables, closures escape the call that made them, environments outlive their frames when a
// closure captures them. Every edge between interpreter objects is therefore a gc::ptr, and the
// collector, not the interpreter, decides what is dead. std::shared_ptr would leak here, because
// the interesting structures are cycles:
//   - a body with an inner (define (f ...) ...) binds f in the call's environment, and f's closure
//     captures that environment: frame -> binding -> closure -> frame;
//   - letrec does the same for several mutually recursive lambdas;
//   - make-counter returns a closure bound in the very frame it captures.
// When the call returns, the whole cycle is garbage, and the collector reclaims it like anything
// else.
//
// Why no Trace() method. Each gc::ptr member tells the collector where it lives when it is
// constructed (its word's bit in the pointer bitmap), so a Cons or an Env is scanned exactly with
// no help. The one thing to avoid is a std::vector<gc::ptr> with the default allocator inside a
// managed object: the vector's buffer is malloc memory, whose gc::ptrs are roots, and a frame
// holding its bindings that way would keep its own cycle alive forever (gc::allocator would make
// such a vector traced through the frame). Bindings are a managed linked list here, the simplest
// shape for a frame of a few names.
//
// Types whose destructor would only destroy gc::ptrs and numbers are marked
// gc::collect_without_destructor, so the sweeper frees them directly. Env keeps its destructor: it
// counts destroyed environments, which is how main shows that the cyclic frames really died.
//
// The program reads a prelude of definitions, then runs a few programs many times (recursive fib,
// map/filter/fold over a list, a closure counter, mutual recursion), checks every answer, and
// compares the heap after a short warm-up with the heap after many more iterations: garbage
// environments, cycles included, are collected, so the heap does not grow with the work done.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tricolor/gc.hpp>
#include <unordered_map>

namespace {

enum class Kind : std::uint8_t { Number, Symbol, Cons, Closure, Builtin };

// The common header; the empty list is a null gc::ptr<Value>. Objects are made as the derived type
// and destroyed as it, so no virtual destructor (and no vtable) is needed.
struct Value {
  explicit Value(Kind k) : kind(k) {}
  Kind kind;
};
using Ref = gc::ptr<Value>;

struct Number : Value {  // trivially copyable: allocated where the collector never scans
  explicit Number(long v) : Value(Kind::Number), value(v) {}
  long value;
};
// Interned: one object per name, so symbols compare by address. #t and #f are symbols too.
struct Symbol : Value {
  explicit Symbol(std::string n) : Value(Kind::Symbol), name(std::move(n)) {}
  std::string name;
};
struct Cons : Value {
  Cons(Ref a, Ref d) : Value(Kind::Cons), car(std::move(a)), cdr(std::move(d)) {}
  Ref car, cdr;
};

struct Binding {
  gc::ptr<Symbol> name;
  Ref value;
  gc::ptr<Binding> next;
};

struct Env {
  explicit Env(gc::ptr<Env> p) : parent(std::move(p)) {
    created.fetch_add(1, std::memory_order_relaxed);
  }
  // Runs on the library's destructor thread, hence the atomic. It must not follow parent or
  // bindings: in a cycle, their targets may be destroyed first.
  ~Env() { destroyed.fetch_add(1, std::memory_order_relaxed); }

  gc::ptr<Env> parent;
  gc::ptr<Binding> bindings;

  static inline std::atomic<long> created{0}, destroyed{0};
};

struct Closure : Value {
  Closure(Ref p, Ref b, gc::ptr<Env> e)
      : Value(Kind::Closure), params(std::move(p)), body(std::move(b)), env(std::move(e)) {}
  Ref params, body;
  gc::ptr<Env> env;  // the environment it was made in: the edge that closes the cycles
};

using BuiltinFn = Ref (*)(const Ref& args);
struct Builtin : Value {
  Builtin(const char* n, BuiltinFn f) : Value(Kind::Builtin), name(n), fn(f) {}
  const char* name;
  BuiltinFn fn;
};

}  // namespace

// Their destructors only destroy gc::ptrs: let the sweeper free them without running it.
template <>
inline constexpr bool gc::collect_without_destructor<Cons> = true;
template <>
inline constexpr bool gc::collect_without_destructor<Binding> = true;
template <>
inline constexpr bool gc::collect_without_destructor<Closure> = true;

namespace {

// Globals: each gc::ptr here, and in the map's malloc'ed nodes, is a root.
std::unordered_map<std::string, gc::ptr<Symbol>> g_symbols;
gc::ptr<Symbol> g_true, g_false;
gc::ptr<Env> g_global;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

gc::ptr<Symbol> intern(std::string_view name) {
  auto [it, fresh] = g_symbols.try_emplace(std::string(name));
  if (fresh) it->second = gc::make<Symbol>(std::string(name));
  return it->second;
}

Ref cons(Ref a, Ref d) { return gc::make<Cons>(std::move(a), std::move(d)); }
Cons& as_cons(const Ref& v) {
  if (!v || v->kind != Kind::Cons) fail("not a pair");
  return static_cast<Cons&>(*v);
}
const Ref& car(const Ref& v) { return as_cons(v).car; }
const Ref& cdr(const Ref& v) { return as_cons(v).cdr; }
long number(const Ref& v) {
  if (!v || v->kind != Kind::Number) fail("not a number");
  return static_cast<Number&>(*v).value;
}
Ref boolean(bool b) { return b ? g_true : g_false; }
bool truthy(const Ref& v) { return v != g_false; }

std::string show(const Ref& v) {
  if (!v) return "()";
  if (v->kind == Kind::Number) return std::to_string(static_cast<Number&>(*v).value);
  if (v->kind == Kind::Symbol) return static_cast<Symbol&>(*v).name;
  if (v->kind == Kind::Closure) return "#<closure>";
  if (v->kind == Kind::Builtin) return std::string("#<") + static_cast<Builtin&>(*v).name + ">";
  std::string out = "(";
  Ref rest = v;
  for (; rest && rest->kind == Kind::Cons; rest = cdr(rest))
    out += show(car(rest)) + (cdr(rest) ? " " : "");
  if (rest) out += ". " + show(rest);
  return out + ")";
}

// --- reading ------------------------------------------------------------------------------------

// The reader consumes the text it reads from the front of `in`.
bool skip_space(std::string_view& in) {  // false at the end of the input
  for (;;) {
    while (!in.empty() && std::isspace(static_cast<unsigned char>(in[0]))) in.remove_prefix(1);
    if (in.empty() || in[0] != ';') return !in.empty();
    in.remove_prefix(std::min(in.find('\n'), in.size()));  // a comment, to the end of the line
  }
}

Ref read(std::string_view& in);

Ref read_tail(std::string_view& in) {  // after '(': the elements up to the matching ')'
  if (!skip_space(in)) fail("missing )");
  if (in[0] == ')') {
    in.remove_prefix(1);
    return nullptr;
  }
  Ref head = read(in);  // before the tail: the order of cons's arguments is unspecified
  return cons(std::move(head), read_tail(in));
}

Ref read(std::string_view& in) {
  if (!skip_space(in)) fail("unexpected end of input");
  const char c = in[0];
  if (c == ')') fail("unexpected )");
  if (c == '(' || c == '\'') in.remove_prefix(1);
  if (c == '(') return read_tail(in);
  if (c == '\'') return cons(intern("quote"), cons(read(in), nullptr));
  const std::size_t length = std::min(in.find_first_of("()'; \t\n"), in.size());
  const std::string_view token = in.substr(0, length);
  in.remove_prefix(length);
  const bool digits = token.find_first_not_of("0123456789", token[0] == '-') == token.npos;
  if (digits && token != "-") return gc::make<Number>(std::stol(std::string(token)));
  return intern(token);
}

// --- environments and evaluation ----------------------------------------------------------------

void define(const gc::ptr<Env>& env, const gc::ptr<Symbol>& name, Ref value) {
  for (gc::ptr<Binding> b = env->bindings; b; b = b->next)
    if (b->name == name) {
      b->value = std::move(value);
      return;
    }
  env->bindings = gc::make<Binding>(name, std::move(value), env->bindings);
}

Binding& lookup(gc::ptr<Env> env, const Ref& name) {
  for (; env; env = env->parent)
    for (gc::ptr<Binding> b = env->bindings; b; b = b->next)
      if (b->name == name) return *b;
  fail("unbound variable " + show(name));
}

gc::ptr<Symbol> symbol(const Ref& v) {
  if (!v || v->kind != Kind::Symbol) fail("not a symbol: " + show(v));
  return gc::static_pointer_cast<Symbol>(v);
}

struct SpecialForms {
  gc::ptr<Symbol> quote, if_, define, set, lambda, let, letrec, begin;
};
SpecialForms g_forms;

Ref eval(Ref x, gc::ptr<Env> env);

Ref eval_each(const Ref& list, const gc::ptr<Env>& env) {
  if (!list) return nullptr;
  Ref head = eval(car(list), env);
  return cons(std::move(head), eval_each(cdr(list), env));
}

// Evaluates all but the last expression of a body and returns the last one unevaluated, so that
// eval can loop on it instead of recursing: tail calls then use no C++ stack.
Ref all_but_last(Ref body, const gc::ptr<Env>& env) {
  if (!body) fail("empty body");
  for (; cdr(body); body = cdr(body)) eval(car(body), env);
  return car(body);
}

Ref eval(Ref x, gc::ptr<Env> env) {
  for (;;) {
    if (!x) fail("cannot evaluate ()");
    if (x->kind == Kind::Symbol) return lookup(env, x).value;
    if (x->kind != Kind::Cons) return x;  // numbers and booleans evaluate to themselves

    const Ref& op = car(x);
    const Ref& args = cdr(x);
    if (op == g_forms.quote) return car(args);
    if (op == g_forms.if_) {
      const bool test = truthy(eval(car(args), env));
      const Ref& rest = cdr(cdr(args));
      if (!test && !rest) return g_false;
      x = test ? car(cdr(args)) : car(rest);
      continue;
    }
    if (op == g_forms.define) {
      const Ref& target = car(args);
      if (target && target->kind == Kind::Cons) {  // (define (name . params) body...)
        define(env, symbol(car(target)), gc::make<Closure>(cdr(target), cdr(args), env));
        return car(target);
      }
      define(env, symbol(target), eval(car(cdr(args)), env));
      return target;
    }
    if (op == g_forms.set) {
      Ref value = eval(car(cdr(args)), env);
      lookup(env, car(args)).value = std::move(value);
      return nullptr;
    }
    if (op == g_forms.lambda) return gc::make<Closure>(car(args), cdr(args), env);
    if (op == g_forms.begin) {
      x = all_but_last(args, env);
      continue;
    }
    if (op == g_forms.let || op == g_forms.letrec) {
      // let evaluates its initialisers outside the new frame; letrec inside it, after binding
      // every name, so that the lambdas it binds capture the frame that binds them.
      const bool rec = op == g_forms.letrec;
      gc::ptr<Env> frame = gc::make<Env>(env);
      for (Ref b = car(args); b; b = cdr(b)) define(frame, symbol(car(car(b))), nullptr);
      for (Ref b = car(args); b; b = cdr(b))
        define(frame, symbol(car(car(b))), eval(car(cdr(car(b))), rec ? frame : env));
      x = all_but_last(cdr(args), frame);
      env = std::move(frame);
      continue;
    }

    Ref f = eval(op, env);
    Ref values = eval_each(args, env);
    if (f && f->kind == Kind::Builtin) return static_cast<Builtin&>(*f).fn(values);
    if (!f || f->kind != Kind::Closure) fail("not a procedure: " + show(f));
    const Closure& closure = static_cast<Closure&>(*f);
    gc::ptr<Env> frame = gc::make<Env>(closure.env);
    Ref p = closure.params;
    for (; p && values; p = cdr(p), values = cdr(values))
      define(frame, symbol(car(p)), car(values));
    if (p || values) fail("wrong number of arguments");
    x = all_but_last(closure.body, frame);
    env = std::move(frame);
  }
}

// --- builtins -----------------------------------------------------------------------------------

template <class Op>
Ref fold_numbers(const Ref& args, Op op) {  // (+ a b c ...), (- a b ...), (* a b ...)
  long acc = number(car(args));
  for (Ref rest = cdr(args); rest; rest = cdr(rest)) acc = op(acc, number(car(rest)));
  return gc::make<Number>(acc);
}
template <class Op>
Ref compare(const Ref& args, Op op) {
  return boolean(op(number(car(args)), number(car(cdr(args)))));
}

void install_builtins() {
  auto add = [](const char* name, BuiltinFn fn) {
    define(g_global, intern(name), gc::make<Builtin>(name, fn));
  };
  add("+", [](const Ref& a) { return fold_numbers(a, std::plus<long>()); });
  add("-", [](const Ref& a) { return fold_numbers(a, std::minus<long>()); });
  add("*", [](const Ref& a) { return fold_numbers(a, std::multiplies<long>()); });
  add("remainder", [](const Ref& a) -> Ref {
    const long divisor = number(car(cdr(a)));
    if (divisor == 0) fail("remainder by zero");
    return gc::make<Number>(number(car(a)) % divisor);
  });
  add("<", [](const Ref& a) { return compare(a, std::less<long>()); });
  add(">", [](const Ref& a) { return compare(a, std::greater<long>()); });
  add("=", [](const Ref& a) { return compare(a, std::equal_to<long>()); });
  add("cons", [](const Ref& a) { return cons(car(a), car(cdr(a))); });
  add("car", [](const Ref& a) { return car(car(a)); });
  add("cdr", [](const Ref& a) { return cdr(car(a)); });
  add("list", [](const Ref& a) { return a; });
  add("null?", [](const Ref& a) { return boolean(!car(a)); });
  add("not", [](const Ref& a) { return boolean(!truthy(car(a))); });
}

Ref run(std::string_view source) {  // evaluates every form in the global environment
  Ref result;
  while (skip_space(source)) result = eval(read(source), g_global);
  return result;
}

constexpr std::string_view kPrelude = R"(
  (define (fib-test n)                 ; fib's closure captures the frame that binds it: a cycle
    (define (fib k) (if (< k 2) k (+ (fib (- k 1)) (fib (- k 2)))))
    (fib n))
  (define (range a b) (if (< a b) (cons a (range (+ a 1) b)) '()))
  (define (map f xs) (if (null? xs) '() (cons (f (car xs)) (map f (cdr xs)))))
  (define (filter keep? xs)
    (if (null? xs) '()
        (if (keep? (car xs)) (cons (car xs) (filter keep? (cdr xs))) (filter keep? (cdr xs)))))
  (define (fold f acc xs) (if (null? xs) acc (fold f (f acc (car xs)) (cdr xs))))
  (define (make-counter)               ; next! is bound in the frame it captures
    (define count 0)
    (define (next!) (set! count (+ count 1)) count)
    next!)
  (define (count-to n)
    (let ((tick (make-counter)) (last 0))
      (letrec ((loop (lambda (i) (if (< i n) (begin (set! last (tick)) (loop (+ i 1))) last))))
        (loop 0))))
  (define (parity n)                   ; two closures and their frame, all pointing at each other
    (letrec ((even? (lambda (k) (if (= k 0) #t (odd? (- k 1)))))
             (odd? (lambda (k) (if (= k 0) #f (even? (- k 1))))))
      (if (even? n) 'even 'odd)))
)";

struct Program {
  const char* source;
  std::string expected;
};

long sum_of_squares_of_multiples_of_3_below(long n) {
  long sum = 0;
  for (long x = 0; x < n; x += 3) sum += x * x;
  return sum;
}

const Program kPrograms[] = {
    {"(fib-test 15)", "610"},
    {"(fold + 0 (map (lambda (x) (* x x)) (filter (lambda (x) (= (remainder x 3) 0)) (range 0 "
     "200))))",
     std::to_string(sum_of_squares_of_multiples_of_3_below(200))},
    {"(map (lambda (x) (* x 10)) (list 1 2 3))", "(10 20 30)"},
    {"(count-to 250)", "250"},
    {"(list (parity 101) (parity 64))", "(odd even)"},
};

std::atomic<int> g_wrong{0};

void run_programs(int iterations) {
  for (int i = 0; i < iterations; ++i)
    for (const Program& p : kPrograms) {
      const std::string got = show(run(p.source));
      if (got != p.expected && g_wrong.fetch_add(1) < 5)
        std::fprintf(stderr, "WRONG: %s gave %s, expected %s\n", p.source, got.c_str(),
                     p.expected.c_str());
    }
}

// Runs `work` on a thread of its own and waits for it. Stacks are scanned conservatively: when the
// thread has exited, no dead stack slot of it can hold an interpreter object's address and keep it
// alive through the collection main runs next.
template <class F>
void on_fresh_thread(F work) {
  std::thread t([&] {
    try {
      work();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      g_wrong.fetch_add(1);
    }
  });
  gc::blocking_region waiting;  // main touches no managed memory while it waits
  t.join();
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

int main() {
  constexpr int kWarmup = 5, kIterations = 200;

  on_fresh_thread([] {
    g_true = intern("#t");
    g_false = intern("#f");
    g_forms = {intern("quote"),  intern("if"),  intern("define"), intern("set!"),
               intern("lambda"), intern("let"), intern("letrec"), intern("begin")};
    g_global = gc::make<Env>(nullptr);
    define(g_global, g_true, g_true);  // #t and #f are symbols that evaluate to themselves
    define(g_global, g_false, g_false);
    install_builtins();
    run(kPrelude);
    run_programs(kWarmup);
  });
  gc::collect();
  const gc::stats early = gc::read_stats();

  std::uint64_t peak = 0;  // the largest heap seen between iterations
  on_fresh_thread([&] {
    for (int i = 0; i < kIterations; i += 10) {
      run_programs(10);
      peak = std::max(peak, gc::read_stats().heap_alloc);
    }
  });
  gc::collect();
  const gc::stats late = gc::read_stats();

  const long created = Env::created.load(), destroyed = Env::destroyed.load();
  std::printf("%d iterations of %zu programs: all answers %s\n", kWarmup + kIterations,
              std::size(kPrograms), g_wrong.load() == 0 ? "right" : "WRONG");
  std::printf("allocated %.1f MiB in %llu objects; %llu collections (%llu forced)\n",
              mib(late.total_alloc), static_cast<unsigned long long>(late.mallocs),
              static_cast<unsigned long long>(late.num_gc),
              static_cast<unsigned long long>(late.num_forced_gc));
  std::printf(
      "heap after collect: %.1f KiB after %d iterations, %.1f KiB after %d; peak %.2f MiB\n",
      early.heap_alloc / 1024.0, kWarmup, late.heap_alloc / 1024.0, kWarmup + kIterations,
      mib(peak));
  std::printf("environments: %ld made, %ld destroyed, %ld live\n", created, destroyed,
              created - destroyed);

  int failures = g_wrong.load();
  auto check = [&](bool good, const char* what) {
    if (!good) ++failures, std::fprintf(stderr, "FAILED: %s\n", what);
  };
  // Each iteration leaves five cyclic frames behind: fib-test's, make-counter's, count-to's letrec
  // and parity's letrec, twice. Had cycles leaked, a thousand would be live; what is left is the
  // global environment and, at most, a frame that a stale stack word somewhere still points at.
  check(created - destroyed <= 8, "environments leaked");
  check(late.heap_alloc <= early.heap_alloc + (256 << 10), "the heap grew with the iterations");
  check(late.num_gc > late.num_forced_gc, "the collector never ran on its own");
  return failures == 0 ? 0 : 1;
}
