"""Report periods in London dates: the last whole day, week (Monday to Sunday) or month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.referrals.models import ReportFrequency

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def cutoff(self) -> datetime:
        """The UTC instant the period ends: London midnight after its last day."""
        return london_midnight(self.end + timedelta(days=1))

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"{self.start:%-d %B %Y}"
        whole_month = self.start.day == 1 and (self.end + timedelta(days=1)).day == 1
        if whole_month and self.start.month == self.end.month:
            return f"{self.start:%B %Y}"
        if self.start.year == self.end.year:
            return f"{self.start:%-d %B} to {self.end:%-d %B %Y}"
        return f"{self.start:%-d %B %Y} to {self.end:%-d %B %Y}"


def london_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def last_complete(frequency: ReportFrequency, today: date) -> Period:
    """The most recent whole period that ended before `today` began."""
    yesterday = today - timedelta(days=1)
    if frequency == ReportFrequency.DAILY:
        return Period(yesterday, yesterday)
    if frequency == ReportFrequency.WEEKLY:
        # The week that ended on the last Sunday before today.
        end = yesterday - timedelta(days=(yesterday.weekday() - 6) % 7)
        return Period(end - timedelta(days=6), end)
    end = today.replace(day=1) - timedelta(days=1)
    return Period(end.replace(day=1), end)


def next_run_day(frequency: ReportFrequency, today: date) -> date:
    """The first day, from `today` on, whose morning run makes a new report."""
    if frequency == ReportFrequency.DAILY:
        return today
    if frequency == ReportFrequency.WEEKLY:
        return today + timedelta(days=(7 - today.weekday()) % 7)
    if today.day == 1:
        return today
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def current(frequency: ReportFrequency, today: date) -> Period:
    """The period still running: what a report sent now would otherwise wait for."""
    nxt = next_run_day(frequency, today + timedelta(days=1))
    return Period(last_complete(frequency, nxt).start, today)
