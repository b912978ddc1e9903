"""The drawing vocabulary of the report's charts: colours, shape records (one template macro draws each as inline
SVG), text width estimates, anchors and round axis scales. :mod:`labelaudit.report.charts` composes them into
pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    "anchor",
    "nice_ceiling",
    "scale",
    "text_width",
    "tick_pct",
    "ticks",
]

INK = "#1f2933"
MUTED = "#52606d"
GRID = "#d9dee3"
OK = "#2f7d32"
BAD = "#b3261e"
BAR = "#3b6ea5"
NEUTRAL = "#9aa5b1"

#: Beyond this many classes the heatmap draws only the classes with the most estimated errors.
MAX_HEATMAP_CLASSES = 30
#: The same on a phone, where a cell must stay big enough to touch and read.
MAX_COMPACT_HEATMAP_CLASSES = 10
#: Widest compact drawing: a 390 px phone leaves 336 px inside a figure (report.css), so it is never shrunk.
COMPACT_WIDTH = 336.0
#: Smallest text of every drawing, in SVG units (CSS px when not scaled).
MIN_FONT = 11.0


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str | None = None
    stroke: str | None = None
    kind: str = "rect"


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"  # start | middle | end
    fill: str = INK
    size: float = 12
    weight: str = "normal"
    title: str | None = None
    rotate: float | None = None
    kind: str = "text"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = GRID
    width: float = 1
    dash: str | None = None
    kind: str = "line"


@dataclass(frozen=True)
class Polyline:
    points: str
    stroke: str = BAR
    width: float = 2
    kind: str = "polyline"


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str
    title: str | None = None
    stroke: str | None = None
    kind: str = "circle"


Shape = Rect | Text | Line | Polyline | Circle


@dataclass(frozen=True)
class Chart:
    """An SVG picture: ``title`` and ``desc`` are its accessible name and description."""

    width: float
    height: float
    title: str
    desc: str
    shapes: list[Shape] = field(default_factory=list)
    css_class: str = "chart"
    compact: Chart | None = None  # the same picture drawn for a phone's width (shown below 600 px)


def text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s drawn width (system sans-serif fonts average ~0.55 em per character)."""
    return 0.6 * size * len(text)


def anchor(x: float, text: str, size: float, lo: float, hi: float, prefer: str = "middle") -> str:
    """``prefer`` unless the text would leave ``[lo, hi]`` at ``x``; then the anchor that keeps it inside."""
    width = text_width(text, size)
    spans = {"start": (x, x + width), "middle": (x - width / 2, x + width / 2), "end": (x - width, x)}
    for anchor in (prefer, "middle", "start", "end"):
        a, b = spans[anchor]
        if a >= lo and b <= hi:
            return anchor
    return "start" if x - lo < hi - x else "end"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is >= value."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exp
        if candidate >= value - 1e-12:
            return candidate
    return 10 ** (exp + 1)


def scale(value: float, count: int = 4) -> float:
    """The axis maximum: ``count`` round steps covering ``value``."""
    return nice_ceiling(value / count) * count


def tick_pct(value: float, scale_max: float, count: int = 4) -> str:
    """A tick label with as many decimals as the step needs (5%, 2.5%, 0.25%)."""
    step = scale_max / count * 100
    digits = next((d for d in range(4) if abs(step * 10**d - round(step * 10**d)) < 1e-6), 3)
    return f"{value * 100:.{digits}f}%"


def ticks(scale_max: float, count: int = 4) -> list[float]:
    return [scale_max * i / count for i in range(count + 1)]
