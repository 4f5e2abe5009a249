"""Dates as people read them: the day in London, whatever the instant's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.templating import LONDON, format_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 5, 3), "3 May 2026"),
        # 23:30 UTC in British Summer Time is already the next day in London.
        (datetime(2026, 5, 3, 23, 30, tzinfo=UTC), "4 May 2026"),
        # In winter London is on UTC: the same time stays on the same day.
        (datetime(2026, 1, 3, 23, 30, tzinfo=UTC), "3 January 2026"),
        (datetime(2026, 5, 4, 0, 30, tzinfo=timezone(timedelta(hours=2))), "3 May 2026"),
        (None, ""),
    ],
)
def test_a_date_is_written_as_its_day_in_london(value, expected):
    assert format_date(value) == expected


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2100, 12, 30)))
def test_formatting_a_day_twice_gives_the_same_text_as_writing_it_out(naive):
    """The text of each day is kept once worked out; it must be what the day reads as."""
    instant = naive.replace(tzinfo=UTC)
    day = instant.astimezone(LONDON).date()
    written = f"{day.day} {day.strftime('%B')} {day.year}"
    assert format_date(instant) == written
    assert format_date(instant) == written
    assert format_date(day) == written
