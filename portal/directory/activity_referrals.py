"""Referring a person to an activity, and the organisation's answers: the rules in one place.

The organisation sees only the copy of details the person agreed to share, taken when
the referral was sent; it never reads the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import joinedload

from portal.alerts.models import AlertKind
from portal.alerts.service import notify
from portal.auth.models import User
from portal.db_types import utcnow
from portal.directory import organisations
from portal.directory.models import (
    OPEN_ACTIVITY_REFERRAL,
    Activity,
    ActivityAttendance,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Organisation,
)
from portal.extensions import db
from portal.form_fields import LONDON
from portal.mail import send_email
from portal.referrals.models import Referral
from portal.referrals.workflow import TransitionRefused, refuse_if_consent_withdrawn
from portal.referrals.working_days import add_working_days, working_days_between

S = ActivityReferralStatus


@dataclass
class SharedDetails:
    """What the person agreed the organisation may have, beyond their name."""

    phone: bool
    email: bool
    age: bool
    note: str | None


def why_not_referable(activity: Activity) -> str | None:
    """The reason a navigator cannot send a referral to this activity, or None."""
    if activity.status != ActivityStatus.PUBLISHED or not activity.organisation.is_verified:
        return "This activity is not open in the directory just now."
    if not activity.accepts_referrals:
        return (
            "This activity does not take referrals: the person contacts them directly. "
            "Record it as signposted instead."
        )
    if activity.is_full:
        return "This activity has no spaces at the moment."
    return None


def _open_link(
    referral: Referral, activity: Activity, *statuses: ActivityReferralStatus
) -> ActivityReferral | None:
    return db.session.scalar(
        sa.select(ActivityReferral).where(
            ActivityReferral.referral_id == referral.id,
            ActivityReferral.activity_id == activity.id,
            ActivityReferral.status.in_(statuses),
        )
    )


def refer(
    referral: Referral, activity: Activity, by: User, shared: SharedDetails, today: date
) -> ActivityReferral:
    refuse_if_consent_withdrawn(referral, "a referral to an activity")
    reason = why_not_referable(activity)
    if reason:
        raise TransitionRefused(reason, None)
    # Being told about an activity earlier (signposted) does not stop a referral now.
    if _open_link(referral, activity, *OPEN_ACTIVITY_REFERRAL) is not None:
        raise TransitionRefused(
            f"{referral.resident.full_name} has already been referred to this activity.", None
        )
    person = referral.resident
    link = ActivityReferral(
        referral=referral,
        activity=activity,
        status=S.SENT,
        consent_confirmed=True,
        person_name=person.full_name,
        shared_phone=person.phone if shared.phone else None,
        shared_email=person.email if shared.email else None,
        shared_age=person.age_on(today) if shared.age else None,
        shared_note=shared.note,
        respond_by=add_working_days(today, current_app.config["ACTIVITY_RESPONSE_WORKING_DAYS"]),
        created_by=by,
        sent_at=utcnow(),
    )
    db.session.add(link)
    db.session.flush()
    return link


def signpost(referral: Referral, activity: Activity, by: User) -> ActivityReferral:
    """The person was told about the activity and will contact it themselves."""
    if activity.status != ActivityStatus.PUBLISHED or not activity.organisation.is_verified:
        raise TransitionRefused("This activity is not open in the directory just now.", None)
    if _open_link(referral, activity, *OPEN_ACTIVITY_REFERRAL, S.SIGNPOSTED) is not None:
        raise TransitionRefused(
            f"{referral.resident.full_name} is already linked to this activity.", None
        )
    link = ActivityReferral(
        referral=referral, activity=activity, status=S.SIGNPOSTED, created_by=by
    )
    db.session.add(link)
    db.session.flush()
    return link


def _require(link: ActivityReferral, *allowed: ActivityReferralStatus) -> None:
    if link.status not in allowed:
        raise TransitionRefused(
            f"This referral is {link.status.label.lower()}, so that cannot be done now.", None
        )


def _tell_navigator(link: ActivityReferral, kind: AlertKind, message: str) -> None:
    recipient = link.referral.navigator_id or link.created_by_id
    notify(recipient, link.referral, kind, message)


def accept(link: ActivityReferral, by: User) -> None:
    _require(link, S.SENT)
    link.status = S.ACCEPTED
    link.responded_at = utcnow()
    link.responded_by = by
    activity = link.activity
    if activity.spaces_available:
        activity.spaces_available -= 1
    _tell_navigator(
        link,
        AlertKind.ACTIVITY_RESPONSE,
        f"{activity.organisation.name} accepted {link.person_name} for {activity.title}.",
    )


def decline(link: ActivityReferral, by: User, reason: str) -> None:
    _require(link, S.SENT)
    link.status = S.DECLINED
    link.decline_reason = reason
    link.responded_at = utcnow()
    link.responded_by = by
    activity = link.activity
    _tell_navigator(
        link,
        AlertKind.ACTIVITY_DECLINED,
        f"{activity.organisation.name} declined {link.person_name} for {activity.title}: {reason}",
    )


def record_attendance(
    link: ActivityReferral, by: User, session_on: date, attended: bool, today: date
) -> ActivityAttendance:
    """One session's attendance; recording the same date again corrects it."""
    _require(link, S.ACCEPTED, S.ATTENDED)
    if session_on > today:
        raise TransitionRefused("The session date must be today or in the past.", "session_on")
    # The day as the hub and the organisation count it, as the referral page shows it.
    sent_on = (link.sent_at or link.created_at).astimezone(LONDON).date()
    if session_on < sent_on:
        raise TransitionRefused(
            "The session date must be on or after the day the referral was sent "
            f"({sent_on.strftime('%-d %B %Y')}).",
            "session_on",
        )
    record = db.session.scalar(
        sa.select(ActivityAttendance).where(
            ActivityAttendance.activity_referral_id == link.id,
            ActivityAttendance.session_on == session_on,
        )
    )
    if record is None:
        record = ActivityAttendance(activity_referral=link, session_on=session_on)
        db.session.add(record)
    record.attended = attended
    record.recorded_by = by
    record.recorded_at = utcnow()
    if attended and link.status == S.ACCEPTED:
        link.status = S.ATTENDED
        _tell_navigator(
            link,
            AlertKind.ACTIVITY_RESPONSE,
            f"{link.person_name} went to {link.activity.title} on "
            f"{session_on.strftime('%-d %B %Y')}.",
        )
    return record


def stop(link: ActivityReferral, by: User, reason: str) -> None:
    """The person no longer attends (organisation), or the referral is withdrawn (navigator)."""
    _require(link, *OPEN_ACTIVITY_REFERRAL)
    was_holding_a_place = link.status in (S.ACCEPTED, S.ATTENDED)
    link.status = S.STOPPED
    link.ended_at = utcnow()
    link.end_reason = reason
    activity = link.activity
    if (
        was_holding_a_place
        and activity.spaces_available is not None
        and (activity.capacity is None or activity.spaces_available < activity.capacity)
    ):
        activity.spaces_available += 1
    if by.organisation_id == activity.organisation_id:
        _tell_navigator(
            link,
            AlertKind.ACTIVITY_RESPONSE,
            f"{activity.organisation.name}: {link.person_name} has stopped going to "
            f"{activity.title}. {reason}",
        )


def send_withdrawn_email(link: ActivityReferral) -> None:
    """The organisation should stop expecting the person; still no personal details by email."""
    address = url_for("directory.incoming_referral", link_id=link.id, _external=True)
    for recipient in organisations.recipients(link.activity.organisation):
        send_email(
            recipient,
            f"A referral to {link.activity.title} was withdrawn",
            f"Hello,\n\nThe hub has withdrawn a referral to {link.activity.title}, so there is "
            f"nothing more to do for it. The details are here:\n{address}",
        )


def is_overdue(link: ActivityReferral, today: date) -> bool:
    return link.status == S.SENT and link.respond_by is not None and today > link.respond_by


# --- what an organisation sees ---------------------------------------------------------------


def for_organisation(organisation_id: int, status: ActivityReferralStatus | None = None):
    query = (
        sa.select(ActivityReferral)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .options(joinedload(ActivityReferral.activity))
        .where(
            Activity.organisation_id == organisation_id,
            ActivityReferral.status != S.SIGNPOSTED,
        )
        .order_by(
            (ActivityReferral.status != S.SENT),
            ActivityReferral.respond_by,
            ActivityReferral.created_at.desc(),
        )
    )
    if status is not None:
        query = query.where(ActivityReferral.status == status)
    return list(db.session.scalars(query))


def one_for_organisation(organisation_id: int, link_id: int) -> ActivityReferral | None:
    """The referral, or None when it was sent to another organisation (the view says 404)."""
    return db.session.scalar(
        sa.select(ActivityReferral)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .options(
            joinedload(ActivityReferral.activity),
            joinedload(ActivityReferral.created_by),
            joinedload(ActivityReferral.referral),
        )
        .where(
            ActivityReferral.id == link_id,
            Activity.organisation_id == organisation_id,
            ActivityReferral.status != S.SIGNPOSTED,
        )
    )


def send_new_referral_email(link: ActivityReferral) -> None:
    """No personal details by email: only that there is something to answer, and by when."""
    organisation = link.activity.organisation
    hub = current_app.config["HUB_NAME"]
    address = url_for("directory.incoming_referral", link_id=link.id, _external=True)
    for recipient in organisations.recipients(organisation):
        send_email(
            recipient,
            f"New referral for {link.activity.title}",
            f"Hello,\n\n{hub} has referred someone to {link.activity.title}. Please accept "
            f"or decline by {link.respond_by.strftime('%-d %B %Y')}:\n{address}",
        )


# --- the daily deadline job ------------------------------------------------------------------


def send_deadline_reminders(today: date) -> tuple[int, int]:
    """Remind organisations before an answer is due; tell navigators when it has lapsed.

    Each happens once per referral (the dates on the referral say it was done), and is
    committed per organisation so a failed email never repeats one already sent.
    Returns (reminders, lapses).
    """
    waiting = list(
        db.session.scalars(
            sa.select(ActivityReferral)
            .options(
                joinedload(ActivityReferral.activity).joinedload(Activity.organisation),
                joinedload(ActivityReferral.referral),
            )
            .where(
                ActivityReferral.status == S.SENT,
                ActivityReferral.respond_by.is_not(None),
                sa.or_(
                    ActivityReferral.reminded_on.is_(None),
                    ActivityReferral.lapse_notified_on.is_(None),
                ),
            )
            .order_by(ActivityReferral.respond_by)
        )
    )
    warn_within = current_app.config["ACTIVITY_REMINDER_WORKING_DAYS"]
    due: dict[int, list[ActivityReferral]] = {}
    lapsed: dict[int, list[ActivityReferral]] = {}
    for link in waiting:
        organisation_id = link.activity.organisation_id
        if today > link.respond_by:
            if link.lapse_notified_on is None:
                lapsed.setdefault(organisation_id, []).append(link)
        elif link.reminded_on is None and working_days_between(today, link.respond_by) <= (
            warn_within
        ):
            due.setdefault(organisation_id, []).append(link)
    for links in due.values():
        _email_organisation(
            links[0].activity.organisation,
            "Referrals waiting for your answer",
            "These referrals need an answer soon",
            links,
        )
        for link in links:
            link.reminded_on = today
        db.session.commit()
    for links in lapsed.values():
        _email_organisation(
            links[0].activity.organisation,
            "Referrals past their answer date",
            "These referrals have passed their answer date; the navigator has been told",
            links,
        )
        for link in links:
            link.lapse_notified_on = today
            _tell_navigator(
                link,
                AlertKind.ACTIVITY_NO_RESPONSE,
                f"{link.activity.organisation.name} has not answered the referral of "
                f"{link.person_name} to {link.activity.title} "
                f"(due {link.respond_by.strftime('%-d %B %Y')}).",
            )
        db.session.commit()
    return sum(map(len, due.values())), sum(map(len, lapsed.values()))


def _email_organisation(
    organisation: Organisation, subject: str, lead: str, links: list[ActivityReferral]
) -> None:
    lines = "\n".join(
        f"- {link.activity.title}: answer by {link.respond_by.strftime('%-d %B %Y')}"
        for link in links
    )
    address = url_for("directory.incoming_referrals", _external=True)
    for recipient in organisations.recipients(organisation):
        send_email(
            recipient,
            subject,
            f"Hello,\n\n{lead}:\n\n{lines}\n\nAnswer them here:\n{address}",
        )


def for_case(referral_id: int) -> list[ActivityReferral]:
    """Every activity this person was referred or signposted to, newest first, with who
    made and who answered each referral (the case's timeline names them)."""
    return list(
        db.session.scalars(
            sa.select(ActivityReferral)
            .options(
                joinedload(ActivityReferral.activity).joinedload(Activity.organisation),
                joinedload(ActivityReferral.attendance),
                joinedload(ActivityReferral.created_by),
                joinedload(ActivityReferral.responded_by),
            )
            .where(ActivityReferral.referral_id == referral_id)
            .order_by(ActivityReferral.created_at.desc(), ActivityReferral.id.desc())
        ).unique()
    )
