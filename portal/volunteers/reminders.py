"""DBS checks and training running out: the coordinators' list and the volunteers' emails.

Each volunteer is emailed once per threshold (60, 30 and 7 days before, and once
it has run out) for each thing that runs out. The row in reminders_sent is
committed before the email goes; its unique key means a second run, or two
schedulers at once, cannot send the same reminder again. If the mail server
refuses, the row is removed so tomorrow's run tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.mail import MailError, send_email
from portal.volunteers.compliance import Expiring, compliance
from portal.volunteers.models import (
    ReminderSent,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)

log = logging.getLogger(__name__)

# Volunteers who can still be matched, or come back from a pause, need to know.
REMINDED_STATUSES = (VolunteerStatus.ACTIVE, VolunteerStatus.PAUSED)


@dataclass(frozen=True)
class DueItem:
    volunteer: Volunteer
    item: Expiring
    days_left: int  # negative once it has run out
    threshold: int  # the reminder this falls under: 60, 30, 7, or 0 for "has run out"

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def thresholds() -> list[int]:
    return sorted(current_app.config["EXPIRY_REMINDER_DAYS"])


def threshold_for(days_left: int, steps: list[int]) -> int | None:
    """The smallest threshold at or above `days_left`; 0 once expired; None if not yet due."""
    if days_left < 0:
        return 0
    for step in steps:
        if days_left <= step:
            return step
    return None


def due_items(today: date) -> list[DueItem]:
    """Everything that runs out within the largest threshold or already has, soonest first."""
    steps = thresholds()
    modules = list(db.session.scalars(sa.select(TrainingModule).where(TrainingModule.is_active)))
    volunteers = db.session.scalars(
        sa.select(Volunteer)
        .options(
            joinedload(Volunteer.user),
            selectinload(Volunteer.training_records).joinedload(TrainingRecord.module),
        )
        .where(Volunteer.status.in_(REMINDED_STATUSES))
    )
    items = []
    for volunteer in volunteers:
        for item in compliance(volunteer, modules, today).expiring:
            days_left = (item.expires_on - today).days
            threshold = threshold_for(days_left, steps)
            if threshold is not None:
                items.append(DueItem(volunteer, item, days_left, threshold))
    items.sort(key=lambda d: (d.item.expires_on, d.volunteer.user.full_name))
    return items


def send_expiry_reminders(today: date) -> int:
    """Email each due reminder not already sent; returns how many went."""
    sent = 0
    for due in due_items(today):
        row = ReminderSent(
            volunteer_id=due.volunteer.id,
            subject=due.item.subject,
            expires_on=due.item.expires_on,
            threshold_days=due.threshold,
        )
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # already sent, by an earlier run or another process
            continue
        try:
            _email(due)
        except MailError:
            db.session.delete(row)
            db.session.commit()
            log.warning("expiry reminder for volunteer %s not sent; will retry", due.volunteer.id)
            continue
        sent += 1
    return sent


def _email(due: DueItem) -> None:
    hub = current_app.config["HUB_NAME"]
    phone = current_app.config["HUB_PHONE"]
    when = f"{due.item.expires_on.day} {due.item.expires_on:%B %Y}"
    if due.expired:
        subject = f"Your {due.item.title} has run out"
        lead = (
            f"Your {due.item.title} ran out on {when}. Until it is renewed the hub cannot "
            "match you with anyone new."
        )
    else:
        subject = f"Your {due.item.title} runs out on {when}"
        lead = f"Your {due.item.title} runs out on {when}, in {due.days_left} days."
    send_email(
        due.volunteer.user.email,
        subject,
        f"Hello {due.volunteer.user.full_name},\n\n{lead}\n\nPlease contact the volunteer "
        f"team at {hub} on {phone} to arrange it. You can see all your training here:\n"
        f"{url_for('volunteers.me', _external=True)}\n",
    )
