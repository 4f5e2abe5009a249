"""An activity's life as a listing: draft, published, paused, archived; and staying fresh."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import joinedload

from portal.directory import organisations
from portal.directory.models import Activity, ActivityStatus, Organisation
from portal.extensions import db
from portal.mail import send_email
from portal.referrals.workflow import TransitionRefused

S = ActivityStatus
NEXT_STATUS: dict[ActivityStatus, tuple[ActivityStatus, ...]] = {
    S.DRAFT: (S.PUBLISHED, S.ARCHIVED),
    S.PUBLISHED: (S.PAUSED, S.ARCHIVED),
    S.PAUSED: (S.PUBLISHED, S.ARCHIVED),
    S.ARCHIVED: (S.DRAFT,),
}
ACTION_LABELS = {
    S.PUBLISHED: "Publish",
    S.PAUSED: "Pause",
    S.ARCHIVED: "Archive",
    S.DRAFT: "Bring back as a draft",
}


def change_status(activity: Activity, new: ActivityStatus, today: date) -> None:
    if new not in NEXT_STATUS[activity.status]:
        raise TransitionRefused(
            f"A {activity.status.label.lower()} activity cannot be changed to {new.label.lower()}.",
            "status",
        )
    if new == S.PUBLISHED and not activity.organisation.is_verified:
        raise TransitionRefused(
            "Your organisation has not been verified by the hub yet, so its activities "
            "cannot be published. You can keep this one as a draft until then.",
            "status",
        )
    activity.status = new
    if new == S.PUBLISHED:
        confirm(activity, today)


def confirm(activity: Activity, today: date) -> None:
    """The organisation says the listing is still right: it is fresh again."""
    activity.last_confirmed_on = today
    activity.freshness_flagged_on = None


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def stale_before(today: date) -> date:
    """Listings last confirmed before this day may be out of date."""
    return months_before(today, current_app.config["ACTIVITY_FRESHNESS_MONTHS"])


def confirmed_on(activity: Activity) -> date:
    return activity.last_confirmed_on or activity.created_at.date()


def is_stale(activity: Activity, today: date) -> bool:
    return confirmed_on(activity) < stale_before(today)


def stale_condition(today: date):
    """SQL for "may be out of date", matching is_stale."""
    cutoff = stale_before(today)
    return sa.or_(
        Activity.last_confirmed_on < cutoff,
        sa.and_(
            Activity.last_confirmed_on.is_(None),
            Activity.created_at < datetime.combine(cutoff, time.min, tzinfo=UTC),
        ),
    )


def flag_stale_activities(today: date) -> int:
    """Tell each organisation, once per listing, which published activities need checking.

    A listing is flagged again only after it has been confirmed and gone stale again,
    because confirming clears the flag.
    """
    stale = list(
        db.session.scalars(
            sa.select(Activity)
            .options(joinedload(Activity.organisation))
            .where(
                Activity.status == S.PUBLISHED,
                Activity.freshness_flagged_on.is_(None),
                stale_condition(today),
            )
            .order_by(Activity.organisation_id, Activity.title)
        )
    )
    by_organisation: dict[int, list[Activity]] = {}
    for activity in stale:
        by_organisation.setdefault(activity.organisation_id, []).append(activity)
    for activities in by_organisation.values():
        _send_freshness_email(activities[0].organisation, activities)
        for activity in activities:
            activity.freshness_flagged_on = today
        # Committed per organisation, so a later failure never repeats an email already sent.
        db.session.commit()
    return len(stale)


def _send_freshness_email(organisation: Organisation, activities: list[Activity]) -> None:
    hub = current_app.config["HUB_NAME"]
    months = current_app.config["ACTIVITY_FRESHNESS_MONTHS"]
    titles = "\n".join(f"- {a.title}" for a in activities)
    link = url_for("directory.my_organisation", _external=True)
    for address in organisations.recipients(organisation):
        send_email(
            address,
            "Please check your activity listings",
            f"Hello,\n\nThese listings of {organisation.name} in the {hub} directory have not "
            f"been checked for {months} months, so the directory now marks them as "
            f'"may be out of date":\n\n{titles}\n\nPlease check each one, then press '
            f'"These details are still right" or update it:\n{link}',
        )
