#!/usr/bin/env python3
"""Function-local statics with dynamic initialisation, in the library as built.

The first call of a function whose local static is initialised at run time takes a guard, which is
a lock. A thread stopped by the stop signal while it holds that guard (inside the initialiser) holds
it for the whole stop, and a collector that calls the same function with the world stopped then
waits for it forever: a deadlock, which CI once caught with cpu_count(). So the library has such a
static only where the first call is known to come before any stop can reach a thread that makes
it: below, each one with the reason. A new one fails this test until it is made constant-initialised
(constinit, constexpr) or guard-free, or is added here with its reason.

The guards are read from the library's symbols (`guard variable for ...`), which the compiler emits
for every such static whatever the form of its declaration.

Usage: function_statics.py NM LIBRARY
"""
import re
import subprocess
import sys

from lint_report import report

# the static, as nm -C names it: why its first initialisation never runs on a thread a stop can reach
ALLOWED = {
    "gc::detail::settings()::loaded":
        "ensure_runtime() reads the settings first, before the stop signal is installed",
    "gc::detail::library_start_ns()::start": "ensure_runtime() calls library_start_ns() first",
    "gc::detail::page_heap()::heap": "ensure_runtime() creates the page heap",
    "gc::detail::pacer()::p": "ensure_runtime() configures the pacer",
    "gc::detail::(anonymous namespace)::stripes()::all":
        "ensure_runtime() counts the roots, which creates the stripes",
    "gc::detail::register_current_thread(char const*)::key_created":
        "taken by a registering thread before it joins the registry, so no stop waits for it",
    "gc::detail::(anonymous namespace)::this_thread_index()::index":
        "a thread_local: each thread has a guard of its own, which no other thread waits for",
    "gc::detail::(anonymous namespace)::backtrace_mutex()::m":
        "the symbolizer runs only when a heap profile is written, never in a stop",
    "gc::detail::(anonymous namespace)::state()::s":
        "the symbolizer runs only when a heap profile is written, never in a stop",
}
# The symbolizer's exist only where libbacktrace was found; the rest must all be there.
OPTIONAL = {
    "gc::detail::(anonymous namespace)::backtrace_mutex()::m",
    "gc::detail::(anonymous namespace)::state()::s",
}

GUARD = re.compile(r"guard variable for (.+)$")


def main() -> int:
    nm, library = sys.argv[1], sys.argv[2]
    listing = subprocess.run([nm, "-C", library], check=True, capture_output=True, text=True)
    found = {m.group(1).strip() for line in listing.stdout.splitlines()
             if (m := GUARD.search(line)) is not None}
    bad = [f"{name}: a function-local static initialised at run time, behind a guard a stopped "
           "thread can hold" for name in sorted(found - set(ALLOWED))]
    bad += [f"{name}: allowed here but no longer in the library: drop it from the list"
            for name in sorted(set(ALLOWED) - found - OPTIONAL)]
    return report(bad, f"{len(found)} guarded statics in {library}, all accounted for")


if __name__ == "__main__":
    sys.exit(main())
