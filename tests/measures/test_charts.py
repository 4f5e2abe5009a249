"""Sparklines: values placed on the measure's whole range, inside the drawing's padding."""

from __future__ import annotations

import pytest

from portal.measures.charts import Sparkline, sparkline


def test_lowest_sits_on_the_bottom_and_highest_on_the_top():
    line = sparkline([0, 10], lowest=0, highest=10)
    assert line.points == [(6.0, 42.0), (154.0, 6.0)]
    assert line.baseline_y == 42.0
    assert (line.width, line.height) == (160, 48)


def test_the_range_is_fixed_not_the_datas_own():
    # A change from 7 to 8 on a 0-10 scale is a small step, not the full height.
    line = sparkline([7, 8], lowest=0, highest=10)
    (_, y7), (_, y8) = line.points
    assert y7 == pytest.approx(6 + 36 * 0.3)
    assert y8 == pytest.approx(6 + 36 * 0.2)


def test_points_are_evenly_spaced_left_to_right():
    line = sparkline([3, 5, 9, 4, 6], lowest=3, highest=9, width=100, height=40, pad=5)
    xs = [x for x, _ in line.points]
    assert xs == [5.0, 27.5, 50.0, 72.5, 95.0]
    assert line.points[0][1] == 35.0  # the lowest possible score: bottom of the box
    assert line.points[2][1] == 5.0  # the highest: top of the box
    assert line.baseline_y == 35.0


def test_every_point_stays_inside_the_box():
    line = sparkline([-5, 0, 3.5, 7, 12], lowest=0, highest=7, width=120, height=30, pad=4)
    for x, y in line.points:
        assert 4 <= x <= 116
        assert 4 <= y <= 26
    # Out-of-range values are held at the edge.
    assert line.points[0][1] == line.points[1][1] == 26.0
    assert line.points[-1][1] == line.points[-2][1] == 4.0


def test_a_single_value_is_centred_across():
    line = sparkline([19.25], lowest=7, highest=35)
    ((x, y),) = line.points
    assert x == 80.0
    assert y == pytest.approx(6 + 36 * (1 - (19.25 - 7) / 28))


def test_no_values_no_points():
    line = sparkline([], lowest=0, highest=10)
    assert line.points == []
    assert line.polyline == ""


def test_polyline_is_svg_coordinates_to_one_decimal():
    assert sparkline([1, 2, 3], lowest=1, highest=3).polyline == "6.0,42.0 80.0,24.0 154.0,6.0"
    assert Sparkline(10, 10, [(1.26, 2.04)], 9.0).polyline == "1.3,2.0"


@pytest.mark.parametrize(("lowest", "highest"), [(5, 5), (10, 0), (0.5, 0.4)])
def test_a_range_that_is_not_a_range_is_refused(lowest, highest):
    with pytest.raises(ValueError, match="highest must be above lowest"):
        sparkline([1, 2], lowest=lowest, highest=highest)
