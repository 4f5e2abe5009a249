"""When training runs out: plain date arithmetic, no requests."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when shorter (31 Jan + 1 = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_date(completed_on: date, valid_for_months: int | None) -> date | None:
    """The last day the training counts; None when it never expires."""
    if valid_for_months is None:
        return None
    return add_months(completed_on, valid_for_months)


def is_in_date(completed_on: date, valid_for_months: int | None, today: date) -> bool:
    expires = expiry_date(completed_on, valid_for_months)
    return expires is None or today <= expires
