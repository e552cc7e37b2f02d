"""svg_chart: the few chart types docs/benchmarks.md needs, written as plain SVG text.

Why this exists: the report's charts must be drawable on a machine with nothing but Python 3's
standard library (no matplotlib, no pip), and they must stay readable on GitHub, which shows an
SVG in a Markdown page as an image. So: no scripts, no external fonts or style sheets, every
element positioned explicitly, a white background, and text in a generic sans-serif font.

Three chart types, all built from the same small pieces (scales, axes, labels):
  bar_panels       horizontal bars with optional min-max whiskers, one panel per group (one panel
                   per workload; each panel has its own scale because workloads differ by orders of
                   magnitude, and a ratio is read within a panel);
  cdf_chart        cumulative distributions with a logarithmic x axis and a "nines" y axis
                   (50%, 90%, 99%, 99.9%, ...), where latency tails are visible;
  histogram_panels grouped bars over logarithmic bins, one panel per group.
Each returns the SVG document as a string; the caller writes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence
from xml.sax.saxutils import escape

FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
AXIS_COLOR = "#444444"
GRID_COLOR = "#dddddd"


def _num(v: float) -> str:
    """A coordinate, short: SVG files are read in diffs, so no 15-digit floats."""
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


class Svg:
    """Collects elements and wraps them in an <svg> document of a fixed size."""

    def __init__(self, width: float, height: float):
        self.width = width
        self.height = height
        self.parts: list[str] = []

    def rect(self, x, y, w, h, fill, stroke=None, title=None, opacity=None):
        attrs = (f"x=\"{_num(x)}\" y=\"{_num(y)}\" width=\"{_num(max(w, 0))}\" "
                 f"height=\"{_num(max(h, 0))}\" fill=\"{fill}\"")
        if stroke:
            attrs += f" stroke=\"{stroke}\""
        if opacity is not None:
            attrs += f" fill-opacity=\"{opacity}\""
        if title:  # a tooltip in browsers
            self.parts.append(f"<rect {attrs}><title>{escape(title)}</title></rect>")
        else:
            self.parts.append(f"<rect {attrs}/>")

    def line(self, x1, y1, x2, y2, color=AXIS_COLOR, width=1.0, dash=None):
        d = f" stroke-dasharray=\"{dash}\"" if dash else ""
        self.parts.append(
            f"<line x1=\"{_num(x1)}\" y1=\"{_num(y1)}\" x2=\"{_num(x2)}\" y2=\"{_num(y2)}\" "
            f"stroke=\"{color}\" stroke-width=\"{width}\"{d}/>"
        )

    def polyline(self, points, color, width=2.0):
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self.parts.append(
            f"<polyline points=\"{pts}\" fill=\"none\" stroke=\"{color}\" "
            f"stroke-width=\"{width}\" stroke-linejoin=\"round\"/>"
        )

    def circle(self, x, y, r, color, title=None):
        body = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(
            f"<circle cx=\"{_num(x)}\" cy=\"{_num(y)}\" r=\"{_num(r)}\" fill=\"{color}\">{body}"
            "</circle>"
        )

    def text(self, x, y, s, size=12, anchor="start", color="#222222", bold=False, rotate=None):
        weight = " font-weight=\"bold\"" if bold else ""
        rot = f" transform=\"rotate({rotate} {_num(x)} {_num(y)})\"" if rotate is not None else ""
        self.parts.append(
            f"<text x=\"{_num(x)}\" y=\"{_num(y)}\" font-size=\"{size}\" "
            f"text-anchor=\"{anchor}\" fill=\"{color}\"{weight}{rot}>{escape(s)}</text>"
        )

    def document(self) -> str:
        head = (
            f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{_num(self.width)}\" "
            f"height=\"{_num(self.height)}\" viewBox=\"0 0 {_num(self.width)} "
            f"{_num(self.height)}\" {FONT}>\n"
            "<!-- Drawn by tools/svg_chart.py (tools/bench_suite.py); regenerate it, do not edit "
            "it. -->\n"
            f"<rect x=\"0\" y=\"0\" width=\"{_num(self.width)}\" height=\"{_num(self.height)}\" "
            "fill=\"#ffffff\"/>\n"
        )
        return head + "\n".join(self.parts) + "\n</svg>\n"


def nice_ticks(hi: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `hi` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [0.0]
    while ticks[-1] < hi - 1e-12:
        ticks.append(ticks[-1] + step)
    return ticks


def text_width(chars: int, size: float) -> float:
    """A generous estimate of the width of `chars` characters of sans-serif text (no font metrics
    without a renderer): too wide only wastes a little space, too narrow would clip labels."""
    return chars * size * 0.6


def fmt_value(v: float) -> str:
    """A value for a label: three significant digits, no exponent for the usual ranges."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2g}"


# --- horizontal bar panels ---------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: float | None  # None: not measured (missing peer or failed run); drawn as a note
    lo: float | None = None  # whisker, e.g. the minimum of the runs
    hi: float | None = None  # whisker, e.g. the maximum of the runs
    color: str = "#888888"
    note: str = ""  # shown instead of a bar when value is None, or after the value


@dataclass
class Panel:
    title: str
    bars: list[Bar] = field(default_factory=list)


def bar_panels(title: str, subtitle: str, unit: str, panels: Sequence[Panel],
               columns: int = 2) -> str:
    """Panels of horizontal bars, `columns` panels a row, each with its own linear scale from 0."""
    longest = max((len(b.label) for p in panels for b in p.bars), default=8)
    label_w = max(90.0, text_width(longest, 11) + 14)
    bar_w = 230.0 if columns > 1 else 420.0
    pad, row_h, head_h = 24.0, 20.0, 42.0
    panel_w = label_w + bar_w + 80.0
    rows = [panels[i:i + columns] for i in range(0, len(panels), columns)]
    heights = [head_h + max(len(p.bars) for p in row) * row_h + 34.0 for row in rows]
    width = max(pad * 2 + columns * panel_w + (columns - 1) * pad,
                text_width(len(subtitle), 11) + 2 * pad)
    top = 58.0
    svg = Svg(width, top + sum(heights) + pad)
    svg.text(pad, 24, title, size=16, bold=True)
    svg.text(pad, 44, subtitle, size=11, color="#555555")
    y0 = top
    for row, h in zip(rows, heights):
        for col, panel in enumerate(row):
            x0 = pad + col * (panel_w + pad)
            _bar_panel(svg, x0, y0, label_w, bar_w, row_h, head_h, unit, panel)
        y0 += h
    return svg.document()


def _bar_panel(svg, x0, y0, label_w, bar_w, row_h, head_h, unit, panel: Panel):
    svg.text(x0, y0 + 14, panel.title, size=13, bold=True)
    values = [v for b in panel.bars for v in (b.value, b.hi) if v is not None]
    ticks = nice_ticks(max(values) if values else 1.0, 4)
    hi = ticks[-1]
    left = x0 + label_w
    top = y0 + head_h - 16
    bottom = top + len(panel.bars) * row_h + 4

    def sx(v):
        return left + bar_w * v / hi

    for t in ticks:
        svg.line(sx(t), top, sx(t), bottom, GRID_COLOR)
        svg.text(sx(t), bottom + 13, f"{t:g}", size=10, anchor="middle", color="#555555")
    svg.text(left + bar_w, bottom + 26, unit, size=10, anchor="end", color="#555555")
    for i, b in enumerate(panel.bars):
        y = top + 4 + i * row_h
        svg.text(left - 6, y + 12, b.label, size=11, anchor="end")
        if b.value is None:
            svg.text(left + 4, y + 12, b.note or "n/a", size=10, color="#999999")
            continue
        svg.rect(left, y + 2, sx(b.value) - left, row_h - 6, b.color,
                 title=f"{b.label}: {fmt_value(b.value)} {unit}")
        if b.lo is not None and b.hi is not None and b.hi > b.lo:
            ym = y + 2 + (row_h - 6) / 2
            svg.line(sx(b.lo), ym, sx(b.hi), ym, "#222222", 1.2)
            svg.line(sx(b.lo), ym - 4, sx(b.lo), ym + 4, "#222222", 1.2)
            svg.line(sx(b.hi), ym - 4, sx(b.hi), ym + 4, "#222222", 1.2)
        end = max(sx(b.value), sx(b.hi) if b.hi is not None else 0)
        text = fmt_value(b.value) + (f"  {b.note}" if b.note else "")
        svg.text(end + 5, y + 12, text, size=10, color="#333333")
    svg.line(left, top, left, bottom, AXIS_COLOR)


# --- cumulative distributions --------------------------------------------------------------------


@dataclass
class Series:
    label: str
    color: str
    points: list[tuple[float, float]]  # (value, cumulative fraction in [0, 1))


def _log_ticks(lo: float, hi: float) -> list[float]:
    first = math.floor(math.log10(lo))
    last = math.ceil(math.log10(hi))
    return [10.0 ** k for k in range(first, last + 1)]


def _decade_label(v: float, unit: str) -> str:
    if unit == "µs" and v >= 1000:
        return f"{v / 1000:g} ms"
    return f"{v:g} {unit}"


def cdf_chart(title: str, subtitle: str, unit: str, series: Sequence[Series],
              max_nines: int = 6) -> str:
    """Latency CDFs: x = value on a log scale, y = -log10(1 - q) labelled 0%, 90%, 99%, ..."""
    right = max(150.0, text_width(max((len(s.label) for s in series), default=8), 11) + 60)
    width, height = 600.0 + right, 470.0
    left, top, bottom = 90.0, 66.0, 60.0
    svg = Svg(width, height)
    svg.text(24, 24, title, size=16, bold=True)
    svg.text(24, 44, subtitle, size=11, color="#555555")
    xs = [x for s in series for x, _ in s.points if x > 0]
    if not xs:
        svg.text(width / 2, height / 2, "no data", anchor="middle")
        return svg.document()
    ticks = _log_ticks(min(xs), max(xs))
    lx0, lx1 = math.log10(ticks[0]), math.log10(ticks[-1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(v):
        return left + plot_w * (math.log10(v) - lx0) / (lx1 - lx0)

    def nines(q):
        return min(-math.log10(max(1.0 - q, 10.0 ** -max_nines)), max_nines)

    def sy(q):
        return top + plot_h * (1 - nines(q) / max_nines)

    for t in ticks:
        svg.line(sx(t), top, sx(t), top + plot_h, GRID_COLOR)
        svg.text(sx(t), top + plot_h + 16, _decade_label(t, unit), size=10, anchor="middle")
    for k in range(max_nines + 1):
        q = 1 - 10.0 ** -k
        label = "0%" if k == 0 else f"{100 * q:.{max(k - 2, 0)}f}%"
        svg.line(left, sy(q), left + plot_w, sy(q), GRID_COLOR)
        svg.text(left - 6, sy(q) + 4, label, size=10, anchor="end")
    svg.line(left, top + plot_h, left + plot_w, top + plot_h)
    svg.line(left, top, left, top + plot_h)
    svg.text(left + plot_w / 2, height - 18, f"store latency ({unit}, log scale)", size=11,
             anchor="middle")
    svg.text(22, top + plot_h / 2, "fraction of stores at or below", size=11, anchor="middle",
             rotate=-90)
    for i, s in enumerate(series):
        pts = [(sx(x), sy(q)) for x, q in s.points if x > 0]
        if pts:
            svg.polyline(pts, s.color)
            for (px, py), (x, q) in zip(pts, [p for p in s.points if p[0] > 0]):
                svg.circle(px, py, 2.2, s.color,
                           title=f"{s.label}: {100 * q:.4f}% of stores <= {fmt_value(x)} {unit}")
        ly = top + 10 + i * 20
        svg.line(width - right + 16, ly, width - right + 40, ly, s.color, 3)
        svg.text(width - right + 46, ly + 4, s.label, size=11)
    return svg.document()


# --- histograms over logarithmic bins -------------------------------------------------------------


@dataclass
class HistSeries:
    label: str
    color: str
    values: list[float]  # raw samples


def log_bins(lo: float, hi: float, per_decade: int) -> list[float]:
    """Bin edges from a power of ten at or below lo to one at or above hi."""
    first = math.floor(math.log10(lo))
    last = math.ceil(math.log10(hi))
    return [10.0 ** (first + k / per_decade) for k in range((last - first) * per_decade + 1)]


def histogram_panels(title: str, subtitle: str, unit: str,
                     panels: Sequence[tuple[str, Sequence[HistSeries]]],
                     per_decade: int = 4) -> str:
    """One panel per group; in each, every series' share of its samples per log-spaced bin."""
    samples = [v for _, ss in panels for s in ss for v in s.values if v > 0]
    width = 760.0
    panel_h, pad, top = 190.0, 24.0, 62.0
    svg = Svg(width, top + max(len(panels), 1) * (panel_h + 30) + 10)
    svg.text(pad, 24, title, size=16, bold=True)
    svg.text(pad, 44, subtitle, size=11, color="#555555")
    if not samples:
        svg.text(width / 2, top + 40, "no pauses were recorded", anchor="middle")
        return svg.document()
    edges = log_bins(min(samples), max(samples), per_decade)
    left, right = 70.0, 180.0
    plot_w = width - left - right
    nbins = len(edges) - 1
    slot = plot_w / nbins
    for p, (ptitle, series) in enumerate(panels):
        y0 = top + p * (panel_h + 30)
        plot_top, plot_h = y0 + 22, panel_h - 44
        svg.text(pad, y0 + 12, ptitle, size=13, bold=True)
        shares = []
        for s in series:
            counts = [0] * nbins
            for v in s.values:  # a pause printed as 0 (below gctrace's 1 µs) goes to the first bin
                pos = (math.log10(v) - math.log10(edges[0])) * per_decade if v > 0 else 0
                k = min(max(int(math.floor(pos)), 0), nbins - 1)
                counts[k] += 1
            n = max(len(s.values), 1)
            shares.append([100.0 * c / n for c in counts])
        ymax = nice_ticks(max((v for sh in shares for v in sh), default=1.0), 4)
        for t in ymax:
            y = plot_top + plot_h * (1 - t / ymax[-1])
            svg.line(left, y, left + plot_w, y, GRID_COLOR)
            svg.text(left - 6, y + 4, f"{t:g}%", size=10, anchor="end")
        for k in range(0, nbins + 1, per_decade):
            x = left + k * slot
            svg.line(x, plot_top, x, plot_top + plot_h, GRID_COLOR)
            svg.text(x, plot_top + plot_h + 14, _decade_label(edges[k], unit), size=10,
                     anchor="middle")
        bw = slot * 0.8 / max(len(series), 1)
        for i, (s, sh) in enumerate(zip(series, shares)):
            for k, v in enumerate(sh):
                if v <= 0:
                    continue
                h = plot_h * v / ymax[-1]
                svg.rect(left + k * slot + slot * 0.1 + i * bw, plot_top + plot_h - h, bw, h,
                         s.color,
                         title=f"{s.label}: {v:.1f}% of {len(s.values)} pauses in "
                         f"[{fmt_value(edges[k])}, {fmt_value(edges[k + 1])}) {unit}")
            ly = plot_top + 8 + i * 20
            svg.rect(width - right + 16, ly - 8, 14, 10, s.color)
            svg.text(width - right + 36, ly + 1, f"{s.label} (n={len(s.values)})", size=11)
        svg.line(left, plot_top + plot_h, left + plot_w, plot_top + plot_h)
        svg.line(left, plot_top, left, plot_top + plot_h)
    return svg.document()
