"""Report periods: the last whole day, week or month in London, and when each one ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.referrals.models import ReportFrequency
from portal.reports.periods import (
    Period,
    current,
    last_complete,
    london_date,
    london_midnight,
    next_run_day,
)

F = ReportFrequency
DAY = timedelta(days=1)

days = st.dates(min_value=date(1990, 1, 2), max_value=date(2100, 12, 31))
frequencies = st.sampled_from(list(ReportFrequency))


def month_after(day: date) -> date:
    """The first of the month after `day`'s month."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# --- last_complete -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 7, 6), date(2026, 7, 5)),
        (date(2026, 1, 1), date(2025, 12, 31)),
        (date(2024, 3, 1), date(2024, 2, 29)),
        (date(2026, 3, 30), date(2026, 3, 29)),  # the day after the clocks go forward
    ],
)
def test_daily_is_yesterday(today, expected):
    assert last_complete(F.DAILY, today) == Period(expected, expected)


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        # Monday: the week that ended yesterday.
        (date(2026, 7, 6), date(2026, 6, 29), date(2026, 7, 5)),
        # Tuesday to Sunday: still that same week.
        (date(2026, 7, 7), date(2026, 6, 29), date(2026, 7, 5)),
        (date(2026, 7, 9), date(2026, 6, 29), date(2026, 7, 5)),
        (date(2026, 7, 12), date(2026, 6, 29), date(2026, 7, 5)),
        # The next Monday moves on a week.
        (date(2026, 7, 13), date(2026, 7, 6), date(2026, 7, 12)),
        # A week across the new year.
        (date(2026, 1, 5), date(2025, 12, 29), date(2026, 1, 4)),
        (date(2026, 1, 1), date(2025, 12, 22), date(2025, 12, 28)),
    ],
)
def test_weekly_is_the_monday_to_sunday_week_ending_on_the_last_sunday(today, start, end):
    period = last_complete(F.WEEKLY, today)
    assert period == Period(start, end)
    assert period.start.weekday() == 0
    assert period.end.weekday() == 6


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (date(2026, 7, 1), date(2026, 6, 1), date(2026, 6, 30)),
        (date(2026, 7, 31), date(2026, 6, 1), date(2026, 6, 30)),
        (date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 15), date(2025, 12, 1), date(2025, 12, 31)),
        (date(2024, 3, 10), date(2024, 2, 1), date(2024, 2, 29)),
        (date(2026, 3, 10), date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_monthly_is_the_previous_calendar_month(today, start, end):
    assert last_complete(F.MONTHLY, today) == Period(start, end)


# --- cutoff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "cutoff"),
    [
        # Summer time (BST, UTC+1): London midnight is 23:00 UTC the day before.
        (date(2026, 7, 5), datetime(2026, 7, 5, 23, 0, tzinfo=UTC)),
        # Winter (GMT): London midnight is UTC midnight.
        (date(2026, 11, 22), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        # The last day of GMT before the clocks go forward (01:00 UTC on 29 March 2026).
        (date(2026, 3, 28), datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
        # The clocks went forward during the last day: the next midnight is in BST.
        (date(2026, 3, 29), datetime(2026, 3, 29, 23, 0, tzinfo=UTC)),
        # The last day of BST before the clocks go back (01:00 UTC on 25 October 2026).
        (date(2026, 10, 24), datetime(2026, 10, 24, 23, 0, tzinfo=UTC)),
        (date(2026, 10, 25), datetime(2026, 10, 26, 0, 0, tzinfo=UTC)),
    ],
)
def test_cutoff_is_london_midnight_after_the_last_day_in_utc(end, cutoff):
    period = Period(end - timedelta(days=6), end)
    assert period.cutoff == cutoff
    assert period.cutoff.utcoffset() == timedelta(0)
    assert period.cutoff.tzinfo is not None


def test_a_whole_week_in_summer_ends_at_23_00_utc_on_sunday():
    period = last_complete(F.WEEKLY, date(2026, 7, 8))
    assert period.cutoff == datetime(2026, 7, 5, 23, 0, tzinfo=UTC)


def test_london_date_reads_the_utc_instant_in_london():
    assert london_date(datetime(2026, 7, 5, 23, 30, tzinfo=UTC)) == date(2026, 7, 6)
    assert london_date(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == date(2026, 11, 22)
    assert london_midnight(date(2026, 7, 6)) == datetime(2026, 7, 5, 23, 0, tzinfo=UTC)


# --- labels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2026, 7, 5), date(2026, 7, 5), "5 July 2026"),
        (date(2026, 6, 1), date(2026, 6, 30), "June 2026"),
        (date(2024, 2, 1), date(2024, 2, 29), "February 2024"),
        (date(2025, 12, 1), date(2025, 12, 31), "December 2025"),
        (date(2026, 6, 29), date(2026, 7, 5), "29 June to 5 July 2026"),
        (date(2026, 7, 6), date(2026, 7, 12), "6 July to 12 July 2026"),
        (date(2025, 12, 29), date(2026, 1, 4), "29 December 2025 to 4 January 2026"),
        # Two whole months are not "a month".
        (date(2026, 1, 1), date(2026, 2, 28), "1 January to 28 February 2026"),
        # Part of a month.
        (date(2026, 6, 1), date(2026, 6, 29), "1 June to 29 June 2026"),
    ],
)
def test_labels(start, end, label):
    assert Period(start, end).label == label


# --- next_run_day and current --------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "today", "expected"),
    [
        (F.DAILY, date(2026, 7, 8), date(2026, 7, 8)),
        (F.WEEKLY, date(2026, 7, 6), date(2026, 7, 6)),  # a Monday
        (F.WEEKLY, date(2026, 7, 7), date(2026, 7, 13)),
        (F.WEEKLY, date(2026, 7, 12), date(2026, 7, 13)),  # a Sunday
        (F.WEEKLY, date(2025, 12, 30), date(2026, 1, 5)),
        (F.MONTHLY, date(2026, 7, 1), date(2026, 7, 1)),
        (F.MONTHLY, date(2026, 7, 2), date(2026, 8, 1)),
        (F.MONTHLY, date(2026, 1, 31), date(2026, 2, 1)),
        (F.MONTHLY, date(2024, 2, 29), date(2024, 3, 1)),
        (F.MONTHLY, date(2025, 12, 15), date(2026, 1, 1)),
        (F.MONTHLY, date(2025, 12, 31), date(2026, 1, 1)),
    ],
)
def test_next_run_day(frequency, today, expected):
    assert next_run_day(frequency, today) == expected


@pytest.mark.parametrize(
    ("frequency", "today", "start"),
    [
        (F.DAILY, date(2026, 7, 8), date(2026, 7, 8)),
        (F.WEEKLY, date(2026, 7, 6), date(2026, 7, 6)),  # Monday: a new week today
        (F.WEEKLY, date(2026, 7, 8), date(2026, 7, 6)),
        (F.WEEKLY, date(2026, 7, 12), date(2026, 7, 6)),  # Sunday: the week's last day
        (F.MONTHLY, date(2026, 7, 1), date(2026, 7, 1)),
        (F.MONTHLY, date(2026, 7, 31), date(2026, 7, 1)),
        (F.MONTHLY, date(2026, 12, 31), date(2026, 12, 1)),
    ],
)
def test_current_is_the_period_still_running(frequency, today, start):
    assert current(frequency, today) == Period(start, today)


# --- properties ----------------------------------------------------------------------------


@given(frequencies, days)
def test_last_complete_has_ended_before_today(frequency, today):
    period = last_complete(frequency, today)
    assert period.start <= period.end < today
    # Its cutoff is no later than the start of today in London.
    assert period.cutoff <= london_midnight(today)
    assert london_date(period.cutoff) == period.end + DAY
    assert london_date(period.cutoff - timedelta(microseconds=1)) == period.end


@given(days)
def test_a_daily_period_is_yesterday(today):
    assert last_complete(F.DAILY, today) == Period(today - DAY, today - DAY)


@given(days)
def test_weekly_periods_are_monday_to_sunday_and_the_most_recent(today):
    period = last_complete(F.WEEKLY, today)
    assert period.start.weekday() == 0
    assert period.end.weekday() == 6
    assert period.end - period.start == timedelta(days=6)
    # The most recent such week: the next one has not finished yet.
    assert period.end + timedelta(days=7) >= today


@given(days)
def test_monthly_periods_cover_exactly_one_whole_month(today):
    period = last_complete(F.MONTHLY, today)
    assert period.start.day == 1
    assert period.end + DAY == month_after(period.start)
    assert (period.start.year, period.start.month) == (period.end.year, period.end.month)
    # The month before today's month.
    assert month_after(period.end) == today.replace(day=1)


@given(frequencies, days, st.integers(min_value=1, max_value=100))
def test_consecutive_days_never_skip_a_day(frequency, first, run):
    """Over any run of days, each period is the last again or starts the day after it."""
    periods = [last_complete(frequency, first + timedelta(days=i)) for i in range(run + 1)]
    for before, after in pairwise(periods):
        assert after == before or after.start == before.end + DAY
    # So the union of the periods is one unbroken stretch of days.
    covered = set()
    for period in periods:
        covered.update(
            period.start + timedelta(days=i) for i in range((period.end - period.start).days + 1)
        )
    low, high = min(covered), max(covered)
    assert len(covered) == (high - low).days + 1


@given(frequencies, days)
def test_next_run_day_is_the_first_day_a_new_period_is_complete(frequency, today):
    run_day = next_run_day(frequency, today)
    assert run_day >= today
    assert last_complete(frequency, run_day) != last_complete(frequency, run_day - DAY)
    day = today
    while day < run_day:
        assert last_complete(frequency, day) == last_complete(frequency, day - DAY)
        day += DAY


@given(frequencies, days)
def test_current_follows_the_last_complete_period(frequency, today):
    running = current(frequency, today)
    assert running.end == today
    assert running.start == last_complete(frequency, today).end + DAY
    # The next report to be made covers the running period.
    upcoming = last_complete(frequency, next_run_day(frequency, today + DAY))
    assert upcoming.start == running.start
    assert upcoming.end >= today
