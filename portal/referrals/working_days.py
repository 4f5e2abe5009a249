"""Working days in England and Wales: weekdays that are not bank holidays."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    # England's list; Wales shares every England and Wales bank holiday.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`: 0 on the same day, never negative.

    Whole weeks count five each; only the few days left over and the bank holidays in
    the range are looked at one by one, so a referral waiting for years costs no more.
    """
    if end <= start:
        return 0
    first = start + timedelta(days=1)
    weeks, extra = divmod((end - first).days + 1, 7)
    weekdays = weeks * 5
    for offset in range(weeks * 7, weeks * 7 + extra):
        if (first + timedelta(days=offset)).weekday() < 5:
            weekdays += 1
    holidays_on_weekdays = sum(
        1
        for year in range(first.year, end.year + 1)
        for day in _bank_holidays(year)
        if first <= day <= end and day.weekday() < 5
    )
    return weekdays - holidays_on_weekdays


def add_working_days(start: date, count: int) -> date:
    """The day `count` working days after `start`: 10 from a Friday is the Friday fortnight."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day
