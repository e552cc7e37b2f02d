#!/usr/bin/env python3
"""Function-local statics with dynamic initialisation, in the library's sources.

The first call of a function whose local static is initialised at run time takes a guard, which is
a lock. A thread stopped by the stop signal while it holds that guard (inside the initialiser) holds
it for the whole stop, and a collector that calls the same function with the world stopped then
waits for it forever: a deadlock, which CI once caught with cpu_count(). So the library has such a
static only where the first call is known to come before any stop can reach a thread that makes
it: below, each one with the reason. A new one fails this test until it is made constant-initialised
(constinit, constexpr) or guard-free, or is added here with its reason.

Usage: function_statics.py SOURCE_DIR
"""
import pathlib
import re
import sys

# file, variable: why the first initialisation never runs on a thread a stop can reach
ALLOWED = {
    ("src/base/settings.cpp", "loaded"): "ensure_runtime() reads the settings first, before the "
    "stop signal is installed",
    ("src/gc/cycle_stats.cpp", "start"): "ensure_runtime() calls library_start_ns() first",
    ("src/heap/page_heap.cpp", "heap"): "ensure_runtime() creates the page heap",
    ("src/gc/pacer.cpp", "p"): "ensure_runtime() configures the pacer",
    ("src/gc/root_set.cpp", "all"): "ensure_runtime() counts the roots, which creates the stripes",
    ("src/runtime/thread_registry.cpp", "key_created"): "taken by a registering thread before it "
    "joins the registry, so no stop waits for it",
    ("src/gc/symbolizer.cpp", "m"): "the symbolizer runs only when a heap profile is written, "
    "never in a stop",
    ("src/gc/symbolizer.cpp", "s"): "the symbolizer runs only when a heap profile is written, "
    "never in a stop",
}

# `static T name = ...` or `static T name{...}` inside a function (indented), minus the kinds that
# need no guard.
STATIC = re.compile(r"^\s+static\s+(?:const\s+)?[A-Za-z_][\w:<>*&, ]*?\b([A-Za-z_]\w*)\s*(?:=|\{)")
NO_GUARD = re.compile(r"\b(constexpr|constinit|thread_local|static_assert)\b")


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    found = set()
    bad = []
    for path in sorted(list(root.glob("src/**/*.[ch]pp")) + list(root.glob("include/**/*.hpp"))):
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = STATIC.match(line)
            if match is None or NO_GUARD.search(line):
                continue
            key = (rel, match.group(1))
            found.add(key)
            if key not in ALLOWED:
                bad.append(f"{rel}:{number}: function-local static '{match.group(1)}' is "
                           "initialised at run time, behind a guard a stopped thread can hold")
    for key in sorted(set(ALLOWED) - found):
        bad.append(f"{key[0]}: '{key[1]}' is allowed here but no longer found: drop it from the list")
    for message in bad:
        print(message)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
