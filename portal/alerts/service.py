"""Raising and reading alerts. Callers add to the session and commit with their own change."""

from __future__ import annotations

import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import Referral


def notify(user_id: int, referral: Referral | None, kind: AlertKind, message: str) -> Alert:
    alert = Alert(
        user_id=user_id,
        referral_id=referral.id if referral else None,
        kind=kind,
        message=message[:300],
    )
    db.session.add(alert)
    return alert


def notify_coordinators(referral: Referral | None, kind: AlertKind, message: str) -> list[Alert]:
    """Every active coordinator: a safeguarding concern must not wait for one person's return."""
    coordinators = db.session.scalars(
        sa.select(User.id).where(User.role == Role.COORDINATOR, User.is_active.is_(True))
    )
    return [notify(user_id, referral, kind, message) for user_id in coordinators]


# Built once: the header counts these on every page.
_UNREAD = (
    sa.select(sa.func.count())
    .select_from(Alert)
    .where(Alert.user_id == sa.bindparam("user_id"), Alert.read_at.is_(None))
)


def unread_count(user_id: int) -> int:
    return db.session.execute(_UNREAD, {"user_id": user_id}).scalar()


def unread_for_case(user_id: int, referral_id: int) -> list[Alert]:
    return list(
        db.session.scalars(
            sa.select(Alert)
            .where(
                Alert.user_id == user_id,
                Alert.referral_id == referral_id,
                Alert.read_at.is_(None),
            )
            .order_by(Alert.created_at, Alert.id)
        )
    )


def mark_read(user_id: int, *, referral_id: int | None = None, alert_id: int | None = None) -> int:
    """Mark this user's unread alerts read (all, one case's, or one); returns how many."""
    where = [Alert.user_id == user_id, Alert.read_at.is_(None)]
    if referral_id is not None:
        where.append(Alert.referral_id == referral_id)
    if alert_id is not None:
        where.append(Alert.id == alert_id)
    result = db.session.execute(sa.update(Alert).where(*where).values(read_at=utcnow()))
    return result.rowcount
