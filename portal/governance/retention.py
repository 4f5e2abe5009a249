"""Retention: after the configured period, a closed case loses everything that identifies
the person, while the counts, dates and scores the dashboards add up stay; so does a
former volunteer's record.

A resident is anonymised only when every referral of theirs is closed and the newest
closure is older than the period for closed cases (RETENTION_CLOSED_CASE_MONTHS). A
volunteer is anonymised when they left longer ago than the period for former volunteers
(RETENTION_FORMER_VOLUNTEER_MONTHS) and no buddy match of theirs is still proposed or
active. Nothing the dashboard facts are worked out from changes, so the commissioner's
figures for past months are the same the day after as the day before.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from portal.alerts.models import Alert
from portal.audit.service import audit
from portal.auth.models import RecoveryCode, User, new_session_token
from portal.cases.models import Contact, Goal
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral
from portal.extensions import db
from portal.referrals.models import Referral, ReferralEvent, ReferralStatus, Resident
from portal.reports.compose import minimal_summary
from portal.reports.models import OutcomeReport
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)

ANONYMISED = "Anonymised"
LONDON = ZoneInfo("Europe/London")
# People anonymised per transaction (_in_batches).
BATCH = 200


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier (the month's last day if it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def cutoff(today: date, kind: str) -> datetime:
    """Records of this kind that ended before the start of this UK day are past their
    retention period."""
    months = current_app.config["RETENTION_MONTHS"][kind]
    return datetime.combine(months_before(today, months), time(0), LONDON)


def closed_case_cutoff(today: date) -> datetime:
    return cutoff(today, "closed_case")


def residents_due(today: date) -> list[int]:
    """Residents whose every referral closed before the cutoff, not yet anonymised."""
    still_open = sa.func.sum(sa.case((Referral.status != ReferralStatus.CLOSED, 1), else_=0))
    query = (
        sa.select(Referral.resident_id)
        .join(Resident, Resident.id == Referral.resident_id)
        .where(Resident.anonymised_at.is_(None))
        .group_by(Referral.resident_id)
        .having(still_open == 0, sa.func.max(Referral.closed_at) < closed_case_cutoff(today))
        .order_by(Referral.resident_id)
    )
    return list(db.session.scalars(query))


def anonymise_residents(resident_ids: list[int], now: datetime | None = None) -> None:
    """Clear what identifies these residents, in the current transaction: one statement per
    table for the whole batch, and one pass over the outcome reports."""
    now = now or utcnow()
    theirs = Referral.resident_id.in_(resident_ids)
    referral_ids = sa.select(Referral.id).where(theirs)
    references = set(db.session.scalars(sa.select(Referral.reference).where(theirs)))
    db.session.execute(
        sa.update(Resident)
        .where(Resident.id.in_(resident_ids))
        .values(
            nhs_number=None,
            given_name=ANONYMISED,
            family_name="person",
            date_of_birth=None,
            address=None,
            postcode=None,
            phone=None,
            email=None,
            accessibility_needs=None,
            gender=None,
            anonymised_at=now,
        )
    )
    db.session.execute(
        sa.update(Referral)
        .where(theirs)
        .values(
            details=None,
            known_risks=None,
            referrer_name=None,
            referrer_role=None,
            triage_note=None,
            outcome_summary=None,
            consent_recorded_by=None,
            consent_withdrawn_by=None,
            preferred_buddy_gender=None,
            availability=[],
            interests=[],
            access_needs=[],
            # Anyone with the case open from before cannot save over the anonymised record.
            version=Referral.version + 1,
        )
    )
    db.session.execute(
        sa.update(ReferralEvent)
        .where(ReferralEvent.referral_id.in_(referral_ids))
        .values(note=None, changes=None)
    )
    db.session.execute(
        sa.update(Contact)
        .where(Contact.referral_id.in_(referral_ids))
        .values(notes=None, safeguarding_note=None)
    )
    db.session.execute(
        sa.update(Goal).where(Goal.referral_id.in_(referral_ids)).values(description=ANONYMISED)
    )
    db.session.execute(
        sa.update(ActivityReferral)
        .where(ActivityReferral.referral_id.in_(referral_ids))
        .values(
            person_name=None,
            shared_phone=None,
            shared_email=None,
            shared_age=None,
            shared_note=None,
            decline_reason=None,
            end_reason=None,
        )
    )
    db.session.execute(
        sa.update(BuddyMatch)
        .where(BuddyMatch.referral_id.in_(referral_ids))
        .values(end_reason=None, decline_reason=None)
    )
    # Alerts are reminders to act, not the record: they go.
    db.session.execute(sa.delete(Alert).where(Alert.referral_id.in_(referral_ids)))
    _anonymise_reports(references, referral_ids)
    for resident_id in resident_ids:
        audit("anonymised", "resident", resident_id, actor_role="retention job")


def _anonymise_reports(references: set[str], referral_ids) -> None:
    """Reports keep their place in the delivery log; the person's section loses its names."""
    practices = sa.select(Referral.practice_id).where(Referral.id.in_(referral_ids))
    reports = db.session.scalars(
        sa.select(OutcomeReport)
        .where(OutcomeReport.practice_id.in_(practices))
        .options(sa.orm.undefer(OutcomeReport.summaries))
    )
    for report in reports:
        summaries = report.summaries or []
        if not any(s.get("reference") in references for s in summaries):
            continue
        report.summaries = [
            {**minimal_summary(s), "patient": None, "anonymised": True}
            if s.get("reference") in references
            else s
            for s in summaries
        ]


def _in_batches(due: list[int], anonymise) -> int:
    """Anonymise `due` a batch per transaction, so a first run on an old database commits
    as it goes; how many there were."""
    for start in range(0, len(due), BATCH):
        anonymise(due[start : start + BATCH])
        db.session.commit()
    return len(due)


def anonymise_closed_cases(today: date) -> int:
    """The daily job's work: every resident past the period."""
    return _in_batches(residents_due(today), anonymise_residents)


# --- former volunteers ---------------------------------------------------------------------


def volunteers_due(today: date) -> list[int]:
    """Volunteers who left before the cutoff, not yet anonymised, with no buddy match of
    theirs still proposed or active."""
    still_matched = sa.exists().where(
        BuddyMatch.volunteer_id == Volunteer.id,
        BuddyMatch.status.in_((BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE)),
    )
    query = (
        sa.select(Volunteer.id)
        .where(
            Volunteer.status == VolunteerStatus.LEFT,
            Volunteer.anonymised_at.is_(None),
            Volunteer.status_changed_at < cutoff(today, "former_volunteer"),
            ~still_matched,
        )
        .order_by(Volunteer.id)
    )
    return list(db.session.scalars(query))


def anonymise_volunteers(volunteer_ids: list[int], now: datetime | None = None) -> None:
    """Clear what identifies these former volunteers and close their logins, in the current
    transaction. Their roles, dates, DBS level, hours and contact counts stay; what they
    wrote in a resident's case stays with the case, under its own retention."""
    now = now or utcnow()
    theirs = Volunteer.id.in_(volunteer_ids)
    user_ids = list(db.session.scalars(sa.select(Volunteer.user_id).where(theirs)))
    db.session.execute(
        sa.update(Volunteer)
        .where(theirs)
        .values(
            status_note=None,
            postcode=None,
            gender=None,
            languages=[],
            interests=[],
            availability=[],
            transport=None,
            motivation=None,
            referee_1_name=None,
            referee_1_contact=None,
            referee_2_name=None,
            referee_2_contact=None,
            dbs_certificate_number=None,
            anonymised_at=now,
            version=Volunteer.version + 1,
        )
    )
    # The login goes for good: no password, a new session token (every cookie dies), and
    # an address that cannot receive mail but keeps the column unique.
    for user_id in user_ids:
        db.session.execute(
            sa.update(User)
            .where(User.id == user_id)
            .values(
                full_name="Anonymised volunteer",
                email=f"anonymised-{user_id}@anonymised.invalid",
                phone=None,
                password_hash=None,
                is_active=False,
                session_token=new_session_token(),
                totp_secret=None,
                mfa_enabled_at=None,
                last_totp_step=None,
                languages=[],
            )
        )
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id.in_(user_ids)))
    db.session.execute(sa.delete(Alert).where(Alert.user_id.in_(user_ids)))
    db.session.execute(
        sa.update(VolunteerHours)
        .where(VolunteerHours.volunteer_id.in_(volunteer_ids))
        .values(notes=None)
    )
    db.session.execute(
        sa.update(TrainingRecord)
        .where(TrainingRecord.volunteer_id.in_(volunteer_ids))
        .values(notes=None)
    )
    for volunteer_id in volunteer_ids:
        audit("anonymised", "volunteer", volunteer_id, actor_role="retention job")


def anonymise_former_volunteers(today: date) -> int:
    """The daily job's work for volunteers: everyone past the period."""
    return _in_batches(volunteers_due(today), anonymise_volunteers)
