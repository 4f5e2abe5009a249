"""Small line charts as plain SVG coordinates: no script, nothing the CSP has to allow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    points: list[tuple[float, float]]  # (x, y) in SVG units, y grows downwards
    baseline_y: float  # where the lowest possible score sits

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


def sparkline(
    values: Sequence[float],
    lowest: float,
    highest: float,
    width: int = 160,
    height: int = 48,
    pad: int = 6,
) -> Sparkline:
    """Place each value on a fixed scale (the measure's whole range), evenly spaced left to right.

    A fixed range, not the data's own, so a small change looks small."""
    if highest <= lowest:
        raise ValueError("highest must be above lowest")
    span = highest - lowest
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / (len(values) - 1) if len(values) > 1 else 0
    points = []
    for i, value in enumerate(values):
        clamped = min(max(value, lowest), highest)
        x = pad + (i * step if len(values) > 1 else inner_w / 2)
        y = pad + inner_h * (1 - (clamped - lowest) / span)
        points.append((x, y))
    return Sparkline(width, height, points, pad + inner_h)
