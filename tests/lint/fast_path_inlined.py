#!/usr/bin/env python3
"""The library's header fast paths stay inline in a program that uses them.

gc::make, the allocation fast path, the pointer-bit and barrier helpers and gc::ptr's constructors,
assignments and destructor are written to be inlined into the program's own code: a call per
allocation or per pointer copy cost binary-trees and GCBench several percent when GCC kept them
out of line (docs/design.md, section 5). Most of them are marked always_inline; a helper added
without the mark may be outlined in a translation unit with many gc::make calls, and nothing else
would notice. This test reads the functions of namespace gc that an object built from ordinary
user code (lint/fast_path_use.cpp) defines, which are the ones the compiler kept out of line, and
fails on any not listed below with its reason.

Usage: fast_path_inlined.py NM OBJECT
"""
import re
import subprocess
import sys

from lint_report import report

# a pattern of the demangled name: why that function may stay out of line
ALLOWED = {
    r"\bgc::make(_for_overwrite)?<": "gc::make itself may stay a call: what it calls is what must "
                                      "be inline",
    r"\bgc::detail::make_array<": "the body of gc::make<T[]>, which may stay a call as gc::make does",
    r"\bgc::ptr<.*>::die\(\)$": "noinline on purpose: the slow path of a gc::ptr that dies off its "
                                "thread's stack and outside a dying object",
    r"\bgc::detail::slot_dies<": "called only from gc::ptr::die",
    r"\bgc::detail::destroy_(object|array)<": "called through the type's destructor entry",
    r"\bgc::detail::destroy_some<": "the destructor thread's batch, called through the type's "
                                    "destructor entry",
    r"\bgc::detail::FreshObject::restore_outer\(": "cold: only a gc::make nested in a constructor "
                                                    "gives an outer object its range back",
}
# Parts the compiler split off as cold (a throw, an error message) live in this section.
COLD_SECTION = ".text.unlikely"
IN_GC = re.compile(r"^_ZN?K?2gc")


def functions(nm: str, path: str, demangle: bool):
    args = [nm, "-p", "-f", "sysv", "--defined-only"] + (["-C"] if demangle else []) + [path]
    listing = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in listing.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 7 and fields[3] == "FUNC":
            rows.append((fields[0], fields[6]))
    return rows


def main() -> int:
    nm, path = sys.argv[1], sys.argv[2]
    mangled = functions(nm, path, demangle=False)
    demangled = functions(nm, path, demangle=True)
    if len(mangled) != len(demangled):
        print(f"{nm} listed {len(mangled)} functions and {len(demangled)} demangled")
        return 1
    bad = []  # in order, once each: a constructor's two symbols read the same
    checked = 0
    for (name, section), (readable, _) in zip(mangled, demangled):
        if not IN_GC.match(name):
            continue
        checked += 1
        if section == COLD_SECTION or any(re.search(p, readable) for p in ALLOWED):
            continue
        message = (f"{readable}: a header function of the library kept out of line in user code; "
                   "mark it [[gnu::always_inline]], or list it in fast_path_inlined.py with why "
                   "a call is fine")
        if message not in bad:
            bad.append(message)
    return report(bad, f"{checked} functions of namespace gc out of line in {path}, all accounted for")


if __name__ == "__main__":
    sys.exit(main())
