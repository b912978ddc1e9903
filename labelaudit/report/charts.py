"""The report's pictures as geometry: small shape records that one template macro draws as inline SVG.

Each function computes coordinates only; the text it places (labels, titles, tooltips) is escaped by the
template engine like every other value, and colours are SVG attributes, so the pictures print as they show.
Nothing is fetched: no fonts, no scripts, no images.

Why two drawings per picture: an SVG scaled down to a phone's width scales its text with it (a 588-wide
histogram on a 390 px phone drew 10-unit ticks at under 6 px). So each picture also carries a ``compact``
drawing, at most :data:`COMPACT_WIDTH` units wide with text of at least 11 units, which the page shows instead
below 600 px (``report.css``); its text is then drawn at 11 px or more. The wide drawing keeps text of at least
11 units, so it stays above 10 px where the desktop layout shrinks it a little.

The shapes, colours and axis helpers are :mod:`labelaudit.report.svg`; their names stay importable from here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from labelaudit.report.svg import (
    BAD,
    BAR,
    COMPACT_WIDTH,
    GRID,
    INK,
    MAX_COMPACT_HEATMAP_CLASSES,
    MAX_HEATMAP_CLASSES,
    MIN_FONT,
    MUTED,
    NEUTRAL,
    OK,
    Chart,
    Circle,
    Line,
    Polyline,
    Rect,
    Shape,
    Text,
)
from labelaudit.report.svg import anchor as _anchor
from labelaudit.report.svg import scale as _scale
from labelaudit.report.svg import tick_pct as _tick_pct
from labelaudit.report.svg import ticks as _ticks
from labelaudit.report.views import ClassView, GateView, HistogramBin, NoiseCell, TrendPoint

__all__ = [
    "BAD",
    "BAR",
    "COMPACT_WIDTH",
    "GRID",
    "INK",
    "MAX_COMPACT_HEATMAP_CLASSES",
    "MAX_HEATMAP_CLASSES",
    "MIN_FONT",
    "MUTED",
    "NEUTRAL",
    "OK",
    "Chart",
    "Circle",
    "Line",
    "Polyline",
    "Rect",
    "Shape",
    "Text",
    "class_error_bars",
    "noise_heatmap",
    "score_histogram",
    "sparkline",
    "trend_chart",
]


def _with_compact(draw: Callable[..., Chart | None]) -> Callable[..., Chart | None]:
    """``draw(..., compact=False)`` carrying ``draw(..., compact=True)`` as its ``compact`` drawing."""

    @functools.wraps(draw)
    def both(*args: object, **kwargs: object) -> Chart | None:
        wide = draw(*args, compact=False, **kwargs)
        if wide is None:
            return None
        return replace(wide, compact=draw(*args, compact=True, **kwargs))

    return both


def _short(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def _heat(share: float) -> str:
    """White to dark red for a share in [0, 1] (square-root scale, so small error shares still show)."""
    t = math.sqrt(min(max(share, 0.0), 1.0))
    start, end = (255, 255, 255), (165, 15, 21)
    r, g, b = (round(s + (e - s) * t) for s, e in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class _Grid:
    """Where the heatmap's cells go: ``size`` units square, the first at (``left``, ``top``)."""

    left: float
    top: float
    size: float
    chars: int  # characters of a column label (row labels get 4 more on the wide drawing)


def _grid(k: int, compact: bool) -> tuple[_Grid, float]:
    """The heatmap's grid for ``k`` classes and the margin right of it (room for the last rotated label)."""
    if compact:  # shorter labels, cells sized to fit COMPACT_WIDTH
        left, right = 84.0, 52.0
        return _Grid(left, 80.0, max(20.0, min(48.0, (COMPACT_WIDTH - left - right) / k)), 9), right
    return _Grid(130.0, 96.0, max(22.0, min(64.0, 560.0 / k)), 12), 72.0


@_with_compact
def noise_heatmap(
    cells: Sequence[NoiseCell], labels: Sequence[str], *, rows: int, compact: bool = False
) -> Chart | None:
    """Given label (rows) by likely true label (columns); each cell is its share of the given label's rows.

    The share is ``joint[g, t] / sum_t joint[g, t]``; the tooltip adds the estimated number of rows
    (``joint * rows``), the noise rate P(given | true) and the confident count.
    """
    if not cells or not labels:
        return None
    total = len(labels)
    shown = _busiest(cells, labels, MAX_COMPACT_HEATMAP_CLASSES if compact else MAX_HEATMAP_CLASSES)
    k = len(shown)
    grid, right = _grid(k, compact)
    shapes = _heatmap_labels(shown, grid, row_chars=grid.chars + (0 if compact else 4))
    shapes += _heatmap_cells(cells, shown, grid, rows)
    note = ""
    if k < total:
        note = f" Only the {k} of {total} classes with the most estimated errors are drawn; all are in the table."
    return Chart(
        grid.left + grid.size * k + right,
        grid.top + grid.size * k + 40,
        "Estimated noise matrix",
        "For each given label (row), the estimated share of its rows whose true label is each column. "
        "The diagonal is the share labelled correctly; off-diagonal cells are the estimated label errors." + note,
        shapes,
    )


def _heatmap_labels(labels: Sequence[str], grid: _Grid, row_chars: int) -> list[Shape]:
    """The axis titles, a label left of each row and a rotated label above each column."""
    left, top, size, k = grid.left, grid.top, grid.size, len(labels)
    shapes: list[Shape] = [
        Text(left + size * k / 2, 14, "likely true label →", "middle", MUTED, 12),
        Text(14, top + size * k / 2, "given label →", "middle", MUTED, 12, rotate=-90),
    ]
    for i, label in enumerate(labels):
        centre = size * i + size / 2
        shapes.append(Text(left - 6, top + centre + 4, _short(label, row_chars), "end", INK, MIN_FONT, title=label))
        column = _short(label, grid.chars)
        shapes.append(Text(left + centre, top - 8, column, "start", INK, MIN_FONT, title=label, rotate=-45))
    return shapes


def _heatmap_cells(cells: Sequence[NoiseCell], labels: Sequence[str], grid: _Grid, rows: int) -> list[Shape]:
    """One square per (given, true) pair of ``labels``, its share written in it when the square is big enough."""
    index = {label: i for i, label in enumerate(labels)}
    row_mass = dict.fromkeys(labels, 0.0)
    for c in cells:
        if c.given_label in row_mass:
            row_mass[c.given_label] += c.joint
    shapes: list[Shape] = []
    for c in cells:
        if c.given_label not in index or c.true_label not in index:
            continue
        g, t = index[c.given_label], index[c.true_label]
        mass = row_mass[c.given_label]
        share = c.joint / mass if mass > 0 else 0.0
        diagonal = g == t
        tip = (
            f"given {c.given_label!r}, likely true {c.true_label!r}: {_pct(share)} of the rows labelled "
            f"{c.given_label!r}, about {c.joint * rows:,.0f} rows; P(given | true) = {c.noise:.3f}; "
            f"confident count {c.confident_count:,.1f}"
        )
        x, y, size = grid.left + grid.size * t, grid.top + grid.size * g, grid.size
        shapes.append(Rect(x, y, size, size, "#e4e7eb" if diagonal else _heat(share), tip, stroke="#ffffff"))
        if size >= 30:
            text = _pct(share, 0 if share >= 0.1 or share == 0 else 1)
            colour = "#ffffff" if not diagonal and share > 0.35 else INK
            shapes.append(Text(x + size / 2, y + size / 2 + 4, text, "middle", colour, MIN_FONT))
    return shapes


def _busiest(cells: Sequence[NoiseCell], labels: Sequence[str], limit: int) -> list[str]:
    """``labels`` when there are at most ``limit``, else the ``limit`` with the most off-diagonal mass."""
    if len(labels) <= limit:
        return list(labels)
    mass = dict.fromkeys(labels, 0.0)
    for c in cells:
        if c.given_label != c.true_label:
            for label in (c.given_label, c.true_label):
                if label in mass:
                    mass[label] += c.joint
    keep = set(sorted(labels, key=lambda label: -mass[label])[:limit])
    return [label for label in labels if label in keep]


@_with_compact
def class_error_bars(
    classes: Sequence[ClassView], gate: Sequence[GateView] = (), *, compact: bool = False
) -> Chart | None:
    """Horizontal bars: estimated label-error rate per given class, with the class's gate limit if set."""
    if not classes:
        return None
    limits = {g.scope: g for g in gate if g.code == "GATE-CLASS-ERR"}
    overall = next((g for g in gate if g.code == "GATE-ERR"), None)
    top_value = max([c.estimated_error_rate for c in classes] + [g.limit_value for g in limits.values()] + [0.01])
    if overall:
        top_value = max(top_value, overall.limit_value)
    scale_max = min(1.0, _scale(top_value * 1.05))
    left, right, bar_h, gap, top = (84.0, 52.0, 20.0, 8.0, 24.0) if compact else (130.0, 70.0, 18.0, 8.0, 24.0)
    plot_w = COMPACT_WIDTH - left - right if compact else 340.0
    chars = 11 if compact else 16
    height = top + len(classes) * (bar_h + gap) + 26
    shapes: list[Shape] = []
    for tick in _ticks(scale_max):
        x = left + plot_w * tick / scale_max
        shapes.append(Line(x, top - 6, x, height - 22, GRID))
        shapes.append(Text(x, height - 6, _tick_pct(tick, scale_max), "middle", MUTED, MIN_FONT))
    for i, c in enumerate(classes):
        y = top + i * (bar_h + gap)
        w = plot_w * min(c.estimated_error_rate, scale_max) / scale_max
        limit = limits.get(c.label)
        over = limit is not None and not limit.passed
        tip = (
            f"{c.label}: estimated error rate {_pct(c.estimated_error_rate, 2)}, {c.flagged:,} of "
            f"{c.given_count:,} rows flagged"
        )
        shapes.append(Text(left - 6, y + bar_h - 5, _short(c.label, chars), "end", INK, MIN_FONT, title=c.label))
        shapes.append(Rect(left, y, max(w, 1.0), bar_h, BAD if over else BAR, tip))
        shapes.append(Text(left + w + 4, y + bar_h - 5, _pct(c.estimated_error_rate), "start", INK, MIN_FONT))
        if limit is not None:
            lx = left + plot_w * min(limit.limit_value, scale_max) / scale_max
            shapes.append(Line(lx, y - 3, lx, y + bar_h + 3, INK, 2))
    if overall is not None:
        ox = left + plot_w * min(overall.limit_value, scale_max) / scale_max
        shapes.append(Line(ox, top - 8, ox, height - 22, BAD, 1.5, "4 3"))
        label = f"overall limit {_pct(overall.limit_value)}"
        anchor = _anchor(ox, label, MIN_FONT, 0.0, left + plot_w + right)
        shapes.append(Text(ox, top - 12, label, anchor, BAD, MIN_FONT))
    return Chart(
        left + plot_w + right,
        height,
        "Estimated label-error rate per class",
        "One bar per given label: the estimated share of its rows that truly belong to another class. "
        "A black tick marks the class's limit in the quality gate; red bars breach it.",
        shapes,
    )


@_with_compact
def score_histogram(bins: Sequence[HistogramBin], cutoff: float | None, *, compact: bool = False) -> Chart | None:
    """Rows per label-quality score bin, flagged rows stacked in red, on a square-root count scale."""
    if not bins:
        return None
    left, top, plot_w, plot_h = (
        (56.0, 22.0, COMPACT_WIDTH - 56.0 - 16.0, 150.0) if compact else (56.0, 22.0, 520.0, 180.0)
    )
    peak = max(b.flagged + b.unflagged for b in bins) or 1

    def y_of(count: float) -> float:
        return top + plot_h - plot_h * math.sqrt(count / peak)

    shapes: list[Shape] = []
    for tick in sorted({0, round(peak / 100), round(peak / 10), peak}):
        if tick < 0 or (tick == 0 and peak == 0):
            continue
        y = y_of(tick)
        shapes.append(Line(left, y, left + plot_w, y, GRID))
        shapes.append(Text(left - 6, y + 4, f"{tick:,}", "end", MUTED, MIN_FONT))
    step = plot_w / len(bins)
    for i, b in enumerate(bins):
        x = left + i * step + 1
        total = b.flagged + b.unflagged
        tip = f"score {b.lo:.2f}–{b.hi:.2f}: {total:,} rows, {b.flagged:,} flagged"
        if b.unflagged:
            shapes.append(Rect(x, y_of(total), step - 2, y_of(b.flagged) - y_of(total), NEUTRAL, tip))
        if b.flagged:
            shapes.append(Rect(x, y_of(b.flagged), step - 2, top + plot_h - y_of(b.flagged), BAD, tip))
    shapes.append(Line(left, top + plot_h, left + plot_w, top + plot_h, INK))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * tick
        anchor = "start" if tick == 0 else "end" if tick == 1 else "middle"  # the ends stay inside the picture
        shapes.append(Text(x, top + plot_h + 16, f"{tick:.2f}", anchor if compact else "middle", MUTED, MIN_FONT))
    shapes.append(
        Text(left + plot_w / 2, top + plot_h + 34, "label-quality score (low = suspicious)", "middle", MUTED, MIN_FONT)
    )
    if cutoff is not None:
        x = left + plot_w * min(max(cutoff, 0.0), 1.0)
        shapes.append(Line(x, top - 6, x, top + plot_h, INK, 1.5, "4 3"))
        label = f"highest flagged score {cutoff:.3f}"
        anchor = _anchor(x + 4, label, MIN_FONT, 0.0, left + plot_w + 16, prefer="start")
        shapes.append(Text(x + (4 if anchor == "start" else -4), top + 4, label, anchor, INK, MIN_FONT))
    return Chart(
        left + plot_w + 16,
        top + plot_h + 44,
        "Distribution of label-quality scores",
        "How many rows have each label-quality score; flagged rows in red, the dashed line at the highest "
        "score among flagged rows. Counts on a square-root scale so the few suspicious rows stay visible.",
        shapes,
    )


@_with_compact
def trend_chart(points: Sequence[TrendPoint], limit: float | None = None, *, compact: bool = False) -> Chart | None:
    """The estimated label-error rate of this dataset's runs, oldest to newest, this run ringed."""
    if not points:
        return None
    left, top, plot_w, plot_h = (
        (50.0, 16.0, COMPACT_WIDTH - 50.0 - 16.0, 130.0) if compact else (52.0, 16.0, 520.0, 150.0)
    )
    values = [p.estimated_error_rate for p in points]
    scale_max = _scale(max([*values, limit or 0.0, 0.01]) * 1.1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)
        return x, top + plot_h - plot_h * v / scale_max

    shapes: list[Shape] = []
    for tick in _ticks(scale_max):
        _, y = xy(0, tick)
        shapes.append(Line(left, y, left + plot_w, y, GRID))
        shapes.append(Text(left - 6, y + 4, _tick_pct(tick, scale_max), "end", MUTED, MIN_FONT))
    if limit is not None:
        _, y = xy(0, limit)
        shapes.append(Line(left, y, left + plot_w, y, BAD, 1.5, "4 3"))
        shapes.append(Text(left + plot_w, y - 4, f"limit {_pct(limit)}", "end", BAD, MIN_FONT))
    if len(points) > 1:
        shapes.append(Polyline(" ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values))), BAR))
    for i, p in enumerate(points):
        x, y = xy(i, p.estimated_error_rate)
        colour = BAD if p.verdict == "rejected" else (OK if p.verdict == "accepted" else NEUTRAL)
        tip = (
            f"{p.started_at:%Y-%m-%d %H:%M} UTC, run {p.run_id}: {_pct(p.estimated_error_rate, 2)} "
            f"({p.verdict or 'no verdict'})"
        )
        shapes.append(Circle(x, y, 7 if p.current else 4, colour, tip, INK if p.current else None))
    first, last = points[0], points[-1]
    if len(points) == 1:
        shapes.append(
            Text(left + plot_w / 2, top + plot_h + 16, f"{first.started_at:%Y-%m-%d}", "middle", MUTED, MIN_FONT)
        )
    else:
        shapes.append(Text(left, top + plot_h + 16, f"{first.started_at:%Y-%m-%d}", "start", MUTED, MIN_FONT))
        shapes.append(Text(left + plot_w, top + plot_h + 16, f"{last.started_at:%Y-%m-%d}", "end", MUTED, MIN_FONT))
    return Chart(
        left + plot_w + 16,
        top + plot_h + 26,
        "Estimated label-error rate over this dataset's runs",
        f"{len(points)} run(s), oldest on the left; green accepted, red rejected; this run is ringed.",
        shapes,
    )


def sparkline(points: Sequence[TrendPoint], *, width: float = 120, height: float = 28) -> Chart | None:
    """A tiny trend of the error rate for the index page (last run as a dot)."""
    if not points:
        return None
    values = [p.estimated_error_rate for p in points]
    top = max(values) or 1.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = 3 + ((width - 6) * i / (len(values) - 1) if len(values) > 1 else (width - 6) / 2)
        return x, height - 3 - (height - 6) * v / top

    shapes: list[Shape] = []
    if len(values) > 1:
        shapes.append(
            Polyline(" ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values))), BAR, 1.5)
        )
    x, y = xy(len(values) - 1, values[-1])
    last = points[-1]
    shapes.append(Circle(x, y, 2.5, BAD if last.verdict == "rejected" else OK if last.verdict == "accepted" else BAR))
    desc = ", ".join(_pct(v) for v in values[-12:])
    return Chart(
        width, height, "Error-rate trend", f"Estimated label-error rate of the last runs: {desc}", shapes, "sparkline"
    )
