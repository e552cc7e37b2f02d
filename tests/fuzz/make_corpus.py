#!/usr/bin/env python3
"""make_corpus.py: writes the seed corpus of api_fuzzer.cpp into tests/fuzz/corpus/.

    python3 tests/fuzz/make_corpus.py [OUT_DIR]

The seeds are small programs in the fuzzer's input format (api_fuzzer.cpp says it: a header byte,
then 3-byte operations [op | thread << 5][a][b]), one for each part of the API and a few that run
threads and collections against each other, plus random bytes. The fuzzer starts from them and
keeps what it finds in a working corpus of its own. Run this again after a change of the format
(the operation codes below follow kOpTable).
"""
import os
import random
import sys

# The first code of each operation in kOpTable.
MAKE, REPEAT, LINK, UNLINK, DROP, LOAD = 0, 3, 4, 8, 9, 11
WEAK_SET, WEAK_LOCK, POOL_GET, POOL_PUT, ARENA_MAKE, ARENA_FREE = 14, 16, 18, 19, 20, 22
COLLECT, SET_PERCENT, PUBLISH, TAKE, GARBAGE, CLEANUP, VERIFY, ROUND = 23, 25, 26, 27, 28, 29, 30, 31
ROOTS = 10  # 0-3 on the stack, 4-5 interior pointers on the stack, 6-9 in malloc memory
SLOT_COPY = 3  # load's slot number that copies the root itself
HELPER = 1  # collect's operand for a collection on a helper thread
FREE_OS_MEMORY = 0  # collect's operand for gc::free_os_memory()
SYNC = 2  # collect's operand for gc::collect()


def header(threads, percent_index):
    """threads 1-3; GOGC kPercents[1 + percent_index]: 5, 25, 100, 300."""
    return bytes([(threads - 1) + 3 * percent_index])


def op(code, thread=0, a=0, b=0):
    return bytes([code | (thread << 5), a & 255, b & 255])


def link(thread, source, slot, target):
    return op(LINK, thread, source + ROOTS * slot, target)


def load_slot(thread, root, source, slot):
    return op(LOAD, thread, root, source + ROOTS * slot)


def copy(thread, root, source):
    return load_slot(thread, root, source, SLOT_COPY)


def repeat(thread, last, times):
    """The thread's last `last` operations again, `times` times."""
    return op(REPEAT, thread, last - 1, times - 1)


def seeds():
    s = {}
    # One thread: chains and a cycle across stack, interior and heap roots; drop, collect, reload.
    p = header(1, 0)
    for r in range(ROOTS):
        p += op(MAKE, 0, r, r)
    p += link(0, 0, 0, 1) + link(0, 1, 0, 4) + link(0, 4, 1, 6) + link(0, 6, 2, 0) + link(0, 7, 0, 9)
    p += op(DROP, 0, 1) + op(DROP, 0, 4) + op(COLLECT, 0, SYNC) + load_slot(0, 1, 0, 0)
    p += op(VERIFY) + op(DROP, 0, 0) + op(DROP, 0, 6) + op(GARBAGE, 0, 31, 6)
    p += op(COLLECT, 0, FREE_OS_MEMORY) + op(UNLINK, 0, 1, 0)
    p += op(ROUND) + copy(0, 2, 9) + op(COLLECT, 0, SYNC)
    s["graph-one-thread"] = p

    # Three threads pass objects through the exchange slots, link them into their own objects,
    # collect while the others mutate.
    p = header(3, 1)
    for t in range(3):
        for r in (0, 6, 4):
            p += op(MAKE, t, r, t + r)
        p += link(t, 0, 0, 6) + link(t, 6, 1, 4) + op(PUBLISH, t, t % 2 + 2 * (t % 3), 0)
    p += op(ROUND)
    for t in range(3):
        p += op(TAKE, t, (t + 1) % 2, 7) + link(t, 0, 2, 7) + op(DROP, t, 7) + op(DROP, t, 6)
        p += op(GARBAGE, t, 20, 5) + op(COLLECT, t, SYNC) + op(PUBLISH, t, 1 + 2 * 2, 4)
        p += op(TAKE, t, 1 + 2, 1)
    p += op(ROUND) + op(COLLECT, 1, FREE_OS_MEMORY) + op(VERIFY, 2)
    s["exchange-three-threads"] = p

    # Weak references: to a kept object, a dropped one, another thread's; locks that keep.
    p = header(2, 0)
    p += op(MAKE, 0, 0, 3) + op(MAKE, 0, 1, 7) + link(0, 0, 0, 1)
    p += op(WEAK_SET, 0, 0, 0) + op(WEAK_SET, 0, 1, 1)
    p += op(MAKE, 1, 0, 2) + op(PUBLISH, 1, 0, 0) + op(TAKE, 0, 0, 8) + op(WEAK_SET, 0, 2, 8)
    p += op(DROP, 0, 1) + op(COLLECT, 0, SYNC) + op(WEAK_LOCK, 0, 1, 1 + 2 * 3) + op(DROP, 0, 0)
    p += op(GARBAGE, 0, 31, 4) + op(COLLECT, 0, SYNC)
    p += op(WEAK_LOCK, 0, 0, 0) + op(WEAK_LOCK, 0, 1, 0) + op(WEAK_LOCK, 0, 2, 1)
    p += op(ROUND) + op(WEAK_LOCK, 1, 0, 1) + op(COLLECT, 0, SYNC)
    s["weak-refs"] = p

    # The pool: buffers carry objects from thread to thread, and across collections.
    p = header(3, 0)
    p += op(MAKE, 0, 0, 4) + op(POOL_GET, 0) + op(POOL_PUT, 0, 0) + op(POOL_GET, 0)
    p += op(POOL_PUT, 0, 0) + op(DROP, 0, 0)
    p += op(COLLECT, 1, SYNC) + op(POOL_GET, 1) + op(POOL_GET, 2) + op(MAKE, 2, 6, 5)
    p += op(POOL_PUT, 2, 6)
    p += op(ROUND) + op(POOL_GET, 0) + op(POOL_GET, 1) + op(COLLECT, 2, SYNC)
    p += op(COLLECT, 2, SYNC) + op(POOL_GET, 2)
    s["pool"] = p

    # Arenas: their nodes hold objects that nothing else holds, until free().
    p = header(2, 0)
    for r in range(5):
        p += op(MAKE, 0, r, r + 2) + op(ARENA_MAKE, 0, r) + op(DROP, 0, r)
    p += op(GARBAGE, 0, 31, 5) + op(COLLECT, 0, SYNC) + op(VERIFY)
    p += op(ARENA_FREE, 0, 0) + op(COLLECT, 0, SYNC)
    p += op(MAKE, 1, 6, 7) + op(ARENA_MAKE, 1, 6) + op(ARENA_MAKE, 1, 6) + op(ARENA_FREE, 1, 1)
    p += op(ARENA_MAKE, 1, 6)
    p += op(ROUND) + op(ARENA_MAKE, 0, 7)
    s["arena"] = p

    # GOGC changes and garbage: the pacer starts cycles while threads mutate; cleanups.
    p = header(3, 0)
    p += op(SET_PERCENT, 0, 1) + op(SET_PERCENT, 1, 0) + op(SET_PERCENT, 1, 1)
    for t in range(3):
        p += op(MAKE, t, 0, 5) + op(MAKE, t, 1, 6) + op(CLEANUP, t, 0) + op(CLEANUP, t, 1)
        p += link(t, 0, 0, 1) + op(GARBAGE, t, 31, 7) + op(DROP, t, 1) + op(GARBAGE, t, 31, 6)
        p += op(VERIFY, t)
    p += op(SET_PERCENT, 2, 3) + op(ROUND)
    for t in range(3):
        p += op(DROP, t, 0) + op(COLLECT, t, SYNC) + op(SET_PERCENT, t, 4)
    s["pacer-cleanups"] = p

    # Loops: one thread collects again and again while another moves objects between its stack
    # and slots, and a third churns the pool and weak references.
    p = header(3, 0)
    for r in (0, 1, 6):
        p += op(MAKE, 1, r, r)
    p += link(1, 0, 0, 1) + link(1, 1, 0, 6) + op(DROP, 1, 1)
    p += load_slot(1, 4, 0, 0) + op(UNLINK, 1, 0, 0) + link(1, 6, 1, 4) + load_slot(1, 1, 6, 1)
    p += op(UNLINK, 1, 6, 1) + link(1, 0, 0, 1) + repeat(1, 6, 32)
    p += op(COLLECT, 0, SYNC) + repeat(0, 1, 16)
    p += op(MAKE, 2, 0, 3) + op(WEAK_SET, 2, 0, 0) + op(POOL_GET, 2) + op(POOL_PUT, 2, 0)
    p += op(WEAK_LOCK, 2, 0, 1 + 2 * 7) + repeat(2, 5, 32)
    s["loops-during-collect"] = p

    # A helper thread collects while this one moves objects between a heap root, its stack and a
    # slot; each start of a collection waits for the last and checks what it left. Garbage
    # between the start and the moves lets the mark begin first.
    p = header(1, 2)
    p += op(MAKE, 0, 6, 2) + op(MAKE, 0, 7, 3) + link(0, 7, 0, 6)
    p += op(COLLECT, 0, HELPER) + op(GARBAGE, 0, 7, 2) + copy(0, 0, 6) + op(MAKE, 0, 6, 2)
    p += repeat(0, 4, 32) + repeat(0, 4, 32) + repeat(0, 4, 32)
    p += op(COLLECT, 0, HELPER) + op(GARBAGE, 0, 7, 2) + load_slot(0, 1, 7, 0)
    p += op(UNLINK, 0, 7, 0) + link(0, 7, 0, 6) + op(MAKE, 0, 6, 4) + repeat(0, 6, 32)
    p += op(ROUND) + op(COLLECT, 0, HELPER) + op(MAKE, 0, 4, 1) + op(PUBLISH, 0, 0, 4)
    p += op(DROP, 0, 4) + op(TAKE, 0, 0, 4) + repeat(0, 5, 32)
    s["helper-collects-while-moving"] = p

    # Weak references locked while a helper thread collects: the object each lock returns was
    # dropped just before, so only the lock keeps it, in a stack root (no barrier there).
    p = header(1, 2)
    p += op(MAKE, 0, 0, 2) + op(WEAK_SET, 0, 0, 0) + op(DROP, 0, 0) + op(COLLECT, 0, HELPER)
    p += op(GARBAGE, 0, 7, 2) + op(WEAK_LOCK, 0, 0, 1 + 2 * 1) + op(WEAK_LOCK, 0, 0, 1 + 2 * 2)
    p += op(WEAK_LOCK, 0, 0, 1 + 2 * 3) + repeat(0, 8, 32) + repeat(0, 8, 32) + repeat(0, 8, 32)
    s["weak-locks-while-collecting"] = p

    rng = random.Random(15)
    for n in range(3):
        s["random-%d" % n] = bytes(rng.randrange(256) for _ in range(240))
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
