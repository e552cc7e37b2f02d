#!/usr/bin/env python3
"""bench_suite: runs every tricolor benchmark workload against every available peer, side by side in
one run, and writes the report (docs/benchmarks.md with SVG charts) or prints a compact table.

Why a script: the question "tricolor, Boehm's collector or std::shared_ptr?" is answered by ratios
measured on one machine in one sitting, with the noise shown, and with the environment written
down next to the numbers. The bench_* programs (bench/) each measure one workload; this script
runs them all the same way, repeats them, interleaves the peers so that a slow minute on a shared
machine hurts them alike, and turns the results into tables and pictures. It only needs Python 3's
standard library (the charts come from tools/svg_chart.py), so it runs on a bare machine.

Usage (normally through CMake: `cmake --workflow --preset bench` or `--preset bench-quick`, or the
targets bench-report / bench-quick):
  tools/bench_suite.py --build-dir BUILD [--mode quick|full] [--out DIR] [--repeat N]
                       [--only KEY,...] [--quiet] [--command TEXT] [--from-results JSON]
  --build-dir  a configured and built CMake tree (it reads BUILD/bench/bench_config.json, which
               bench/CMakeLists.txt writes, and runs the programs listed there)
  --mode       quick: smaller sizes, 3 runs each, about a minute on 2 cores;
               full (default): the benchmarks' usual sizes, 5 runs each, several minutes
  --out        where benchmarks.md and benchmarks/ (SVGs, results.json) go; without it only the
               compact table is printed (it is printed in any case, on stdout; progress goes to
               stderr)
  --quiet      one progress line per workload (on stderr) instead of one per run
  --command    how the report should say it was made (the CMake targets pass their workflow)
  --from-results  run nothing; rewrite the report from the results.json of an earlier run
  --only       run only these workloads (binary_trees_1, binary_trees_2, gcbench, graph_churn,
               gc_latency, micro): for working on one of them

How a run is measured: every run is a fresh child process (the benchmark's child mode,
`bench_X --impl=NAME ...`) that prints a RESULT line with the wall time of the workload alone and
its peak RSS (getrusage ru_maxrss). Children are started through /bin/sh, which forks them: Linux
carries the peak RSS of a process image across exec, so a child exec'd straight from this Python
process would report Python's own peak (tens of MiB) as a floor under its own; forked from a small
shell it starts from the shell's ~1 MiB, as the C++ drivers' children do. Peers that are another
build of the same code: "new/delete + mimalloc" and "shared_ptr + mimalloc" are the new_delete and
shared_ptr children with Debian's libmimalloc.so in LD_PRELOAD (mimalloc as a drop-in malloc); "Go"
is the Go twin of a workload (bench/go/), exec'd by its bench's child mode. tricolor and Go children
run with GODEBUG=gctrace=1, and every stop-the-world pause of their gctrace lines (mark start and
mark termination, Go's "sweep termination" and "mark termination") feeds the pause histogram.
A peer that is not available is reported as missing, with the reason; a run that fails (exit
status, missing RESULT line, output that differs from the other peers', timeout) is reported as
FAILED, and the script exits with status 1 after writing what it has.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

sys.dont_write_bytecode = True  # run from a build, it should leave no __pycache__ in the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svg_chart as chart  # noqa: E402  (next to this file)

# --- peers and workloads ------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    key: str
    label: str  # in tables and charts
    what: str  # Markdown: what this peer is, for the report's list of peers
    color: str
    impl: str  # the child's --impl=
    needs: str = ""  # "boehm", "mimalloc" or "go": a peer that may be missing
    preload: bool = False  # LD_PRELOAD mimalloc
    gctrace: bool = False  # GODEBUG=gctrace=1, pauses parsed from stderr


PEERS = {
    p.key: p
    for p in [
        Peer("tricolor", "tricolor", "`gc::ptr` members, `gc::make`; dropped objects are left to "
             "the collector (default settings: GOGC=100, background marking on a quarter of the "
             "CPUs).", "#e8590c", "tricolor", gctrace=True),
        Peer("tricolor_nodtor", "tricolor, no destructor", "the same, with the node type marked "
             "`gc::collect_without_destructor` (it only holds `gc::ptr`), so no destructor entry "
             "is queued per object (binary-trees only).", "#ffa94d", "tricolor_nodtor",
             gctrace=True),
        Peer("boehm", "Boehm GC", "Boehm–Demers–Weiser's conservative collector (`GC_MALLOC`, "
             "threads registered), Debian's libgc with its default settings.", "#1971c2", "boehm",
             needs="boehm"),
        Peer("shared_ptr", "std::shared_ptr", "`std::make_shared` and `std::shared_ptr` edges "
             "(atomic reference counts), glibc malloc.", "#2f9e44", "shared_ptr"),
        Peer("shared_ptr_mimalloc", "shared_ptr + mimalloc", "the shared_ptr program with "
             "mimalloc preloaded (the ring only).", "#94d82d", "shared_ptr", needs="mimalloc",
             preload=True),
        Peer("new_delete", "new/delete", "raw pointers, `new`, and explicit `delete` of every "
             "object (the program knows when each dies), glibc malloc.", "#868e96", "new_delete"),
        Peer("mimalloc", "new/delete + mimalloc", "the new/delete program with mimalloc "
             "preloaded (mimalloc as a drop-in malloc and operator new).", "#9c36b5", "new_delete",
             needs="mimalloc", preload=True),
        Peer("go", "Go", "the same workload written in Go (bench/go/), Go's collector with its "
             "defaults (GOGC=100, GOMAXPROCS = CPUs).", "#0c8599", "go", needs="go",
             gctrace=True),
    ]
}

TREE_PEERS = ["tricolor", "tricolor_nodtor", "boehm", "shared_ptr", "new_delete", "mimalloc", "go"]


@dataclass
class Workload:
    key: str
    title: str
    program: str  # bench_<stem>
    peers: list[str]
    args: dict[str, list[str]]  # per mode
    same_output: bool  # every peer must print the same program output
    short: str = ""  # terminal table column
    go_twin: str = ""  # key of config["go"]["twins"]
    latency: bool = False  # the gc_latency shape: RESULT has percentiles, plus a CDF line
    about: str = ""  # Markdown: what it does and what the peers are


WORKLOADS = [
    Workload(
        "binary_trees_1", "binary-trees, 1 thread", "bench_binary_trees", TREE_PEERS,
        {"quick": ["--depth=14", "--threads=1"], "full": ["--depth=18", "--threads=1"]},
        same_output=True, short="trees 1T", go_twin="binary_trees",
        about="The Benchmarks Game's binary-trees (bench/binary_trees.cpp): complete binary trees "
        "built top-down, counted and dropped, depth 4 to the maximum, with one long-lived tree "
        "of the maximum depth throughout. Nodes are two pointers (16 bytes). tricolor's node "
        "holds two `gc::ptr`, so it gets a destructor entry; \"tricolor, no destructor\" marks "
        "it `gc::collect_without_destructor`. new/delete frees each tree with a recursive "
        "delete; Go is bench/go/binary_trees, the same program."),
    Workload(
        "binary_trees_2", "binary-trees, 2 threads", "bench_binary_trees", TREE_PEERS,
        {"quick": ["--depth=14", "--threads=2"], "full": ["--depth=18", "--threads=2"]},
        same_output=True, short="trees 2T", go_twin="binary_trees",
        about="The same, with each depth's trees split between two threads (Go: two goroutines, "
        "GOMAXPROCS left at the number of CPUs); both also walk the shared long-lived tree."),
    Workload(
        "gcbench", "GCBench", "bench_gcbench",
        ["tricolor", "boehm", "shared_ptr", "new_delete", "mimalloc"],
        {"quick": ["--depth=14"], "full": ["--depth=16"]},
        same_output=False, short="GCBench",  # it prints its phases' times
        about="Boehm's GCBench (bench/gcbench.cpp; --depth=16 is the classic size): a stretch "
        "tree, a long-lived tree and a 500,000-double array, then trees of depth 4 to 16 built "
        "top-down (young children stored into older parents: the write-barrier case) and "
        "bottom-up, and dropped."),
    Workload(
        "graph_churn", "graph churn, 2 threads", "bench_graph_churn",
        ["tricolor", "boehm", "shared_ptr", "new_delete", "mimalloc"],
        {"quick": ["--depth=20", "--threads=2"], "full": ["--depth=24", "--threads=2"]},
        same_output=True, short="graphs 2T",
        about="Two threads each build graphs of 128 to 8,192 nodes with shared nodes (a "
        "heap-shaped "
        "backbone plus one random edge to a later node: most nodes have several parents), walk "
        "and check them, keep their 16 most recent graphs and drop the rest "
        "(bench/graph_churn.cpp). The graphs are acyclic so that std::shared_ptr can free them "
        "at all: reference counting leaks cycles, which the collectors would reclaim. new/delete "
        "keeps a list of each graph's nodes and deletes them all."),
    Workload(
        "gc_latency", "ring of 1 KiB buffers (gc_latency)", "bench_gc_latency",
        ["tricolor", "boehm", "shared_ptr", "shared_ptr_mimalloc", "go"],
        {"quick": ["--iterations=500000"], "full": ["--iterations=2000000"]},
        same_output=False, short="ring", go_twin="gc_latency", latency=True,
        about="The shape of Go's gc_latency benchmark (bench/gc_latency.cpp, bench/go/gc_latency): "
        "a ring of 200,000 slots keeps ~200 MiB live; each iteration allocates a 1 KiB buffer, "
        "fills it and stores it into the next slot, making the one there garbage, and every "
        "such store is timed on its own. The time reported is the whole loop's."),
]


@dataclass
class Micro:
    group: str
    label: str
    program: str
    name: str  # the Google Benchmark name
    peer: str  # for the colour; mimalloc rows run with the preload


ALLOC = "/64/real_time/threads:1"
# Steady-state replacement (bench_alloc_bench's ring rows): 64 Ki live 256-byte objects, one
# replaced per iteration; the collector's work for it included.
RING = "replace a 256-byte object in a 64 Ki ring"
RING_ROW = "/256/real_time/threads:1"
MICROS = [
    Micro("allocate a 64-byte object", "gc::make, dropped (collector on)", "bench_alloc_bench",
          "gc_make/scanned" + ALLOC, "tricolor"),
    Micro("allocate a 64-byte object", "gc::make into a 1024-slot ring", "bench_alloc_bench",
          "gc_make_window/scanned" + ALLOC, "tricolor"),
    Micro("allocate a 64-byte object", "gc::make, pointer-free, collector off",
          "bench_alloc_bench", "gc_make_fast/noscan" + ALLOC, "tricolor"),
    Micro("allocate a 64-byte object", "std::make_shared, dropped", "bench_alloc_bench",
          "make_shared" + ALLOC, "shared_ptr"),
    Micro("allocate a 64-byte object", "std::make_shared into a 1024-slot ring",
          "bench_alloc_bench", "make_shared_window" + ALLOC, "shared_ptr"),
    Micro("allocate a 64-byte object", "make_shared + mimalloc, dropped", "bench_alloc_bench",
          "make_shared" + ALLOC, "shared_ptr_mimalloc"),
    Micro("allocate a 64-byte object", "new + delete", "bench_alloc_bench",
          "new_delete" + ALLOC, "new_delete"),
    Micro("allocate a 64-byte object", "new/delete, 1024-slot ring", "bench_alloc_bench",
          "new_window" + ALLOC, "new_delete"),
    Micro("allocate a 64-byte object", "new + delete, mimalloc", "bench_alloc_bench",
          "new_delete" + ALLOC, "mimalloc"),
    Micro("allocate a 64-byte object", "new/delete, 1024-slot ring, mimalloc",
          "bench_alloc_bench", "new_window" + ALLOC, "mimalloc"),
    Micro(RING, "gc::make (value-initialised)", "bench_alloc_bench",
          "gc_make_ring/noscan" + RING_ROW, "tricolor"),
    Micro(RING, "gc::make_for_overwrite (default-initialised)", "bench_alloc_bench",
          "gc_make_for_overwrite_ring/noscan" + RING_ROW, "tricolor"),
    Micro(RING, "free + malloc", "bench_alloc_bench", "malloc_ring" + RING_ROW, "new_delete"),
    Micro(RING, "delete + new (value-initialised)", "bench_alloc_bench", "new_ring" + RING_ROW,
          "new_delete"),
    Micro("store a pointer into a heap object", "raw pointer", "bench_ptr_bench", "raw_store",
          "new_delete"),
    Micro("store a pointer into a heap object", "std::shared_ptr", "bench_ptr_bench",
          "shared_ptr_store", "shared_ptr"),
    Micro("store a pointer into a heap object", "gc::ptr, barrier off", "bench_ptr_bench",
          "gc_ptr_store/barrier_off", "tricolor"),
    Micro("store a pointer into a heap object", "gc::ptr, barrier on (mark running)",
          "bench_ptr_bench", "gc_ptr_store/barrier_on", "tricolor_nodtor"),
    Micro("copy a pointer on the stack", "raw pointer", "bench_ptr_bench", "raw_copy",
          "new_delete"),
    Micro("copy a pointer on the stack", "std::shared_ptr", "bench_ptr_bench", "shared_ptr_copy",
          "shared_ptr"),
    Micro("copy a pointer on the stack", "gc::ptr, barrier off", "bench_ptr_bench",
          "gc_ptr_copy/barrier_off", "tricolor"),
    Micro("copy a pointer on the stack", "gc::ptr, barrier on (mark running)", "bench_ptr_bench",
          "gc_ptr_copy/barrier_on", "tricolor_nodtor"),
]

# The micro-benchmark groups as the terminal table names them.
MICRO_GROUP_SHORT = {"allocate a 64-byte object": "allocate", RING: "ring 256 B",
                     "store a pointer into a heap object": "store",
                     "copy a pointer on the stack": "copy"}

MODES = {
    # repeat: child processes per workload and peer; micro_*: Google Benchmark repetitions and
    # --benchmark_min_time (seconds) per repetition; timeout: seconds per child.
    "quick": {"repeat": 3, "micro_reps": 3, "micro_min_time": 0.05, "timeout": 120},
    "full": {"repeat": 5, "micro_reps": 5, "micro_min_time": 0.25, "timeout": 600},
}

GCTRACE = re.compile(r"^gc \d+ @[\d.]+s [\d.]+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock")


# --- running children -----------------------------------------------------------------------------


@dataclass
class Run:
    ok: bool
    fields: dict[str, float] = field(default_factory=dict)  # the RESULT line's numbers
    cdf: list[list[float]] = field(default_factory=list)  # [ppm, µs] pairs (latency workloads)
    pauses_us: list[float] = field(default_factory=list)  # from gctrace
    output: str = ""  # stdout without RESULT / CDF lines
    failure: str = ""
    wall_s: float = 0.0  # of the whole child, start-up included


def run_child(argv: list[str], env_extra: dict[str, str], timeout: float) -> tuple[int, str, str,
                                                                                     float, str]:
    """Runs argv as a grandchild of /bin/sh (see the module docstring for why); returns the exit
    status, stdout, stderr, wall seconds and a failure description ("" if it exited 0)."""
    env = dict(os.environ)
    env.update(env_extra)
    start = time.monotonic()
    proc = subprocess.Popen(["/bin/sh", "-c", '"$@"; exit $?', "sh", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True, text=True, errors="replace")
    try:
        out, err = proc.communicate(timeout=timeout)
        why = "" if proc.returncode == 0 else describe_status(proc.returncode)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and the benchmark it started
        out, err = proc.communicate()
        why = f"timed out after {timeout:.0f} s"
    return proc.returncode, out, err, time.monotonic() - start, why


def describe_status(code: int) -> str:
    if code < 0:
        return f"killed by signal {-code} ({signal.Signals(-code).name})"
    if code > 128:  # the shell reports a signal that killed its child as 128 + n
        try:
            return f"killed by signal {code - 128} ({signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return f"exit status {code}"


def parse_fields(line: str) -> dict[str, float]:
    fields = {}
    for token in line.split()[1:]:
        key, _, value = token.partition("=")
        try:
            fields[key] = float(value)
        except ValueError:
            pass  # impl=...
    return fields


def run_workload_child(cfg, w: Workload, peer: Peer, mode: str, timeout: float) -> Run:
    argv = [cfg["programs"][w.program], f"--impl={peer.impl}", *w.args[mode]]
    env = peer_env(cfg, peer)
    code, out, err, wall, why = run_child(argv, env, timeout)
    run = Run(ok=False, wall_s=wall)
    lines = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            run.fields = parse_fields(line)
        elif line.startswith("CDF "):
            m = re.search(r"ppm_us=(\S+)", line)
            if m:
                for pair in m.group(1).split(","):
                    ppm, _, us = pair.partition(":")
                    run.cdf.append([int(ppm), float(us)])
        else:
            lines.append(line)
    run.output = "\n".join(lines)
    if peer.gctrace:
        for line in err.splitlines():
            m = GCTRACE.match(line)
            if m:  # the first and third clock figures are the two stop-the-world phases
                run.pauses_us += [float(m.group(1)) * 1000, float(m.group(3)) * 1000]
    if why:
        run.failure = why + stderr_tail(err)
    elif "seconds" not in run.fields:
        run.failure = "exited 0 but printed no RESULT line" + stderr_tail(err)
    else:
        run.ok = True
    return run


def stderr_tail(err: str) -> str:
    lines = [l for l in err.splitlines() if not GCTRACE.match(l)][-5:]
    return ("; stderr: " + " | ".join(lines)) if lines else ""


def peer_env(cfg, peer: Peer) -> dict[str, str]:
    env = {}
    if peer.preload:
        env["LD_PRELOAD"] = cfg["mimalloc"]["library"]
    if peer.gctrace:
        godebug = os.environ.get("GODEBUG", "")
        env["GODEBUG"] = "gctrace=1" + ("," + godebug if godebug else "")
    return env


def shell_command(cfg, argv: list[str], env: dict[str, str]) -> str:
    """The command line of a child as a reader would type it, relative to the build tree."""
    build = cfg["build_dir"]
    shown = [os.path.relpath(a, build) if a.startswith(build + os.sep) else a for a in argv]
    return " ".join([f"{k}={shlex.quote(v)}" for k, v in env.items()] + [shlex.quote(a)
                                                                          for a in shown])


# --- availability and environment -----------------------------------------------------------------


def missing_reason(cfg, peer: Peer, w: Workload | None) -> str:
    """Why the peer cannot run (for this workload), or "" when it can."""
    if peer.needs == "boehm" and not int(cfg["boehm"]["found"]):
        return "Boehm GC (pkg-config bdw-gc, Debian libgc-dev) was not found at configure time"
    if peer.needs == "mimalloc":
        lib = cfg["mimalloc"]["library"]
        if not int(cfg["mimalloc"]["found"]):
            return "mimalloc (find_package(mimalloc), Debian libmimalloc-dev) was not found"
        if not lib or not os.path.exists(lib):
            return "no shared libmimalloc to preload (only a static library was found)"
    if peer.needs == "go":
        if not cfg["go"]["executable"]:
            return "no go tool was found at configure time"
        twin = cfg["go"]["twins"].get(w.go_twin if w else "", "")
        if w is not None and (not twin or not os.access(twin, os.X_OK)):
            return f"the Go twin {twin or w.go_twin} was not built"
    return ""


def capture(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(cfg, source_dir: str) -> dict[str, str]:
    env: dict[str, str] = {}
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    env["cpu"] = model or platform.processor() or "unknown"
    env["cpus"] = str(os.cpu_count() or 0)
    try:
        env["cpus_usable"] = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        env["cpus_usable"] = env["cpus"]
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    env["memory"] = mem or "unknown"
    env["os"] = f"{platform.system()} {platform.release()}"
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    env["os"] += " (" + line.split("=", 1)[1].strip().strip('"') + ")"
    except OSError:
        pass
    env["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env["compiler"] = cfg["compiler"]
    env["build_type"] = cfg["build_type"] or "(none)"
    env["cxx_flags"] = cfg["cxx_flags"]
    env["python"] = platform.python_version()
    boehm = ""
    if int(cfg["boehm"]["found"]):
        boehm = capture(["pkg-config", "--modversion", "bdw-gc"]) or cfg["boehm"]["version"]
    env["boehm"] = boehm
    mimalloc = ""
    if int(cfg["mimalloc"]["found"]):
        mimalloc = cfg["mimalloc"]["version"]
        for d in cfg["mimalloc"]["include_dirs"].split(";"):
            try:
                with open(os.path.join(d, "mimalloc.h"), encoding="utf-8") as f:
                    m = re.search(r"#define\s+MI_MALLOC_VERSION\s+(\d+)", f.read())
                if m:  # e.g. 209 = 2.0.9
                    v = int(m.group(1))
                    mimalloc = f"{v // 100}.{v // 10 % 10}.{v % 10}"
                    break
            except OSError:
                continue
    env["mimalloc"] = mimalloc
    env["go"] = capture([cfg["go"]["executable"], "version"]) if cfg["go"]["executable"] else ""
    commit = capture(["git", "-C", source_dir, "rev-parse", "--short", "HEAD"])
    if commit:
        dirty = capture(["git", "--no-optional-locks", "-C", source_dir, "status", "--porcelain",
                         "--untracked-files=no"])
        env["source"] = commit + (" with uncommitted changes" if dirty else "")
    else:
        env["source"] = "not a git checkout"
    env["gc_env"] = ", ".join(f"{k}={os.environ[k]}" for k in ("GOGC", "GOMEMLIMIT", "GODEBUG")
                              if k in os.environ) or "none set (GOGC=100, no memory limit)"
    return env


# --- statistics -----------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def nearest_rank(sorted_values: list[float], q: float) -> float:
    rank = max(1, -(-int(q * 1_000_000) * len(sorted_values) // 1_000_000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- the suite -----------------------------------------------------------------------------------


def run_suite(cfg, mode: str, repeat: int, only: set[str] | None):
    settings = MODES[mode]
    timeout = settings["timeout"]
    results = {"workloads": {}, "micro": {}, "missing": {}, "failed": []}
    workloads = [w for w in WORKLOADS if only is None or w.key in only]
    plan = []
    for w in workloads:
        entry = {"title": w.title, "program": w.program, "args": w.args[mode], "peers": {}}
        results["workloads"][w.key] = entry
        for key in w.peers:
            peer = PEERS[key]
            why = missing_reason(cfg, peer, w)
            if why:
                entry["peers"][key] = {"status": "missing", "why": why}
                results["missing"].setdefault(peer.label, why)
                continue
            argv = [cfg["programs"][w.program], f"--impl={peer.impl}", *w.args[mode]]
            entry["peers"][key] = {"status": "ok", "runs": [],
                                   "command": shell_command(cfg, argv, peer_env(cfg, peer))}
            plan.append((w, key))
    total = len(plan) * repeat
    done = 0
    started = time.monotonic()
    for w in workloads:
        entry = results["workloads"][w.key]
        reference = None
        runnable = sum(1 for s in entry["peers"].values() if s["status"] == "ok")
        progress(f"{w.title}: {runnable} peers x {repeat} runs", always=QUIET)
        for r in range(repeat):
            # Peers take turns within each round, so slow patches of a shared machine are spread
            # over all of them rather than landing on one peer's runs.
            for key in w.peers:
                slot = entry["peers"][key]
                if slot["status"] != "ok":
                    continue
                done += 1
                progress(f"[{done}/{total}] {w.title}: {PEERS[key].label} run {r + 1}/{repeat}")
                run = run_workload_child(cfg, w, PEERS[key], mode, timeout)
                if run.ok and w.same_output:
                    if reference is None:
                        reference = (key, run.output)
                    elif run.output != reference[1]:
                        run.ok = False
                        run.failure = (f"its output differs from {PEERS[reference[0]].label}'s: "
                                       + run.output.replace("\n", " | ")[:300])
                if not run.ok:
                    slot["status"] = "failed"
                    slot["why"] = f"run {r + 1}: {run.failure}"
                    results["failed"].append(f"{w.title}, {PEERS[key].label}: {slot['why']}")
                    progress(f"    {w.title}, {PEERS[key].label}: FAILED: {slot['why']}",
                             always=True)
                    continue
                progress(f"    {run.fields['seconds']:.3f} s, "
                         f"{run.fields.get('peak_rss_kb', 0) / 1024:.1f} MiB peak")
                slot["runs"].append({"seconds": run.fields["seconds"],
                                     "peak_rss_kb": run.fields.get("peak_rss_kb", 0),
                                     "fields": run.fields, "cdf": run.cdf,
                                     "pauses_us": run.pauses_us, "wall_s": run.wall_s})
        for slot in entry["peers"].values():
            if slot["status"] == "ok":
                slot["seconds"] = summary([x["seconds"] for x in slot["runs"]])
                slot["peak_rss_mib"] = summary([x["peak_rss_kb"] / 1024 for x in slot["runs"]])
    if only is None or "micro" in only:
        run_micro(cfg, results, settings, timeout)
    results["elapsed_s"] = time.monotonic() - started
    return results


def run_micro(cfg, results, settings, timeout):
    """Google Benchmark programs, once per program and preload, all repetitions in one process."""
    batches: dict[tuple[str, bool], list[Micro]] = {}
    for m in MICROS:
        batches.setdefault((m.program, PEERS[m.peer].preload), []).append(m)
    for (program, preload), micros in batches.items():
        if preload and missing_reason(cfg, PEERS["mimalloc"], None):
            for m in micros:
                results["micro"][micro_key(m)] = {"status": "missing", "group": m.group,
                                                  "label": m.label, "peer": m.peer,
                                                  "why": missing_reason(cfg, PEERS["mimalloc"],
                                                                        None)}
            continue
        names = sorted({m.name for m in micros})
        pattern = "^(" + "|".join(re.escape(n) for n in names) + ")$"
        argv = [cfg["programs"][program], f"--benchmark_filter={pattern}",
                "--benchmark_format=json", f"--benchmark_repetitions={settings['micro_reps']}",
                f"--benchmark_min_time={settings['micro_min_time']}"]
        env = {"LD_PRELOAD": cfg["mimalloc"]["library"]} if preload else {}
        progress(f"micro-benchmarks: {program}{' with mimalloc' if preload else ''}, "
                 f"{len(names)} benchmarks x {settings['micro_reps']} repetitions", always=True)
        code, out, err, _, why = run_child(argv, env, timeout)
        per_name: dict[str, list[float]] = {}
        context = {}
        if not why:
            try:
                doc = json.loads(out)
                context = doc.get("context", {})
                for b in doc.get("benchmarks", []):
                    if b.get("run_type") == "iteration":
                        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
                        per_name.setdefault(b["run_name"], []).append(b["real_time"] * scale)
            except (ValueError, KeyError) as e:
                why = f"unreadable JSON output ({e})"
        results.setdefault("micro_context", context)
        for m in micros:
            entry = {"group": m.group, "label": m.label, "peer": m.peer, "name": m.name,
                     "command": shell_command(cfg, argv, env)}
            values = per_name.get(m.name, [])
            if why or not values:
                entry.update(status="failed", why=why or "no result for this benchmark")
                results["failed"].append(f"micro {m.label}: {entry['why']}")
            else:
                entry.update(status="ok", ns=summary(values), runs=values)
            results["micro"][micro_key(m)] = entry


def micro_key(m: Micro) -> str:
    return f"{m.program}:{m.name}:{m.peer}"


def in_micros_order(micro: dict) -> dict:
    """The micro results in MICROS' order: they are run a program and a preload at a time, so the
    mimalloc rows of a group would otherwise come after the groups run without it."""
    order = {micro_key(m): i for i, m in enumerate(MICROS)}
    return dict(sorted(micro.items(), key=lambda kv: order.get(kv[0], len(order))))


QUIET = False  # --quiet: progress() only prints the lines marked always


def progress(message: str, always: bool = False):
    if always or not QUIET:
        print(message, file=sys.stderr, flush=True)


# --- the terminal table ---------------------------------------------------------------------------


def print_table(results, env, mode, repeat, out_path):
    """The compact summary on stdout: peers down, workloads across, so that it fits 80 columns."""
    workloads = list(results["workloads"].items())
    peers = [k for k in PEERS if any(k in e["peers"] for _, e in workloads)]
    first, cell = 24, 11

    def row(label, cells):
        print(f"  {label:<{first}}" + "".join(f"{c:>{cell}}" for c in cells))

    print()
    print(f"tricolor benchmarks, {mode} mode: median of {repeat} runs each "
          f"({env['cpus_usable']} CPUs, {env['cpu']}; {env['build_type']} build)")
    for title, key, fmt in (("wall seconds (lower is better)", "seconds", "{:.3f}"),
                            ("peak RSS, MiB", "peak_rss_mib", "{:.1f}")):
        print(f"\n{title}")
        row("", [next(x.short for x in WORKLOADS if x.key == k) for k, _ in workloads])
        for k in peers:
            cells = []
            for _, w in workloads:
                slot = w["peers"].get(k)
                if slot is None:
                    cells.append("")
                elif slot["status"] == "ok":
                    cells.append(fmt.format(slot[key]["median"]))
                else:
                    cells.append("missing" if slot["status"] == "missing" else "FAILED")
            row(PEERS[k].label, cells)
    lat = results["workloads"].get("gc_latency")
    if lat:
        print("\nstore latency in the ring, µs")
        print(f"  {'':<24}{'p50':>9}{'p99.9':>10}{'p99.99':>10}{'max':>10}")
        for k, slot in lat["peers"].items():
            if slot["status"] == "ok":
                med = {f: statistics.median(r["fields"][f] for r in slot["runs"])
                       for f in ("p50_us", "p999_us", "p9999_us", "max_us")}
                print(f"  {PEERS[k].label:<24}{med['p50_us']:>9.2f}{med['p999_us']:>10.1f}"
                      f"{med['p9999_us']:>10.1f}{med['max_us']:>10.1f}")
    pauses = collect_pauses(results)
    if pauses:
        print("\nstop-the-world pauses (gctrace), all workloads, µs")
        print(f"  {'':<24}{'count':>9}{'p50':>10}{'p99':>10}{'max':>10}")
        for k, values in pauses.items():
            v = sorted(values)
            print(f"  {PEERS[k].label:<24}{len(v):>9}{nearest_rank(v, 0.5):>10.1f}"
                  f"{nearest_rank(v, 0.99):>10.1f}{v[-1]:>10.1f}")
    if results["micro"]:
        print("\nmicro-benchmarks, ns per operation (median)")
        for m in results["micro"].values():
            value = (f"{m['ns']['median']:.2f}" if m["status"] == "ok"
                     else m["status"].upper() if m["status"] == "failed" else "missing")
            group = MICRO_GROUP_SHORT.get(m["group"], m["group"])
            print(f"  {group:<12}{m['label']:<42}{value:>9}")
    for label, why in results["missing"].items():
        print(f"missing peer: {label}: {why}")
    for f in results["failed"]:
        print(f"FAILED: {f}")
    if out_path:
        print(f"\nreport: {out_path}")
    print()


def collect_pauses(results, workload: str | None = None) -> dict[str, list[float]]:
    pauses: dict[str, list[float]] = {}
    for key, w in results["workloads"].items():
        if workload is not None and key != workload:
            continue
        for k in ("tricolor", "go"):
            slot = w["peers"].get(k)
            if slot and slot["status"] == "ok":
                for r in slot["runs"]:
                    pauses.setdefault(k, []).extend(r["pauses_us"])
    return {k: v for k, v in pauses.items() if v}


# --- the report -----------------------------------------------------------------------------------


def fmt_s(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.2f}"


def ratio_text(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if numerator > 0 and denominator > 0 else "–"


def write_report(results, env, cfg, mode, repeat, out_dir, command):
    pics = os.path.join(out_dir, "benchmarks")
    os.makedirs(pics, exist_ok=True)
    charts = draw_charts(results, env, mode, repeat)
    for name, svg in charts.items():
        with open(os.path.join(pics, name), "w", encoding="utf-8") as f:
            f.write(svg)
    with open(os.path.join(pics, "results.json"), "w", encoding="utf-8") as f:
        text = json.dumps({"environment": env, "mode": mode, "repeat": repeat,
                           "command": command, "results": results}, indent=1, ensure_ascii=False)
        # A list of numbers on one line: thousands of pause times one a line would bury the rest.
        f.write(re.sub(r"\[[-0-9.eE+,\s]*\]", lambda m: " ".join(m.group(0).split()), text))
        f.write("\n")
    md = markdown(results, env, cfg, mode, repeat, command, charts)
    path = os.path.join(out_dir, "benchmarks.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(md)
    return path


def draw_charts(results, env, mode, repeat) -> dict[str, str]:
    charts = {}
    where = f"{env['cpus_usable']} CPUs ({env['cpu']}), {mode} mode, {env['date']}"
    for key, title, unit, scale in (("seconds", "Wall time per workload", "seconds", 1.0),
                                    ("peak_rss_mib", "Peak memory per workload", "MiB", 1.0)):
        panels = []
        for w in results["workloads"].values():
            panel = chart.Panel(w["title"])
            for k, slot in w["peers"].items():
                p = PEERS[k]
                if slot["status"] == "ok":
                    s = slot[key]
                    panel.bars.append(chart.Bar(p.label, s["median"] * scale, s["min"] * scale,
                                                s["max"] * scale, p.color))
                else:
                    panel.bars.append(chart.Bar(p.label, None, color=p.color,
                                                note=slot["status"]))
            panels.append(panel)
        if panels:
            sub = (f"median of {repeat} runs, whiskers: min–max; lower is better. {where}"
                   if key == "seconds" else
                   f"median peak RSS (ru_maxrss) of {repeat} runs, whiskers: min–max. {where}")
            charts["time.svg" if key == "seconds" else "memory.svg"] = chart.bar_panels(
                title, sub, unit, panels)
    lat = results["workloads"].get("gc_latency")
    if lat:
        series = []
        for k, slot in lat["peers"].items():
            if slot["status"] != "ok" or not slot["runs"] or not slot["runs"][0]["cdf"]:
                continue
            per_run = [dict((int(q), us) for q, us in r["cdf"]) for r in slot["runs"]]
            ppms = sorted(set.intersection(*[set(d) for d in per_run]))
            pts = [(statistics.median(d[ppm] for d in per_run), ppm / 1e6)
                   for ppm in ppms if ppm < 1_000_000]
            series.append(chart.Series(PEERS[k].label, PEERS[k].color, pts))
        if series:
            n = lat["args"][0].split("=")[1] if lat["args"] else ""
            charts["latency_cdf.svg"] = chart.cdf_chart(
                "Store latency in the ring (gc_latency shape)",
                f"{int(n):,} timed stores per run; per quantile the median of {repeat} runs. "
                f"{where}", "µs", series)
    panels = []
    for key, w in results["workloads"].items():
        per = collect_pauses(results, key)
        if per:
            panels.append((w["title"], [chart.HistSeries(PEERS[k].label, PEERS[k].color, v)
                                        for k, v in per.items()]))
    if panels:
        charts["pauses.svg"] = chart.histogram_panels(
            "Stop-the-world pauses (from GODEBUG=gctrace=1)",
            f"share of each collector's pauses per bin, all runs; each cycle has two. {where}",
            "µs", panels)
    groups: dict[str, chart.Panel] = {}
    for m in results["micro"].values():
        panel = groups.setdefault(m["group"], chart.Panel(m["group"]))
        color = PEERS[m["peer"]].color
        if m["status"] == "ok":
            panel.bars.append(chart.Bar(m["label"], m["ns"]["median"], m["ns"]["min"],
                                        m["ns"]["max"], color))
        else:
            panel.bars.append(chart.Bar(m["label"], None, color=color, note=m["status"]))
    if groups:
        charts["micro.svg"] = chart.bar_panels(
            "Micro-benchmarks (Google Benchmark)",
            "nanoseconds per operation, one thread, median of the repetitions, whiskers: "
            f"min–max. {where}", "ns", list(groups.values()), columns=1)
    return charts


def markdown(results, env, cfg, mode, repeat, command, charts) -> str:
    out = []
    add = out.append
    add("<!-- Generated by tools/bench_suite.py; do not edit by hand. Regenerate with "
        f"`{command}`. -->\n")
    add("# Benchmarks: tricolor, Boehm GC, std::shared_ptr, new/delete, mimalloc and Go\n")
    add(f"Generated by `tools/bench_suite.py` ({mode} mode) with `{command}`. Every workload ran "
        f"against every available peer in one sitting, {repeat} times each, every run a fresh "
        "process; the peers took turns within each round. Tables show the median with the "
        "min–max range of the runs; a comparison is the ratio of two medians from this one run. "
        f"The whole suite took {results['elapsed_s'] / 60:.1f} minutes.\n")
    add("## Machine and software\n")
    add("| | |\n| --- | --- |")
    rows = [
        ("Date", env["date"]),
        ("CPU", f"{env['cpu']}, {env['cpus']} logical CPUs ({env['cpus_usable']} usable)"),
        ("Memory", env["memory"]),
        ("OS", env["os"]),
        ("Compiler", f"{env['compiler']}, {env['build_type']} (`{env['cxx_flags']}`)"),
        ("tricolor", f"commit {env['source']}"),
        ("Boehm GC (libgc)", env["boehm"] + " (pkg-config bdw-gc)" if env["boehm"]
         else "missing"),
        ("mimalloc", env["mimalloc"] + f" (`{os.path.basename(cfg['mimalloc']['library'])}`, "
         "LD_PRELOAD)" if env["mimalloc"] else "missing"),
        ("Go", env["go"] or "missing"),
        ("Collector settings", env["gc_env"]),
        ("Python (report only)", env["python"]),
    ]
    ctx = results.get("micro_context", {})
    if ctx.get("library_version"):
        rows.append(("Google Benchmark", ctx["library_version"]))
    for k, v in rows:
        add(f"| {k} | {v} |")
    add("")
    try:
        ncpu = int(env["cpus_usable"])
    except ValueError:
        ncpu = 0
    caveat = ("**Read with care.** " + (f"This machine has only {ncpu} CPUs. " if ncpu and ncpu <= 4
                                        else "")
              + "It is a shared virtual machine, so other work on the host adds noise: the "
              "min–max ranges show how much. A concurrent collector (tricolor, Go; Boehm here "
              "collects with the world stopped) needs spare cores for its background marking; "
              "with two CPUs and two mutator threads it has none, and the two-thread rows "
              "show that, not the scaling of a larger machine. Differences within about 10% are "
              "within the noise of a single run of this suite.")
    add(caveat + "\n")
    add("## Peers\n")
    used = [k for k in PEERS if any(k in w["peers"] for w in results["workloads"].values())]
    for k in used:
        why = next((w["peers"][k]["why"] for w in results["workloads"].values()
                    if w["peers"].get(k, {}).get("status") == "missing"), "")
        add(f"- **{PEERS[k].label}**: {PEERS[k].what}" + (f" *Missing here: {why}.*" if why
                                                            else ""))
    add("")
    if results["missing"] or results["failed"]:
        add("## Missing peers and failures\n")
        for label, why in results["missing"].items():
            add(f"- **{label}** is missing: {why}.")
        for f in results["failed"]:
            add(f"- **FAILED** {f}")
        add("")

    add("## At a glance\n")
    add(glance_tables(results))
    for bullet in glance(results):
        add(f"- {bullet}")
    add("")
    for name, caption in (("time.svg", "Wall time per workload and peer"),
                          ("memory.svg", "Peak memory per workload and peer"),
                          ("latency_cdf.svg", "Store latency CDF of the ring workload"),
                          ("pauses.svg", "Stop-the-world pause histogram"),
                          ("micro.svg", "Micro-benchmarks")):
        if name in charts:
            add(f"![{caption}](benchmarks/{name})\n")

    add("## Workloads\n")
    for key, w in results["workloads"].items():
        spec = next(x for x in WORKLOADS if x.key == key)
        add(f"### {w['title']}\n")
        add(spec.about + "\n")
        add(f"Arguments: `{' '.join(w['args'])}`.\n")
        base = w["peers"].get("tricolor", {})
        base_t = base.get("seconds", {}).get("median", 0) if base.get("status") == "ok" else 0
        base_m = base.get("peak_rss_mib", {}).get("median", 0) if base.get("status") == "ok" \
            else 0
        add("| peer | median s | min–max s | tricolor's time ÷ this | peak RSS MiB (min–max) | "
            "tricolor's RSS ÷ this |")
        add("| --- | ---: | ---: | ---: | ---: | ---: |")
        for k, slot in w["peers"].items():
            label = PEERS[k].label
            if slot["status"] != "ok":
                add(f"| {label} | {slot['status']} | {slot['why']} | | | |")
                continue
            t, m = slot["seconds"], slot["peak_rss_mib"]
            add(f"| {label} | {fmt_s(t['median'])} | {fmt_s(t['min'])}–{fmt_s(t['max'])} | "
                f"{ratio_text(base_t, t['median'])} | {m['median']:.1f} "
                f"({m['min']:.1f}–{m['max']:.1f}) | {ratio_text(base_m, m['median'])} |")
        add("")
        if spec.latency:
            add(latency_table(w))
        per = collect_pauses(results, key)
        if per:
            add(pause_table(w, per))
        add("<details><summary>Commands (run from the build tree)</summary>\n")
        for k, slot in w["peers"].items():
            if "command" in slot:
                add(f"    {slot['command']}")
        add("\n</details>\n")

    if results["micro"]:
        add("## Micro-benchmarks\n")
        add("Google Benchmark, one thread, wall nanoseconds per operation, median of "
            f"{MODES[mode]['micro_reps']} repetitions (min–max). Allocation rows: "
            "bench/alloc_bench.cpp (a 64-byte object; \"dropped\" frees it or leaves it to the "
            "collector at once, \"1024-slot ring\" keeps each object for 1024 allocations; the "
            "collector's share of the work, partly on its own threads, is included, which is "
            "why wall time is measured). The 64 Ki ring's rows keep 65,536 pointer-free 256-byte "
            "objects live and replace one per iteration, as a program in steady state does: "
            "`malloc` hands back the block just freed and zeroes nothing, as "
            "`gc::make_for_overwrite` zeroes nothing; `gc::make` and `new T()` zero the object. "
            "Pointer rows: bench/ptr_bench.cpp; \"barrier on\" holds "
            "a mark open with a test hook so that every store and copy pays the write barrier.\n")
        add("| operation | variant | ns median | min–max |")
        add("| --- | --- | ---: | ---: |")
        for m in results["micro"].values():
            if m["status"] == "ok":
                add(f"| {m['group']} | {m['label']} | {m['ns']['median']:.2f} | "
                    f"{m['ns']['min']:.2f}–{m['ns']['max']:.2f} |")
            else:
                add(f"| {m['group']} | {m['label']} | {m['status']} | {m.get('why', '')} |")
        add("")
        add("<details><summary>Commands (run from the build tree)</summary>\n")
        for c in sorted({m["command"] for m in results["micro"].values() if "command" in m}):
            add(f"    {c}")
        add("\n</details>\n")

    add("## How the numbers are taken\n")
    add("- Time is the wall time of the workload inside the child (process start-up excluded), "
        "as the child's RESULT line reports it; for the ring it is the whole timed loop.\n"
        "- Peak memory is the child's `ru_maxrss`: everything resident at the peak, heap, "
        "collector metadata, thread stacks and the program image. The children are forked from a "
        "small shell, so no parent's memory is counted.\n"
        "- Pauses come from the `gctrace` lines of tricolor and Go (the clock figures of mark "
        "start and mark termination, two stops a cycle); gctrace is on in every tricolor and Go "
        "run, at one line on stderr per cycle. Boehm's pauses in the ring are measured by "
        "bench_gc_latency through its collection-event callback.\n"
        "- mimalloc is Debian's shared library preloaded into the new/delete and shared_ptr "
        "children (`LD_PRELOAD`), i.e. as a drop-in replacement of malloc and operator new.\n"
        "- Raw data of every run: [benchmarks/results.json](benchmarks/results.json).\n")
    return "\n".join(out) + "\n"


def glance_tables(results) -> str:
    """Workloads down, peers across: the medians, and tricolor's median divided by each peer's."""
    workloads = list(results["workloads"].values())
    peers = [k for k in PEERS if any(k in w["peers"] for w in workloads)]
    lines = []
    for title, key, fmt in (("Median wall seconds (lower is better)", "seconds", fmt_s),
                            ("tricolor's median time ÷ the peer's (above 1: tricolor is slower)",
                             "seconds", None),
                            ("Median peak RSS, MiB", "peak_rss_mib", lambda v: f"{v:.1f}"),
                            ("tricolor's median peak RSS ÷ the peer's (above 1: tricolor uses "
                             "more)", "peak_rss_mib", None)):
        lines.append(f"{title}:\n")
        lines.append("| workload | " + " | ".join(PEERS[k].label for k in peers) + " |")
        lines.append("| --- |" + " ---: |" * len(peers))
        for w in workloads:
            base = w["peers"].get("tricolor", {})
            base_v = base[key]["median"] if base.get("status") == "ok" else None
            cells = []
            for k in peers:
                slot = w["peers"].get(k)
                if slot is None:
                    cells.append("")
                elif slot["status"] != "ok":
                    cells.append(slot["status"])
                elif fmt is not None:
                    cells.append(fmt(slot[key]["median"]))
                else:
                    cells.append(f"{base_v / slot[key]['median']:.2f}" if base_v else "–")
            lines.append(f"| {w['title']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def glance(results) -> list[str]:
    bullets = []
    lat = results["workloads"].get("gc_latency")
    if lat:
        parts = []
        for k, s in lat["peers"].items():
            if s["status"] == "ok":
                p999 = statistics.median(r["fields"]["p999_us"] for r in s["runs"])
                mx = statistics.median(r["fields"]["max_us"] for r in s["runs"])
                parts.append(f"{PEERS[k].label} {p999:.1f} µs / {mx:.0f} µs")
        if parts:
            bullets.append("**Ring store latency**, p99.9 / worst (medians of the runs): "
                           + "; ".join(parts) + ".")
    pauses = collect_pauses(results)
    if pauses:
        parts = []
        for k, v in pauses.items():
            v = sorted(v)
            parts.append(f"{PEERS[k].label}: {len(v)} pauses, median {nearest_rank(v, 0.5):.0f} "
                         f"µs, p99 {nearest_rank(v, 0.99):.0f} µs, longest {v[-1]:.0f} µs")
        bullets.append("**Stop-the-world pauses** over all workloads: " + "; ".join(parts) + ".")
    micro = {(m["label"], m["group"]): m for m in results["micro"].values() if m["status"] == "ok"}

    def ns(label, group):
        m = micro.get((label, group))
        return m["ns"]["median"] if m else None

    store = "store a pointer into a heap object"
    parts = [f"{lbl} {ns(lbl, store):.2f} ns" for lbl in
             ("raw pointer", "std::shared_ptr", "gc::ptr, barrier off",
              "gc::ptr, barrier on (mark running)") if ns(lbl, store) is not None]
    if parts:
        bullets.append("**Pointer store** into a heap object: " + ", ".join(parts) + ".")
    copy = "copy a pointer on the stack"
    parts = [f"{lbl} {ns(lbl, copy):.2f} ns" for lbl in
             ("raw pointer", "std::shared_ptr", "gc::ptr, barrier off",
              "gc::ptr, barrier on (mark running)") if ns(lbl, copy) is not None]
    if parts:
        bullets.append("**Pointer copy** on the stack: " + ", ".join(parts) + ".")
    parts = [f"{lbl} {ns(lbl, RING):.2f} ns" for lbl in
             ("gc::make (value-initialised)", "gc::make_for_overwrite (default-initialised)",
              "free + malloc", "delete + new (value-initialised)") if ns(lbl, RING) is not None]
    if parts:
        bullets.append(f"**Steady-state replacement**, {RING}: " + ", ".join(parts) + ".")
    return bullets


def latency_table(w) -> str:
    lines = ["Store latency in µs, and the collector's own count of cycles and its stop-the-world "
             "time per cycle (both stops of a cycle together) as the child reads them: tricolor "
             "from `gc::read_stats()`, Go from `runtime.ReadMemStats`, Boehm from its "
             "collection-event callback. Each figure is the median over the runs:\n",
             "| peer | p50 | p99 | p99.9 | p99.99 | max | cycles | pause p50 µs | pause max µs |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k, slot in w["peers"].items():
        if slot["status"] != "ok":
            continue

        def med(f):
            vals = [r["fields"][f] for r in slot["runs"] if f in r["fields"]]
            return statistics.median(vals) if len(vals) == len(slot["runs"]) else None

        def cell(v, scale=1.0, digits=1):
            return "–" if v is None else f"{v / scale:.{digits}f}"

        lines.append(f"| {PEERS[k].label} | {cell(med('p50_us'), digits=2)} | "
                     f"{cell(med('p99_us'), digits=2)} | {cell(med('p999_us'))} | "
                     f"{cell(med('p9999_us'))} | {cell(med('max_us'))} | "
                     f"{cell(med('num_gc'), digits=0)} | {cell(med('pause_p50_ns'), 1e3)} | "
                     f"{cell(med('pause_max_ns'), 1e3)} |")
    return "\n".join(lines) + "\n"


def pause_table(w, per) -> str:
    lines = ["Stop-the-world pauses in this workload from gctrace, each stop on its own (two a "
             "cycle), all runs together:\n",
             "| collector | cycles per run (median) | pauses | p50 µs | p90 µs | p99 µs | "
             "max µs |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k, values in per.items():
        v = sorted(values)
        cycles = statistics.median(len(r["pauses_us"]) / 2 for r in w["peers"][k]["runs"])
        lines.append(f"| {PEERS[k].label} | {cycles:.0f} | {len(v)} | "
                     f"{nearest_rank(v, 0.5):.1f} | {nearest_rank(v, 0.9):.1f} | "
                     f"{nearest_rank(v, 0.99):.1f} | {v[-1]:.1f} |")
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    global QUIET
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--mode", choices=sorted(MODES), default="full")
    ap.add_argument("--out", help="directory for benchmarks.md and benchmarks/")
    ap.add_argument("--repeat", type=int, help="runs per workload and peer (default: the mode's)")
    ap.add_argument("--only", help="comma-separated workload keys, or micro")
    ap.add_argument("--quiet", action="store_true",
                    help="one progress line per workload instead of one per run")
    ap.add_argument("--from-results", metavar="JSON",
                    help="run nothing: rewrite the report and table from a results.json that an "
                    "earlier run wrote (after a change to the report's layout)")
    ap.add_argument("--command", help="the command to name in the report as the way to "
                    "regenerate it (default: this script's command line)")
    args = ap.parse_args()

    build = os.path.abspath(args.build_dir)
    config_path = os.path.join(build, "bench", "bench_config.json")
    try:
        with open(config_path, encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench_suite: cannot read {config_path} ({e}); configure the tree with "
              "TRICOLOR_BUILD_BENCHMARKS=ON and build it first", file=sys.stderr)
        return 2
    cfg["build_dir"] = build
    missing = [p for p in {w.program for w in WORKLOADS} | {m.program for m in MICROS}
               if not os.access(cfg["programs"].get(p, ""), os.X_OK)]
    if missing:
        print(f"bench_suite: not built: {', '.join(sorted(missing))} (build the bench targets "
              "first)", file=sys.stderr)
        return 2
    if args.from_results:
        with open(args.from_results, encoding="utf-8") as f:
            saved = json.load(f)
        env, mode, repeat, results = (saved["environment"], saved["mode"], saved["repeat"],
                                      saved["results"])
        command = args.command or saved["command"]
    else:
        only = set(args.only.split(",")) if args.only else None
        mode = args.mode
        repeat = args.repeat or MODES[mode]["repeat"]
        source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = environment(cfg, source_dir)
        command = args.command or "tools/bench_suite.py " + " ".join(
            shlex.quote(a) for a in sys.argv[1:])
        QUIET = args.quiet
        results = run_suite(cfg, mode, repeat, only)
    results["micro"] = in_micros_order(results["micro"])
    out_path = None
    if args.out:
        out_path = write_report(results, env, cfg, mode, repeat, os.path.abspath(args.out),
                                command)
    print_table(results, env, mode, repeat, out_path)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
