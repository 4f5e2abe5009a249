"""The queue between a closed case and its practice's next outcome report."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.referrals.models import Referral
from portal.reports.models import QueuedOutcome


def practice_to_tell(referral: Referral) -> int | None:
    """The referring practice, or failing that the person's own registered practice."""
    if referral.practice_id is not None:
        return referral.practice_id
    return referral.resident.practice_id if referral.resident else None


def queue_outcome(referral: Referral) -> QueuedOutcome | None:
    """Put a closed case in its practice's next report; None when no practice is known."""
    practice_id = practice_to_tell(referral)
    if practice_id is None:
        return None
    queued = QueuedOutcome(referral_id=referral.id, practice_id=practice_id)
    db.session.add(queued)
    return queued


def withdraw_unsent(referral: Referral) -> int:
    """A reopened case is not over: take it out of any report not yet sent."""
    result = db.session.execute(
        sa.delete(QueuedOutcome).where(
            QueuedOutcome.referral_id == referral.id, QueuedOutcome.report_id.is_(None)
        )
    )
    return result.rowcount


def latest_for(referral_id: int) -> QueuedOutcome | None:
    return db.session.scalar(
        sa.select(QueuedOutcome)
        .where(QueuedOutcome.referral_id == referral_id)
        .order_by(QueuedOutcome.queued_at.desc(), QueuedOutcome.id.desc())
        .limit(1)
    )
