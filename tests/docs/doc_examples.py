#!/usr/bin/env python3
"""doc_examples: the programs in tricolor's documentation, as tests.

    doc_examples.py extract --source-dir ROOT --out DIR FILE.md...
        (configure time, from tests/docs/CMakeLists.txt) writes one source file per example and,
        where the document shows it, the output the example must print; then DIR/examples.cmake,
        which lists them for CMake.
    doc_examples.py check PROGRAM [--origin DOC:LINE] [--expected FILE] [--pattern FILE]
        (test time) runs PROGRAM, which must exit with 0, and compares what it prints on stdout
        with the document's output.

What counts, in a Markdown file:

- An example is a fenced ```cpp block with a main() function. Other ```cpp blocks are fragments
  and are left alone. A fence may be indented (a block inside a list item); the code may be too.
- Its output is the first ```text block after it, if no other ```cpp block comes first. Prose and
  other blocks (```sh) may stand in between. An example without one must only exit with 0.
- Where the numbers in the output vary from run to run, an HTML comment before the ```text block
  (GitHub does not show it) gives the output as a pattern, one line per line of output, in which
  {LOW..HIGH} stands for a number between LOW and HIGH inclusive:

      <!-- output pattern
      656000 nodes made, {20..60} MiB allocated, {2..100} collections, heap now {0..8} MiB
      -->

  The output must then match the pattern, and so must the ```text block itself, so that what the
  document shows is one of the outputs the test accepts. Without a pattern, the output must equal
  the ```text block exactly.

Each source file starts with a #line directive naming the document and line, so that a compiler
error points into the document.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([A-Za-z0-9_+-]*)\s*$")
MAIN = re.compile(r"\bint\s+main\s*\(")
PATTERN_OPEN = re.compile(r"^\s*<!--\s*output pattern\s*$")
PATTERN_CLOSE = re.compile(r"^\s*-->\s*$")
RANGE = re.compile(r"\{(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)\}")
NUMBER = r"(-?\d+(?:\.\d+)?)"


class Block:
    def __init__(self, lang, first_line, lines, pattern):
        self.lang = lang
        self.first_line = first_line  # 1-based line of the first line inside the fence
        self.lines = lines
        self.pattern = pattern  # the last output-pattern comment before the fence, or None


def parse_blocks(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks = []
    pattern = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if PATTERN_OPEN.match(line):
            j = i + 1
            while j < len(lines) and not PATTERN_CLOSE.match(lines[j]):
                j += 1
            if j == len(lines):
                raise SystemExit(f"{path}:{i + 1}: '<!-- output pattern' without '-->'")
            # Indented as deep as the comment's opening line: that much is the document's, the
            # rest is the output's (a line of output may start with spaces).
            indent = len(line) - len(line.lstrip())
            pattern = [l[indent:].rstrip() if l[:indent].isspace() or indent == 0 else l.strip()
                       for l in lines[i + 1:j]]
            i = j + 1
            continue
        m = FENCE.match(line)
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        j = i + 1
        body = []
        while j < len(lines):
            close = FENCE.match(lines[j])
            if close and close.group(2).startswith(fence[0] * len(fence)) and not close.group(3):
                break
            text = lines[j]
            if indent and text.startswith(indent):
                text = text[len(indent):]
            body.append(text)
            j += 1
        if j == len(lines):
            raise SystemExit(f"{path}:{i + 1}: a fenced block that is never closed")
        blocks.append(Block(lang, i + 2, body, pattern))
        pattern = None
        i = j + 1
    return blocks


def examples_of(path):
    """(ordinal, cpp block, text block or None) for every example of the file."""
    blocks = parse_blocks(path)
    found = []
    for k, block in enumerate(blocks):
        if block.lang != "cpp" or not MAIN.search("\n".join(block.lines)):
            continue
        output = None
        for later in blocks[k + 1:]:
            if later.lang == "cpp":
                break
            if later.lang == "text":
                output = later
                break
        found.append((len(found) + 1, block, output))
    return found


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def cmake_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def extract(args):
    os.makedirs(args.out, exist_ok=True)
    written = set()
    manifest = ["# Generated by tests/docs/doc_examples.py: the examples of the documentation.\n"]
    names = []
    for rel in args.files:
        path = os.path.join(args.source_dir, rel)
        stem = re.sub(r"[^a-z0-9]+", "_", os.path.splitext(os.path.basename(rel))[0].lower())
        for ordinal, code, output in examples_of(path):
            name = f"{stem}_{ordinal}"
            source = f'#line {code.first_line} "{rel}"\n' + "\n".join(code.lines) + "\n"
            write_if_changed(os.path.join(args.out, name + ".cpp"), source)
            written.add(name + ".cpp")
            expected = pattern = ""
            if output is not None:
                expected = name + ".expected"
                write_if_changed(os.path.join(args.out, expected),
                                 "".join(l + "\n" for l in output.lines))
                written.add(expected)
                if output.pattern is not None:
                    pattern = name + ".pattern"
                    write_if_changed(os.path.join(args.out, pattern),
                                     "".join(l + "\n" for l in output.pattern))
                    written.add(pattern)
            names.append(name)
            origin = f"{rel}:{code.first_line}"
            manifest.append(f"set(TRICOLOR_DOC_{name}_ORIGIN {cmake_quote(origin)})\n")
            manifest.append(f"set(TRICOLOR_DOC_{name}_EXPECTED {cmake_quote(expected)})\n")
            manifest.append(f"set(TRICOLOR_DOC_{name}_PATTERN {cmake_quote(pattern)})\n")
    manifest.insert(1, "set(TRICOLOR_DOC_EXAMPLES " + " ".join(names) + ")\n")
    write_if_changed(os.path.join(args.out, "examples.cmake"), "".join(manifest))
    # Examples that left the documents leave no files behind.
    for entry in os.listdir(args.out):
        if entry.endswith((".cpp", ".expected", ".pattern")) and entry not in written:
            os.remove(os.path.join(args.out, entry))


def compile_pattern(line):
    parts = RANGE.split(line)
    regex, ranges = "", []
    for k, part in enumerate(parts):
        if k % 3 == 0:
            regex += re.escape(part)
        elif k % 3 == 1:
            regex += NUMBER
            ranges.append((float(parts[k]), float(parts[k + 1])))
    return re.compile(regex + r"\Z"), ranges


def mismatches(pattern_lines, text):
    """Why `text` does not fit the pattern: a list of reasons, empty if it fits."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(pattern_lines):
        return [f"{len(lines)} lines where the pattern has {len(pattern_lines)}"]
    reasons = []
    for number, (line, pattern_line) in enumerate(zip(lines, pattern_lines), 1):
        regex, ranges = compile_pattern(pattern_line)
        m = regex.match(line)
        if not m:
            reasons.append(f"line {number}: {line!r} does not match {pattern_line!r}")
            continue
        for value, (low, high) in zip(m.groups(), ranges):
            if not low <= float(value) <= high:
                reasons.append(f"line {number}: {value} is outside {low:g}..{high:g} in {line!r}")
    return reasons


def check(args):
    where = f"{args.origin}: " if args.origin else ""
    run = subprocess.run([args.program], stdout=subprocess.PIPE, check=False)
    output = run.stdout.decode("utf-8", "replace")
    sys.stdout.write(output)
    if run.returncode != 0:
        print(f"doc_examples: {where}{args.program} exited with {run.returncode}")
        return 1
    expected = None
    if args.expected:
        with open(args.expected, encoding="utf-8") as f:
            expected = f.read()
    if args.pattern:
        with open(args.pattern, encoding="utf-8") as f:
            pattern_lines = f.read().rstrip("\n").split("\n")
        reasons = mismatches(pattern_lines, expected) if expected is not None else []
        if reasons:
            print(f"doc_examples: {where}the document's own output does not fit its pattern:")
            print("\n".join("  " + r for r in reasons))
            return 1
        reasons = mismatches(pattern_lines, output)
        if reasons:
            print(f"doc_examples: {where}the output does not fit the document's pattern:")
            print("\n".join("  " + r for r in reasons))
            return 1
    elif expected is not None and output != expected:
        print(f"doc_examples: {where}the output differs from the document's:")
        sys.stdout.writelines(difflib.unified_diff(
            expected.splitlines(True), output.splitlines(True), "document", "output"))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("extract")
    ex.add_argument("--source-dir", required=True)
    ex.add_argument("--out", required=True)
    ex.add_argument("files", nargs="+")
    ch = sub.add_parser("check")
    ch.add_argument("program")
    ch.add_argument("--origin", default="", help="where the example is, for the messages")
    ch.add_argument("--expected")
    ch.add_argument("--pattern")
    args = ap.parse_args()
    if args.command == "extract":
        extract(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
