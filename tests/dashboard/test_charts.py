"""The dashboard's SVG geometry: known answers worked by hand, and a few properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.dashboard.charts import MAX_AXIS_LABELS, bar_chart, line_chart, nice_top

# Default geometry: bar charts 640 wide with 220 for labels and 60 spare, so the plot is
# 640 - 220 - 60 = 360 wide. Line charts 640 x 240: left 48, right 16, top 16, bottom 40,
# so the plot is 576 wide and 184 high, its bottom at y = 16 + 184 = 200.
BAR_PLOT_W = 360
BAR_LEFT = 220
LINE_LEFT, LINE_PLOT_W, LINE_TOP, LINE_BOTTOM = 48, 576, 16, 200


# --- nice_top ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("highest", "top"),
    [
        (0, 1.0),  # nothing to show: an axis from 0 to 1
        (-3, 1.0),
        (1, 1),
        (7, 10),
        (10, 10),
        (12, 20),
        (20, 20),
        (21, 25),
        (25, 25),
        (26, 50),
        (50, 50),
        (51, 100),
        (100, 100),
        (101, 200),
        (240, 250),
        (999, 1000),
        (0.3, 0.5),  # magnitude 0.1: 0.1, 0.2, 0.25 too small, 0.5 fits
        (2.5, 2.5),
    ],
)
def test_nice_top(highest, top):
    assert nice_top(highest) == pytest.approx(top)


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_nice_top_is_at_or_above_and_at_most_double(highest):
    top = nice_top(highest)
    assert top >= highest
    # Steps 1, 2, 2.5, 5, 10 never more than double: the worst is just over 2.5 -> 5.
    assert top <= 2 * highest * (1 + 1e-12)


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_nice_top_is_a_round_number(highest):
    top = nice_top(highest)
    magnitude = 10 ** math.floor(math.log10(top))
    assert any(math.isclose(top, step * magnitude) for step in (1, 2, 2.5, 5, 10))


# --- bar_chart ---------------------------------------------------------------------------


def test_bar_chart_known_geometry():
    rows = [("A", 40), ("B", 3), ("C", None), ("D", 0), ("E", 20)]
    chart = bar_chart(rows, suppress_small=True)
    # Highest drawn value 40 -> axis to 50. A: 360 * 40 / 50 = 288; E: 360 * 20 / 50 = 144.
    # B (3) is suppressed: no bar, "<5". C has no data. D is a real 0.
    assert [(b.label, b.value, b.shown, b.width) for b in chart.bars] == [
        ("A", 40, "40", 288.0),
        ("B", None, "<5", 0.0),
        ("C", None, "no data", 0.0),
        ("D", 0, "0", 0.0),
        ("E", 20, "20", 144.0),
    ]
    # Each bar 28 high with 8 between: y = 8 + i * 36; all start after the labels.
    assert [b.y for b in chart.bars] == [8, 44, 80, 116, 152]
    assert {b.x for b in chart.bars} == {BAR_LEFT}
    assert {b.height for b in chart.bars} == {28}
    # Height 8 + 5 * 36 + 24 = 212; the axis 20 above the bottom.
    assert (chart.width, chart.height, chart.axis_y) == (640, 212, 192)
    # Ticks at 0, a quarter, half, three quarters and all of 50.
    assert chart.ticks == [
        (220.0, "0"),
        (310.0, "12.5"),
        (400.0, "25"),
        (490.0, "37.5"),
        (580.0, "50"),
    ]


def test_bar_chart_without_suppression_draws_small_counts():
    chart = bar_chart([("A", 40), ("B", 3)])
    # B: 360 * 3 / 50 = 21.6, shown as "3".
    assert [(b.shown, b.width) for b in chart.bars] == [("40", 288.0), ("3", pytest.approx(21.6))]


def test_bar_chart_suppressed_counts_do_not_set_the_scale():
    # Only 4 and 2, both hidden: nothing drawn, and the axis is 0 to 1, not 0 to 5,
    # so the scale gives nothing away.
    chart = bar_chart([("A", 4), ("B", 2)], suppress_small=True)
    assert [(b.shown, b.width) for b in chart.bars] == [("<5", 0.0), ("<5", 0.0)]
    assert chart.ticks[-1] == (580.0, "1")


def test_bar_chart_lengths_proportional():
    chart = bar_chart([("A", 5), ("B", 10), ("C", 15), ("D", 20)], suppress_small=True)
    # Axis to 20: 90, 180, 270, 360.
    assert [b.width for b in chart.bars] == [90.0, 180.0, 270.0, 360.0]
    # Twice the value, twice the bar.
    assert chart.bars[1].width == 2 * chart.bars[0].width


def test_bar_chart_fractional_values_and_other_widths():
    # Hours are not people: 2.5 is drawn. Width 400, labels 100: plot 400 - 100 - 60 = 240.
    chart = bar_chart([("A", 2.5), ("B", 0.5)], width=400, label_width=100)
    # Axis to 2.5: A fills it, B is a fifth: 48.
    assert [(b.shown, b.width) for b in chart.bars] == [("2.5", 240.0), ("0.5", 48.0)]


def test_bar_chart_empty():
    chart = bar_chart([])
    assert chart.bars == []
    assert chart.height == 8 + 24


# Counts, hours to one decimal place, and missing values: what the tables hold.
values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**7).map(lambda tenths: tenths / 10),
)


@given(st.lists(values, max_size=30), st.booleans())
def test_bar_widths_within_plot_and_monotone(raw, suppress_small):
    rows = [(f"row {i}", v) for i, v in enumerate(raw)]
    chart = bar_chart(rows, suppress_small=suppress_small)
    assert len(chart.bars) == len(rows)
    for bar in chart.bars:
        assert 0 <= bar.width <= BAR_PLOT_W + 1e-9
    # A bigger value never has a shorter bar (missing values have none at all).
    drawn = [(v, b.width) for (_, v), b in zip(rows, chart.bars, strict=True) if v is not None]
    for v1, w1 in drawn:
        for v2, w2 in drawn:
            if v1 <= v2:
                assert w1 <= w2 + 1e-9
    # The longest bar reaches at least half the plot (the axis at most doubles the value).
    widths = [b.width for b in chart.bars]
    if any(w > 0 for w in widths):
        assert max(widths) >= BAR_PLOT_W / 2 - 1e-9


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=30))
def test_bar_suppression_matches_the_tables(raw):
    chart = bar_chart([(str(i), v) for i, v in enumerate(raw)], suppress_small=True)
    for v, bar in zip(raw, chart.bars, strict=True):
        if 0 < v < 5:
            assert (bar.shown, bar.width, bar.value) == ("<5", 0.0, None)
        else:
            assert bar.shown == str(v)


# --- line_chart --------------------------------------------------------------------------


def test_line_chart_known_geometry():
    rows = [("Jan", 0), ("Feb", 10), ("Mar", 20), ("Apr", None), ("May", 3)]
    chart = line_chart(rows, suppress_small=True)
    # Axis to 20. x steps 576 / 4 = 144 from 48. y: 0 at the bottom (200), 10 halfway
    # (16 + 184 / 2 = 108), 20 at the top (16); no data and "<5" sit on the axis.
    assert chart.points == [
        (48.0, 200.0, "Jan", "0", "Jan"),
        (192.0, 108.0, "Feb", "10", "Feb"),
        (336.0, 16.0, "Mar", "20", "Mar"),
        (480.0, 200.0, "Apr", "no data", "Apr"),
        (624.0, 200.0, "May", "<5", "May"),
    ]
    assert (chart.left, chart.bottom) == (LINE_LEFT, LINE_BOTTOM)
    assert chart.ticks == [(200.0, "0"), (108.0, "10"), (16.0, "20")]
    assert chart.polyline == "48.0,200.0 192.0,108.0 336.0,16.0 480.0,200.0 624.0,200.0"


def test_line_chart_single_point_is_centred():
    chart = line_chart([("Jul 2026", 14)])
    # x = 48 + 576 / 2 = 336; 14 on an axis to 20: 16 + 184 * (1 - 0.7) = 71.2.
    ((x, y, label, shown, axis),) = chart.points
    assert (x, label, shown, axis) == (336.0, "Jul 2026", "14", "Jul 2026")
    assert y == pytest.approx(71.2)


def test_line_chart_empty():
    chart = line_chart([])
    assert chart.points == []
    assert chart.polyline == ""


@pytest.mark.parametrize(
    ("months", "every", "labelled"),
    [
        (1, 1, 1),
        (8, 1, 8),  # up to 8: every month labelled
        (9, 2, 5),  # ceil(9 / 8) = 2: months 0, 2, 4, 6, 8
        (13, 2, 7),  # a year and a month: 0, 2, ..., 12
        (20, 3, 7),  # ceil(20 / 8) = 3: 0, 3, ..., 18
        (60, 8, 8),  # five years: ceil(60 / 8) = 8: 0, 8, ..., 56
    ],
)
def test_line_chart_axis_labels_thinned(months, every, labelled):
    rows = [(f"m{i}", i) for i in range(months)]
    chart = line_chart(rows)
    axis = [p[4] for p in chart.points]
    assert axis == [f"m{i}" if i % every == 0 else "" for i in range(months)]
    assert sum(1 for a in axis if a) == labelled <= MAX_AXIS_LABELS
    assert axis[0] == "m0"
    # Thinning only hides axis labels: every point keeps its own label and figure.
    assert [p[2] for p in chart.points] == [f"m{i}" for i in range(months)]


@given(st.lists(values, min_size=1, max_size=80), st.booleans())
def test_line_chart_properties(raw, suppress_small):
    rows = [(f"label {i}", v) for i, v in enumerate(raw)]
    chart = line_chart(rows, suppress_small=suppress_small)
    axis = [p[4] for p in chart.points]
    assert 1 <= sum(1 for a in axis if a) <= MAX_AXIS_LABELS
    assert axis[0] == "label 0"
    for (x, y, _, shown, _), (_, v) in zip(chart.points, rows, strict=True):
        assert LINE_LEFT - 1e-9 <= x <= LINE_LEFT + LINE_PLOT_W + 1e-9
        assert LINE_TOP - 1e-9 <= y <= LINE_BOTTOM + 1e-9
        if v is None:
            assert (shown, y) == ("no data", LINE_BOTTOM)
        elif v == 0:
            assert y == LINE_BOTTOM
    xs = [p[0] for p in chart.points]
    assert xs == sorted(xs)
