"""When an activity meets: the next session, the schedule in words, and the time of day.

January 2025 starts on a Wednesday; 6 January 2025 is a Monday.
"""

from __future__ import annotations

import calendar
from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.directory.models import Frequency
from portal.directory.schedule import describe, next_session, nth_weekday, time_of_day

F = Frequency
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- weekly -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "today", "expected"),
    [
        ([MON], date(2025, 1, 1), date(2025, 1, 6)),  # Wednesday: the Monday after
        ([WED], date(2025, 1, 1), date(2025, 1, 1)),  # today itself counts
        ([TUE, FRI], date(2025, 1, 1), date(2025, 1, 3)),  # the nearer of two days
        ([TUE], date(2025, 1, 1), date(2025, 1, 7)),  # six days on
        ([SUN], date(2025, 12, 29), date(2026, 1, 4)),  # across the year end
        ([SAT], date(2024, 2, 26), date(2024, 3, 2)),  # across a leap February
    ],
)
def test_weekly_next_session(days, today, expected):
    assert next_session(F.WEEKLY, days, today) == expected


def test_weekly_waits_for_the_first_session():
    assert next_session(F.WEEKLY, [MON], date(2025, 1, 1), starts_on=date(2025, 2, 10)) == date(
        2025, 2, 10
    )
    # A first session that is already past changes nothing.
    assert next_session(F.WEEKLY, [MON], date(2025, 1, 1), starts_on=date(2024, 6, 5)) == date(
        2025, 1, 6
    )


def test_weekly_first_session_date_not_on_a_listed_day_gives_the_next_listed_day():
    # The first session is said to be on a Wednesday but the activity meets on Fridays.
    assert next_session(F.WEEKLY, [FRI], date(2025, 1, 1), starts_on=date(2025, 1, 15)) == date(
        2025, 1, 17
    )


# --- fortnightly ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 1, 1), date(2025, 1, 6)),  # before the first session: the first session
        (date(2025, 1, 6), date(2025, 1, 6)),  # the first session is today
        (date(2025, 1, 7), date(2025, 1, 20)),  # the 13th is an "off" week
        (date(2025, 1, 13), date(2025, 1, 20)),  # an off Monday itself is skipped
        (date(2025, 1, 19), date(2025, 1, 20)),
        (date(2025, 1, 20), date(2025, 1, 20)),  # an "on" week, two weeks after the anchor
        (date(2025, 1, 21), date(2025, 2, 3)),
        (date(2025, 6, 30), date(2025, 7, 7)),  # 25 weeks on is off; 26 weeks on is on
    ],
)
def test_fortnightly_counts_weeks_from_the_first_session(today, expected):
    result = next_session(F.FORTNIGHTLY, [MON], today, starts_on=date(2025, 1, 6))
    assert result == expected
    assert (result - date(2025, 1, 6)).days % 14 == 0


def test_fortnightly_odd_and_even_weeks_alternate_over_a_year():
    anchor = date(2025, 1, 6)
    sessions = set()
    day = anchor
    while day < date(2026, 1, 6):
        sessions.add(next_session(F.FORTNIGHTLY, [MON], day, starts_on=anchor))
        day += timedelta(days=1)
    assert sorted(sessions) == [anchor + timedelta(weeks=2 * n) for n in range(27)]


def test_fortnightly_two_days_a_week_both_in_the_on_week():
    # First session Thursday 9 January; it also meets on Mondays of the same weeks.
    anchor = date(2025, 1, 9)
    on = [
        next_session(F.FORTNIGHTLY, [MON, THU], day, starts_on=anchor)
        for day in (date(2025, 1, 1), date(2025, 1, 10), date(2025, 1, 21))
    ]
    # Monday 6 January is in the anchor week but before the first session.
    assert on == [date(2025, 1, 9), date(2025, 1, 20), date(2025, 1, 23)]


def test_fortnightly_across_the_year_end():
    anchor = date(2024, 12, 23)  # a Monday
    # The week of 30 December is an off week; 6 January 2025 is two weeks on.
    assert next_session(F.FORTNIGHTLY, [MON], date(2024, 12, 24), starts_on=anchor) == date(
        2025, 1, 6
    )
    assert next_session(F.FORTNIGHTLY, [FRI], date(2024, 12, 28), starts_on=anchor) == date(
        2025, 1, 10
    )


# --- monthly ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "week", "today", "expected"),
    [
        ([TUE], 1, date(2025, 1, 1), date(2025, 1, 7)),
        ([TUE], 2, date(2025, 1, 1), date(2025, 1, 14)),
        ([TUE], 3, date(2025, 1, 1), date(2025, 1, 21)),
        ([TUE], 4, date(2025, 1, 1), date(2025, 1, 28)),
        ([TUE], -1, date(2025, 1, 1), date(2025, 1, 28)),
        ([TUE], 1, date(2025, 1, 7), date(2025, 1, 7)),  # today is the day
        ([TUE], 1, date(2025, 1, 8), date(2025, 2, 4)),  # just missed: next month
        ([FRI], -1, date(2025, 1, 1), date(2025, 1, 31)),  # a month with five Fridays
        ([FRI], -1, date(2025, 2, 1), date(2025, 2, 28)),
        ([SAT], 1, date(2025, 1, 31), date(2025, 2, 1)),  # the next month starts on it
        ([MON], 1, date(2025, 12, 30), date(2026, 1, 5)),  # across the year end
        ([WED], -1, date(2025, 12, 27), date(2025, 12, 31)),
        ([WED], -1, date(2026, 1, 1), date(2026, 1, 28)),
        ([THU], 4, date(2025, 12, 26), date(2026, 1, 22)),
        ([MON, FRI], 1, date(2025, 1, 1), date(2025, 1, 3)),  # the earlier of two days
        ([MON, FRI], 1, date(2025, 1, 4), date(2025, 1, 6)),
        ([THU], 4, date(2024, 2, 1), date(2024, 2, 22)),  # leap February
        ([THU], -1, date(2024, 2, 23), date(2024, 2, 29)),
    ],
)
def test_monthly_next_session(days, week, today, expected):
    assert next_session(F.MONTHLY, days, today, monthly_week=week) == expected


def test_monthly_waits_for_the_first_session():
    result = next_session(
        F.MONTHLY, [TUE], date(2025, 1, 1), starts_on=date(2025, 3, 1), monthly_week=1
    )
    assert result == date(2025, 3, 4)


def test_monthly_without_a_week_has_no_date():
    assert next_session(F.MONTHLY, [TUE], date(2025, 1, 1)) is None


def test_nth_weekday():
    assert nth_weekday(2025, 1, WED, 1) == date(2025, 1, 1)
    assert nth_weekday(2025, 1, WED, -1) == date(2025, 1, 29)
    assert nth_weekday(2025, 2, MON, 4) == date(2025, 2, 24)
    assert nth_weekday(2025, 2, MON, 5) is None


# --- no fixed pattern -------------------------------------------------------------------------


@pytest.mark.parametrize("frequency", list(Frequency))
def test_no_days_has_no_date(frequency):
    assert next_session(frequency, [], date(2025, 1, 1), monthly_week=1) is None


def test_by_arrangement_has_no_date_even_with_days():
    assert (
        next_session(F.BY_ARRANGEMENT, [MON, TUE], date(2025, 1, 1), starts_on=date(2025, 1, 1))
        is None
    )


# --- properties -------------------------------------------------------------------------------

days_strategy = st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    frequency=st.sampled_from([F.WEEKLY, F.FORTNIGHTLY, F.MONTHLY]),
    days=days_strategy,
    today=dates,
    starts_on=st.one_of(st.none(), dates),
    week=st.sampled_from([1, 2, 3, 4, -1]),
)
def test_next_session_is_never_early_and_on_one_of_the_days(
    frequency, days, today, starts_on, week
):
    result = next_session(frequency, days, today, starts_on=starts_on, monthly_week=week)
    assert result is not None
    assert result >= today
    if starts_on is not None:
        assert result >= starts_on
    assert result.weekday() in days
    # Every pattern comes round within two months.
    start = max(today, starts_on) if starts_on else today
    assert (result - start).days < 62


@settings(max_examples=300, deadline=None)
@given(days=days_strategy, today=dates, starts_on=st.one_of(st.none(), dates))
def test_weekly_is_the_first_listed_day_within_a_week(days, today, starts_on):
    result = next_session(F.WEEKLY, days, today, starts_on=starts_on)
    start = max(today, starts_on) if starts_on else today
    assert 0 <= (result - start).days < 7
    between = [start + timedelta(days=n) for n in range((result - start).days)]
    assert not [day for day in between if day.weekday() in days]


@settings(max_examples=300, deadline=None)
@given(days=days_strategy, today=dates, starts_on=dates)
def test_fortnightly_is_an_even_number_of_weeks_from_the_anchor(days, today, starts_on):
    result = next_session(F.FORTNIGHTLY, days, today, starts_on=starts_on)
    assert result >= max(today, starts_on)
    assert result.weekday() in days
    weeks = (monday_of(result) - monday_of(starts_on)).days // 7
    assert weeks % 2 == 0
    assert (result - max(today, starts_on)).days < 14


@settings(max_examples=300, deadline=None)
@given(
    days=days_strategy,
    today=dates,
    week=st.sampled_from([1, 2, 3, 4, -1]),
)
def test_monthly_is_the_asked_week_of_its_month(days, today, week):
    result = next_session(F.MONTHLY, days, today, monthly_week=week)
    assert result >= today
    if week == -1:
        assert (result + timedelta(days=7)).month != result.month
    else:
        assert (result.day - 1) // 7 == week - 1
    # No earlier day from today on is a session.
    earlier = [
        day
        for n in range((result - today).days)
        if (day := today + timedelta(days=n)).weekday() in days
        and day == nth_weekday(day.year, day.month, day.weekday(), week)
    ]
    assert earlier == []


# --- in words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((F.WEEKLY, [TUE], time(10), time(12)), "Every Tuesday, 10:00 to 12:00"),
        ((F.WEEKLY, [FRI, MON, WED], None, None), "Every Monday, Wednesday and Friday"),
        ((F.WEEKLY, [THU, MON], time(9, 30), None), "Every Monday and Thursday, from 09:30"),
        ((F.FORTNIGHTLY, [MON], None, None), "Every other Monday"),
        (
            (F.FORTNIGHTLY, [SAT, SUN], time(14), time(16, 5)),
            "Every other Saturday and Sunday, 14:00 to 16:05",
        ),
        ((F.MONTHLY, [FRI], None, None, 1), "First Friday of the month"),
        ((F.MONTHLY, [WED], time(18), time(20), -1), "Last Wednesday of the month, 18:00 to 20:00"),
        ((F.MONTHLY, [MON, THU], None, None, 3), "Third Monday and Thursday of the month"),
        ((F.BY_ARRANGEMENT, [], None, None), "By arrangement"),
        ((F.BY_ARRANGEMENT, [MON], None, None), "By arrangement"),
        ((F.WEEKLY, [], None, None), "By arrangement"),
    ],
)
def test_describe(args, expected):
    assert describe(*args) == expected


def test_describe_names_every_week_of_the_month():
    words = [describe(F.MONTHLY, [SUN], None, None, week) for week in (1, 2, 3, 4, -1)]
    assert words == [
        f"{w} Sunday of the month" for w in ("First", "Second", "Third", "Fourth", "Last")
    ]


def test_describe_never_shows_an_end_time_without_a_start():
    assert describe(F.WEEKLY, [MON], None, time(12)) == "Every Monday"


# --- time of day ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (None, None),
        (time(0, 0), "morning"),
        (time(6, 30), "morning"),
        (time(11, 59), "morning"),
        (time(12, 0), "afternoon"),
        (time(16, 59), "afternoon"),
        (time(17, 0), "evening"),
        (time(23, 59), "evening"),
    ],
)
def test_time_of_day_boundaries(start, expected):
    assert time_of_day(start) == expected


@given(st.times())
def test_every_time_has_a_time_of_day(start):
    assert time_of_day(start) in {"morning", "afternoon", "evening"}


def test_day_names_match_the_calendar():
    assert describe(F.WEEKLY, list(range(7)), None, None).split(", ")[0] == (
        "Every " + calendar.day_name[0]
    )
