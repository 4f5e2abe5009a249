"""When an activity meets: the next session date, and the schedule in words."""

from __future__ import annotations

import calendar
from datetime import date, time, timedelta

from portal.directory.models import Frequency

DAY_NAMES = list(calendar.day_name)
WEEKS_OF_MONTH = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", -1: "Last"}
TIMES_OF_DAY = {
    "morning": ("Morning (before 12pm)", time(0, 0), time(12, 0)),
    "afternoon": ("Afternoon (12pm to 5pm)", time(12, 0), time(17, 0)),
    "evening": ("Evening (from 5pm)", time(17, 0), None),
}
# Far enough to find a monthly session whatever the week asked for.
_MONTHS_AHEAD = 3


def nth_weekday(year: int, month: int, weekday: int, week: int) -> date | None:
    """The 1st to 4th, or last (-1), given weekday of a month."""
    days = [
        day
        for day in calendar.Calendar().itermonthdates(year, month)
        if day.month == month and day.weekday() == weekday
    ]
    if week == -1:
        return days[-1]
    return days[week - 1] if 1 <= week <= len(days) else None


def next_session(
    frequency: Frequency,
    days: list[int],
    today: date,
    starts_on: date | None = None,
    monthly_week: int | None = None,
) -> date | None:
    """The first session on or after today (and on or after the first session), or None.

    None when there is no fixed pattern: by arrangement, no days given, or a monthly
    activity without its week of the month.
    """
    if frequency == Frequency.BY_ARRANGEMENT or not days:
        return None
    start = max(today, starts_on) if starts_on else today
    if frequency == Frequency.MONTHLY:
        if monthly_week is None:
            return None
        candidates = []
        year, month = start.year, start.month
        for _ in range(_MONTHS_AHEAD):
            for weekday in days:
                day = nth_weekday(year, month, weekday, monthly_week)
                if day is not None and day >= start:
                    candidates.append(day)
            if candidates:
                return min(candidates)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None
    for offset in range(14):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        if frequency == Frequency.FORTNIGHTLY and starts_on is not None:
            weeks = (_monday(day) - _monday(starts_on)).days // 7
            if weeks % 2:
                continue
        return day
    return None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def clock(value: time) -> str:
    return value.strftime("%H:%M")


def describe(
    frequency: Frequency,
    days: list[int],
    start_time: time | None,
    end_time: time | None,
    monthly_week: int | None = None,
) -> str:
    """ "Every Tuesday, 10:00 to 12:00", "Every other Monday", "First Friday of the month"."""
    if frequency == Frequency.BY_ARRANGEMENT or not days:
        when = "By arrangement"
    else:
        names = [DAY_NAMES[d] for d in sorted(days)]
        if frequency == Frequency.WEEKLY:
            when = "Every " + _join(names)
        elif frequency == Frequency.FORTNIGHTLY:
            when = "Every other " + _join(names)
        else:
            week = WEEKS_OF_MONTH.get(monthly_week or 0, "One")
            when = f"{week} {_join(names)} of the month"
    if start_time and end_time:
        return f"{when}, {clock(start_time)} to {clock(end_time)}"
    if start_time:
        return f"{when}, from {clock(start_time)}"
    return when


def time_of_day(start_time: time | None) -> str | None:
    if start_time is None:
        return None
    for key, (_label, start, end) in TIMES_OF_DAY.items():
        if start_time >= start and (end is None or start_time < end):
            return key
    return None
