"""What volunteers log: contacts with the people they buddy, and their other hours.

A contact raising a concern alerts the person's navigator and every coordinator in
the same transaction, so nobody can save the contact without the alert. Nobody
gives more than 24 hours in a day: each log is checked against the day's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from portal.alerts.models import AlertKind
from portal.alerts.service import notify, notify_coordinators
from portal.cases.models import MAX_CONTACT_MINUTES, Contact, ContactMethod, ContactResult
from portal.db_types import utcnow
from portal.extensions import db
from portal.form_fields import LONDON, local_to_utc
from portal.referrals.workflow import TransitionRefused
from portal.volunteers.models import (
    MINUTES_IN_A_DAY,
    BuddyMatch,
    BuddyMatchStatus,
    HoursKind,
    Volunteer,
    VolunteerHours,
)

# How a buddy can be in touch with the person they support.
BUDDY_METHODS = (
    ContactMethod.PHONE,
    ContactMethod.HOME_VISIT,
    ContactMethod.VENUE,
    ContactMethod.ACCOMPANIED,
    ContactMethod.VIDEO,
    ContactMethod.TEXT,
)


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = local_to_utc(datetime(day.year, day.month, day.day))
    return start, local_to_utc(datetime.combine(day + timedelta(days=1), datetime.min.time()))


def minutes_on(volunteer: Volunteer, day: date) -> int:
    """Everything this volunteer logged for one day (London time): contacts and hours."""
    start, end = _local_day_bounds(day)
    contact_minutes = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Contact.duration_minutes), 0)).where(
            Contact.author_id == volunteer.user_id,
            Contact.occurred_at >= start,
            Contact.occurred_at < end,
        )
    )
    other_minutes = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(VolunteerHours.minutes), 0)).where(
            VolunteerHours.volunteer_id == volunteer.id, VolunteerHours.worked_on == day
        )
    )
    return int(contact_minutes) + int(other_minutes)


def _within_a_day(volunteer: Volunteer, day: date, minutes: int, field: str) -> None:
    already = minutes_on(volunteer, day)
    if already + minutes > MINUTES_IN_A_DAY:
        left = max(MINUTES_IN_A_DAY - already, 0)
        raise TransitionRefused(
            f"That makes more than 24 hours on {day.day} {day:%B %Y}: you have already logged "
            f"{_hours(already)} that day, so at most {_hours(left)} more",
            field,
        )


def _hours(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    if h and m:
        return f"{h} h {m} min"
    return f"{h} h" if h else f"{m} min"


@dataclass(frozen=True)
class BuddyContact:
    occurred_at: datetime  # UTC
    method: ContactMethod
    duration_minutes: int
    notes: str | None
    concern: str | None  # the concern in the volunteer's words; None when there is none
    next_meeting_at: datetime | None  # UTC


def log_buddy_contact(match: BuddyMatch, volunteer: Volunteer, details: BuddyContact) -> Contact:
    if match.volunteer_id != volunteer.id or match.status != BuddyMatchStatus.ACTIVE:
        # The view turns this into 404: nothing about the case is confirmed.
        raise PermissionError("not this volunteer's active match")
    if details.method not in BUDDY_METHODS:
        raise TransitionRefused("Choose how you were in touch", "method")
    now = utcnow()
    if details.occurred_at > now + timedelta(minutes=5):
        raise TransitionRefused("The date cannot be in the future", "occurred_at")
    started = match.responded_at or match.proposed_at
    if details.occurred_at < started - timedelta(days=1):
        raise TransitionRefused(
            "The date cannot be before you started buddying this person", "occurred_at"
        )
    if not 1 <= details.duration_minutes <= MAX_CONTACT_MINUTES:
        raise TransitionRefused(
            f"Enter a number of minutes from 1 to {MAX_CONTACT_MINUTES} (12 hours)",
            "duration_minutes",
        )
    if details.next_meeting_at is not None and details.next_meeting_at < details.occurred_at:
        raise TransitionRefused("The next meeting must be after this contact", "next_meeting_at")
    day = details.occurred_at.astimezone(LONDON).date()
    _within_a_day(volunteer, day, details.duration_minutes, "duration_minutes")
    contact = Contact(
        referral_id=match.referral_id,
        author_id=volunteer.user_id,
        occurred_at=details.occurred_at,
        method=details.method,
        duration_minutes=details.duration_minutes,
        successful=True,
        result=ContactResult.SPOKE,
        notes=details.notes,
        concern_raised=details.concern is not None,
        safeguarding_note=details.concern,
    )
    db.session.add(contact)
    if details.next_meeting_at is not None:
        match.next_meeting_at = details.next_meeting_at
    if details.concern is not None:
        referral = match.referral
        message = (
            f"{volunteer.user.full_name}, buddy for {referral.resident.given_name} "
            f"({referral.reference}), raised a concern: {details.concern}"
        )
        if referral.navigator_id is not None:
            notify(referral.navigator_id, referral, AlertKind.BUDDY_CONCERN, message)
        notify_coordinators(referral, AlertKind.BUDDY_CONCERN, message)
    return contact


def log_hours(
    volunteer: Volunteer,
    worked_on: date,
    kind: HoursKind,
    minutes: int,
    notes: str | None,
    today: date,
) -> VolunteerHours:
    if worked_on > today:
        raise TransitionRefused("The date cannot be in the future", "worked_on")
    if worked_on < volunteer.joined_portal_on:
        raise TransitionRefused("The date cannot be before you applied to volunteer", "worked_on")
    if minutes < 1:
        raise TransitionRefused("Enter the time you gave", "hours")
    if minutes > MINUTES_IN_A_DAY:
        raise TransitionRefused("A day has only 24 hours: enter 24 or fewer", "hours")
    _within_a_day(volunteer, worked_on, minutes, "hours")
    entry = VolunteerHours(
        volunteer_id=volunteer.id, worked_on=worked_on, kind=kind, minutes=minutes, notes=notes
    )
    db.session.add(entry)
    return entry


@dataclass(frozen=True)
class Totals:
    contact_minutes: int
    other_minutes: int
    contacts: int

    @property
    def minutes(self) -> int:
        return self.contact_minutes + self.other_minutes

    @property
    def hours_text(self) -> str:
        return _hours(self.minutes)


def totals(volunteer: Volunteer, start: date, end: date) -> Totals:
    """Time given from `start` up to, not including, `end` (London days)."""
    lo, _ = _local_day_bounds(start)
    hi, _ = _local_day_bounds(end)
    count, contact_minutes = db.session.execute(
        sa.select(
            sa.func.count(Contact.id), sa.func.coalesce(sa.func.sum(Contact.duration_minutes), 0)
        ).where(
            Contact.author_id == volunteer.user_id,
            Contact.occurred_at >= lo,
            Contact.occurred_at < hi,
        )
    ).one()
    other = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(VolunteerHours.minutes), 0)).where(
            VolunteerHours.volunteer_id == volunteer.id,
            VolunteerHours.worked_on >= start,
            VolunteerHours.worked_on < end,
        )
    )
    return Totals(int(contact_minutes), int(other), int(count))


def month_and_year(volunteer: Volunteer, today: date) -> tuple[Totals, Totals]:
    month_start = today.replace(day=1)
    year_start = today.replace(month=1, day=1)
    tomorrow = today + timedelta(days=1)
    return totals(volunteer, month_start, tomorrow), totals(volunteer, year_start, tomorrow)
