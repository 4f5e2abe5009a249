"""Working days in England and Wales, as the triage queue counts a referral's age."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.referrals.working_days import is_working_day, working_days_between


def _one_by_one(start: date, end: date) -> int:
    """The plain definition: every day after start up to end that is a working day."""
    return sum(is_working_day(start + timedelta(days=n)) for n in range(1, (end - start).days + 1))


def test_same_day_and_backwards_are_zero():
    day = date(2026, 11, 18)
    assert working_days_between(day, day) == 0
    assert working_days_between(day, day - timedelta(days=3)) == 0


def test_a_weekend_does_not_count():
    friday, monday = date(2026, 11, 20), date(2026, 11, 23)
    assert working_days_between(friday, monday) == 1


def test_christmas_2026_bank_holidays_do_not_count():
    # 25 December is a Friday; Boxing Day falls on Saturday, so Monday 28th is the holiday.
    assert not is_working_day(date(2026, 12, 25))
    assert not is_working_day(date(2026, 12, 28))
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 29)) == 1


def test_easter_2027_counts_neither_good_friday_nor_easter_monday():
    assert working_days_between(date(2027, 3, 25), date(2027, 3, 30)) == 1


@settings(max_examples=200, deadline=None, database=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    length=st.integers(min_value=0, max_value=1200),
)
def test_counting_by_weeks_agrees_with_counting_day_by_day(start, length):
    end = start + timedelta(days=length)
    assert working_days_between(start, end) == _one_by_one(start, end)
