#!/usr/bin/env python3
"""Generate include/tricolor/detail/size_classes.hpp, the allocator's size-class table.

The classes are computed the way Go's runtime computes its own (8 KiB pages, 67 classes from
8 bytes to 32 KiB, class 0 reserved for large objects), and the result is checked against the
table Go publishes before anything is written.

Usage:
    python3 tools/gen_size_classes.py > include/tricolor/detail/size_classes.hpp
    python3 tools/gen_size_classes.py --check include/tricolor/detail/size_classes.hpp

With --check, nothing is written; the exit status is 0 when FILE is exactly what this script
would print and 1 when it differs (a short diff goes to stderr). If the computed table fails any
of its checks (Go's table, the waste bound, the exactness of the division magic), nothing is
written and the exit status is 2.
"""

import argparse
import difflib
import sys

PAGE_SHIFT = 13
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_SMALL_SIZE = 32 << 10
SMALL_SIZE_DIV = 8
SMALL_SIZE_MAX = 1024
LARGE_SIZE_DIV = 128
TINY_SIZE = 16
NUM_SIZE_CLASSES = 68  # 67 small classes plus class 0 ("large")
# Spans of objects up to this size hold at least MIN_SMALL_SPAN_PAGES pages, not Go's one page: a
# thread takes a fresh span from the central lists every span's worth of objects, and at one page
# that turnover was a tenth of binary-trees' time (docs/design.md, "Spans of small objects").
SMALL_SPAN_MAX_OBJECT = 1024
MIN_SMALL_SPAN_PAGES = 4

# The (object size, pages per span) pairs of Go's runtime for classes 1..67, used only to prove
# that the algorithm below reproduces them.
GO_TABLE = [
    (8, 1), (16, 1), (24, 1), (32, 1), (48, 1), (64, 1), (80, 1), (96, 1), (112, 1), (128, 1),
    (144, 1), (160, 1), (176, 1), (192, 1), (208, 1), (224, 1), (240, 1), (256, 1), (288, 1),
    (320, 1), (352, 1), (384, 1), (416, 1), (448, 1), (480, 1), (512, 1), (576, 1), (640, 1),
    (704, 1), (768, 1), (896, 1), (1024, 1), (1152, 1), (1280, 1), (1408, 2), (1536, 1),
    (1792, 2), (2048, 1), (2304, 2), (2688, 1), (3072, 3), (3200, 2), (3456, 3), (4096, 1),
    (4864, 3), (5376, 2), (6144, 3), (6528, 4), (6784, 5), (6912, 6), (8192, 1), (9472, 7),
    (9728, 6), (10240, 5), (10880, 4), (12288, 3), (13568, 5), (14336, 7), (16384, 2),
    (18432, 9), (19072, 7), (20480, 5), (21760, 8), (24576, 3), (27264, 10), (28672, 7),
    (32768, 4),
]


class GenerationError(Exception):
    pass


def is_power_of_two(x):
    return x > 0 and x & (x - 1) == 0


def span_bytes(size):
    """Bytes in the smallest whole-page span whose unused tail is at most 1/8 of the span."""
    span = PAGE_SIZE
    while span % size > span // 8:
        span += PAGE_SIZE
    return span


def compute_classes():
    """Return a list of (object size, pages) indexed by class; entry 0 is (0, 0)."""
    classes = [(0, 0)]
    step = 8
    size = step
    while size <= MAX_SMALL_SIZE:
        # Candidate sizes get coarser as they grow: 8-byte steps below 32, 16-byte steps below
        # 128, then 1/8 of the power of two just passed, and 256-byte steps from 2 KiB on.
        if is_power_of_two(size):
            if size >= 2048:
                step = 256
            elif size >= 128:
                step = size // 8
            elif size >= 32:
                step = 16
        if not is_power_of_two(step):
            raise GenerationError("step %d is not a power of two" % step)

        span = span_bytes(size)
        pages = span // PAGE_SIZE
        # A candidate that packs as many objects into as many pages as the class before it adds
        # nothing but a smaller object size: widen the previous class instead.
        if len(classes) > 1:
            prev_size, prev_pages = classes[-1]
            if prev_pages == pages and span // prev_size == span // size:
                classes[-1] = (size, pages)
                size += step
                continue
        classes.append((size, pages))
        size += step

    # Where a span holding n objects leaves room, make each object as large as the span allows,
    # keeping sizes multiples of LARGE_SIZE_DIV so that the 128-byte lookup table stays exact.
    for c in range(1, len(classes)):
        size, pages = classes[c]
        span = pages * PAGE_SIZE
        grown = (span // (span // size)) & ~(LARGE_SIZE_DIV - 1)
        if grown > size:
            classes[c] = (grown, pages)
    return classes


def widen_small_spans(classes):
    """Give classes of objects up to SMALL_SPAN_MAX_OBJECT bytes spans of MIN_SMALL_SPAN_PAGES."""
    return [(size, max(pages, MIN_SMALL_SPAN_PAGES) if 0 < size <= SMALL_SPAN_MAX_OBJECT else pages)
            for size, pages in classes]


def div_magic(size):
    return (0xFFFFFFFF // size) + 1


def verify_div_magic(size, pages):
    """Check (offset * magic) >> 32 == offset // size for every offset 0..span bytes."""
    magic = div_magic(size)
    if magic > 0xFFFFFFFF:
        raise GenerationError("div magic of size %d does not fit in 32 bits" % size)
    span = pages * PAGE_SIZE
    for offset in range(span + 1):
        if ((offset * magic) >> 32) != offset // size:
            raise GenerationError(
                "div magic %d of size %d is wrong at offset %d" % (magic, size, offset))


def verify_go(classes):
    if len(classes) != NUM_SIZE_CLASSES:
        raise GenerationError("expected %d classes, computed %d" % (NUM_SIZE_CLASSES, len(classes)))
    if classes[1:] != GO_TABLE:
        raise GenerationError("computed classes differ from Go's table")


def verify(classes):
    prev = 0
    for c in range(1, len(classes)):
        size, pages = classes[c]
        span = pages * PAGE_SIZE
        if size <= prev:
            raise GenerationError("class %d: sizes do not increase" % c)
        if size % SMALL_SIZE_DIV != 0:
            raise GenerationError("class %d: size %d not a multiple of 8" % (c, size))
        if size > 16 and size % 16 != 0 and size != 24:
            raise GenerationError("class %d: size %d not a multiple of 16" % (c, size))
        if size > SMALL_SIZE_MAX and size % LARGE_SIZE_DIV != 0:
            raise GenerationError("class %d: size %d not a multiple of 128" % (c, size))
        if span % size > span // 8:
            raise GenerationError("class %d: tail waste over 1/8 of the span" % c)
        if pages > 255 or span // size > 0xFFFF:
            raise GenerationError("class %d: pages or objects overflow their type" % c)
        verify_div_magic(size, pages)
        prev = size
    if classes[-1][0] != MAX_SMALL_SIZE:
        raise GenerationError("last class is not %d" % MAX_SMALL_SIZE)


def smallest_class(classes, size):
    """Smallest class whose objects hold `size` bytes; size 0 counts as 1."""
    size = max(size, 1)
    for c in range(1, len(classes)):
        if classes[c][0] >= size:
            return c
    raise GenerationError("no class holds %d bytes" % size)


def size_to_class8(classes):
    # Entry i serves sizes 8*(i-1)+1 .. 8*i; all class sizes are multiples of 8.
    return [smallest_class(classes, i * SMALL_SIZE_DIV)
            for i in range(SMALL_SIZE_MAX // SMALL_SIZE_DIV + 1)]


def size_to_class128(classes):
    # Entry i serves sizes 1024+128*(i-1)+1 .. 1024+128*i; class sizes above 1024 are multiples
    # of 128.
    count = (MAX_SMALL_SIZE - SMALL_SIZE_MAX) // LARGE_SIZE_DIV + 1
    return [smallest_class(classes, SMALL_SIZE_MAX + i * LARGE_SIZE_DIV) for i in range(count)]


def format_array(name, elem_type, bound, values, fmt="%d"):
    decl = "inline constexpr std::array<%s, %s>" % (elem_type, bound)
    if len(decl) + len(name) + 5 <= 100:
        lines = ["%s %s = {" % (decl, name)]
    else:
        lines = [decl, "    %s = {" % name]
    indent = "    "
    line = indent
    for v in values:
        item = (fmt % v) + ","
        if len(line) + len(item) + 1 > 100:
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    lines.append(line.rstrip())
    lines.append("};")
    return lines


def alignment_of(size):
    return min(size & -size, PAGE_SIZE)


def table_comment(classes):
    rows = ["// class  bytes/obj  pages  bytes/span  objects  tail waste  max waste  align"]
    prev = 0
    for c in range(1, len(classes)):
        size, pages = classes[c]
        span = pages * PAGE_SIZE
        objects = span // size
        tail = span - objects * size
        # Worst case: every object holds one byte more than the previous class's size.
        max_waste = ((size - prev - 1) * objects + tail) / span
        rows.append("// %5d  %9d  %5d  %10d  %7d  %10d  %8.2f%%  %5d" % (
            c, size, pages, span, objects, tail, 100 * max_waste, alignment_of(size)))
        prev = size
    return rows


HEADER_INTRO = """\
// Code generated by tools/gen_size_classes.py; DO NOT EDIT.
//
// Regenerate: python3 tools/gen_size_classes.py > include/tricolor/detail/size_classes.hpp
// Verify:     python3 tools/gen_size_classes.py --check include/tricolor/detail/size_classes.hpp
//
// Size classes of the small-object allocator: the same sizes as Go's runtime (sizeclasses.go), and
// the same spans but for the smallest objects: classes up to SMALL_MAX bytes get spans of SMALL_PAGES pages, not
// Go's one page, so that a thread takes a fresh span SMALL_PAGES times less often.
//
// A size class is an object size together with a span length. Every request of at most
// kMaxSmallSize bytes is rounded up to the object size of the smallest class that holds it, and is
// served from a span of that class: kClassToPages[c] pages of kPageSize bytes, starting on a page
// boundary, cut into kClassToObjects[c] slots of kClassToSize[c] bytes laid end to end from the
// span base. Class 0 means "large": such an object gets a whole-page span of its own.
//
// Waste bound: each class's page count (before the widening, which keeps the bound) is the smallest
// for which the tail left after the last whole slot is at most 1/8 of the span, so cutting a span
// wastes at most 12.5%. The sizes are spaced so that rounding a request up to its class also
// wastes roughly 12.5% at most, except for the smallest sizes, where the 8- and 16-byte
// granularity dominates ("max waste" below counts both: the worst request for the class, one byte
// above the previous class, plus the tail).
//
// How the sizes are chosen: candidates step by 8 bytes up to 32, by 16 up to 128, then by 1/8 of
// the last power of two passed, and by 256 from 2048 on. A candidate that fits as many objects in
// as many pages as the class before it replaces that class. Finally, each size grows to the largest
// multiple of 128 that still fits the same number of objects in its span. Hence every size is a
// multiple of 8, every size from 32 on is a multiple of 16, and every size above 1024 is a multiple
// of 128 ("align" below is the largest power of two, up to the page size, dividing the size).
//
// Lookups, two tables so that size_to_class() is one load:
//   kSizeToClass8[(size + 7) / 8]                   for size <= kSmallSizeMax (1024),
//   kSizeToClass128[(size - 1024 + 127) / 128]      for 1024 < size <= kMaxSmallSize.
// kClassToDivMagic[c] replaces the division offset / kClassToSize[c] (slot index of an offset in a
// span) with a 32x32->64-bit multiply and a shift; the generator checked it for every offset from 0
// to the span length.
//"""


def generate():
    classes = compute_classes()
    verify_go(classes)
    classes = widen_small_spans(classes)
    verify(classes)
    small = size_to_class8(classes)
    large = size_to_class128(classes)

    intro = HEADER_INTRO.replace("SMALL_MAX", str(SMALL_SPAN_MAX_OBJECT))
    out = intro.replace("SMALL_PAGES", str(MIN_SMALL_SPAN_PAGES)).split("\n")
    out += table_comment(classes)
    out += [
        "",
        "#pragma once",
        "",
        "#include <array>",
        "#include <cstddef>",
        "#include <cstdint>",
        "",
        "namespace gc::detail {",
        "",
        "inline constexpr std::size_t kPageShift = %d;" % PAGE_SHIFT,
        "inline constexpr std::size_t kPageSize = %d;" % PAGE_SIZE,
        "// Largest size served from size classes; anything bigger is a large object (class 0).",
        "inline constexpr std::size_t kMaxSmallSize = %d;" % MAX_SMALL_SIZE,
        "// Number of classes, class 0 (\"large\") included.",
        "inline constexpr std::size_t kNumSizeClasses = %d;" % NUM_SIZE_CLASSES,
        "inline constexpr std::size_t kSmallSizeMax = %d;" % SMALL_SIZE_MAX,
        "inline constexpr std::size_t kSmallSizeDiv = %d;" % SMALL_SIZE_DIV,
        "inline constexpr std::size_t kLargeSizeDiv = %d;" % LARGE_SIZE_DIV,
        "// Block size of the tiny allocator (small noscan objects packed together).",
        "inline constexpr std::size_t kTinySize = %d;" % TINY_SIZE,
        "",
        "static_assert(kPageSize == std::size_t{1} << kPageShift);",
        "",
        "// clang-format off",
        "",
        "// Object size of each class, in bytes.",
    ]
    out += format_array("kClassToSize", "std::uint32_t", "kNumSizeClasses",
                        [s for s, _ in classes])
    out += ["", "// Pages in a span of each class."]
    out += format_array("kClassToPages", "std::uint8_t", "kNumSizeClasses",
                        [p for _, p in classes])
    out += ["", "// Objects in a span of each class."]
    out += format_array("kClassToObjects", "std::uint16_t", "kNumSizeClasses",
                        [(p * PAGE_SIZE // s) if s else 0 for s, p in classes])
    out += [
        "",
        "// ~uint32_t(0) / size + 1 for each class (0 for class 0): for every offset in a span,",
        "// uint32_t((uint64_t(offset) * kClassToDivMagic[c]) >> 32) == offset / kClassToSize[c].",
    ]
    out += format_array("kClassToDivMagic", "std::uint32_t", "kNumSizeClasses",
                        [div_magic(s) if s else 0 for s, _ in classes], fmt="0x%08xu")
    out += ["", "// Class for sizes up to kSmallSizeMax, indexed by (size + 7) / 8."]
    out += format_array("kSizeToClass8", "std::uint8_t",
                        "kSmallSizeMax / kSmallSizeDiv + 1", small)
    out += ["", "// Class for sizes above kSmallSizeMax, indexed by (size - 1024 + 127) / 128."]
    out += format_array("kSizeToClass128", "std::uint8_t",
                        "(kMaxSmallSize - kSmallSizeMax) / kLargeSizeDiv + 1", large)
    out += [
        "",
        "// clang-format on",
        "",
        "// The smallest class whose objects hold `size` bytes, or 0 (\"large\") when size >",
        "// kMaxSmallSize. Size 0 maps to class 1 like size 1 (callers round 0 up to 1 anyway).",
        "constexpr std::uint8_t size_to_class(std::size_t size) {",
        "  if (size <= kSmallSizeMax) {",
        "    return kSizeToClass8[(size + kSmallSizeDiv - 1) / kSmallSizeDiv];",
        "  }",
        "  if (size <= kMaxSmallSize) {",
        "    return kSizeToClass128[(size - kSmallSizeMax + kLargeSizeDiv - 1) / kLargeSizeDiv];",
        "  }",
        "  return 0;",
        "}",
        "",
        "// The smallest class whose object size is at least `size` and a multiple of `align` (a power",
        "// of two), or 0 (\"large\") when no class qualifies. Slots start at span_base + i * size and",
        "// span bases are page-aligned, so such a class gives every slot that alignment, for align up",
        "// to kPageSize; for a larger align the result is 0, and since large spans are only",
        "// page-aligned the caller must over-allocate. For align <= 8 this equals size_to_class(size),",
        "// since every class size is a multiple of 8. For align 16 every class qualifies except 8 and",
        "// 24 (all sizes from 32 on are multiples of 16), so a size that is a multiple of 16 also gets",
        "// size_to_class(size).",
        "constexpr std::uint8_t size_to_class_aligned(std::size_t size, std::size_t align) {",
        "  if (align > kPageSize) {",
        "    return 0;",
        "  }",
        "  const std::uint8_t first = size_to_class(size);",
        "  if (first == 0 || align <= kSmallSizeDiv) {",
        "    return first;",
        "  }",
        "  for (std::size_t c = first; c < kNumSizeClasses; ++c) {",
        "    if (kClassToSize[c] % align == 0) {",
        "      return static_cast<std::uint8_t>(c);",
        "    }",
        "  }",
        "  return 0;",
        "}",
        "",
        "}  // namespace gc::detail",
    ]
    return "\n".join(out) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(
        description="Generate the size-class header (written to stdout).")
    parser.add_argument("--check", metavar="FILE",
                        help="exit 1 if FILE differs from the generated header")
    args = parser.parse_args(argv)
    try:
        text = generate()
    except GenerationError as err:
        print("gen_size_classes.py: %s; header not written" % err, file=sys.stderr)
        return 2
    if args.check is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.check, "r", encoding="utf-8", newline="") as f:
            current = f.read()
    except OSError as err:
        print("gen_size_classes.py: cannot read %s: %s" % (args.check, err), file=sys.stderr)
        return 1
    if current == text:
        return 0
    diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                fromfile=args.check, tofile="generated")
    sys.stderr.writelines(list(diff)[:40])
    print("gen_size_classes.py: %s is out of date; regenerate it" % args.check, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
