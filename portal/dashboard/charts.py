"""Bar and line charts as plain SVG geometry, drawn server-side: no script, nothing the CSP
has to allow, and every chart has a table beside it with the same numbers.

Suppressed counts ("<5") are drawn as bars of no height with the label "<5", so a chart
never shows a number the table hides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from portal.dashboard.kpis import SMALL_NUMBER


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: suppressed or no data
    shown: str  # the figure as the table shows it
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) for the value axis
    axis_y: float


def nice_top(highest: float) -> float:
    """A round number at or above the highest value, so the axis reads 0, 25, 50..."""
    if highest <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(highest))
    for step in (1, 2, 2.5, 5, 10):
        if highest <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    rows: Sequence[tuple[str, float | None]],
    *,
    suppress_small: bool = False,
    width: int = 640,
    bar_height: int = 28,
    label_width: int = 220,
) -> BarChart:
    """Horizontal bars, one per row, on a scale from 0 to a round number.

    Horizontal so that long labels (practice names, reasons) stay readable on a phone.
    With `suppress_small`, counts from 1 to 4 are not drawn and read "<5"."""
    gap = 8
    plot_w = width - label_width - 60
    values = []
    for _, value in rows:
        hidden = value is None or (suppress_small and 0 < value < SMALL_NUMBER)
        values.append(None if hidden else value)
    top = nice_top(max((v for v in values if v is not None), default=0))
    bars = []
    for i, ((label, raw), value) in enumerate(zip(rows, values, strict=True)):
        if raw is None:
            shown = "no data"
        elif value is None:
            shown = f"<{SMALL_NUMBER}"
        else:
            shown = f"{value:g}"
        length = 0.0 if value is None else plot_w * value / top
        y = gap + i * (bar_height + gap)
        bars.append(Bar(label, value, shown, label_width, y, length, bar_height))
    height = gap + len(rows) * (bar_height + gap) + 24
    axis_y = height - 20
    ticks = [(label_width + plot_w * f, f"{top * f:g}") for f in (0, 0.25, 0.5, 0.75, 1)]
    return BarChart(width, height, bars, ticks, axis_y)


MAX_AXIS_LABELS = 8


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: list[tuple[float, float, str, str, str]]  # x, y, label, shown, axis label
    ticks: list[tuple[float, str]]
    left: float
    bottom: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, *_ in self.points)


def line_chart(
    rows: Sequence[tuple[str, float | None]],
    *,
    suppress_small: bool = False,
    width: int = 640,
    height: int = 240,
) -> LineChart:
    """A line through the values in order (months), from 0 to a round number.

    Suppressed or missing points sit on the axis and read "<5" or "no data"."""
    left, right, top_pad, bottom_pad = 48, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom_pad
    values = [
        None if v is None or (suppress_small and 0 < v < SMALL_NUMBER) else v for _, v in rows
    ]
    top = nice_top(max((v for v in values if v is not None), default=0))
    step = plot_w / (len(rows) - 1) if len(rows) > 1 else 0
    points = []
    for i, ((label, raw), value) in enumerate(zip(rows, values, strict=True)):
        x = left + (i * step if len(rows) > 1 else plot_w / 2)
        y = top_pad + plot_h * (1 - (value or 0) / top)
        shown = (
            "no data" if raw is None else (f"<{SMALL_NUMBER}" if value is None else f"{value:g}")
        )
        points.append((x, y, label, shown))
    ticks = [(top_pad + plot_h * (1 - f), f"{top * f:g}") for f in (0, 0.5, 1)]
    # At most about eight labels along the bottom, so they never run into each other.
    every = math.ceil(len(points) / MAX_AXIS_LABELS) if points else 1
    points = [
        (x, y, label, shown, label if i % every == 0 else "")
        for i, (x, y, label, shown) in enumerate(points)
    ]
    return LineChart(width, height, points, ticks, left, top_pad + plot_h)
