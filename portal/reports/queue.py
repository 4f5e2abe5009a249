"""The queue between a change to a referral and its practice's next outcome report."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.referrals.models import Referral
from portal.reports.models import QueuedOutcome, ReportEvent


def practice_to_tell(referral: Referral) -> int | None:
    """The referring practice, or failing that the person's own registered practice."""
    if referral.practice_id is not None:
        return referral.practice_id
    return referral.resident.practice_id if referral.resident else None


def queue_outcome(
    referral: Referral, event: ReportEvent = ReportEvent.CLOSED
) -> QueuedOutcome | None:
    """Put a change in its practice's next report; None when no practice is known.

    A closure the practice asked to hear about at once also gets a notice of its own.
    """
    practice_id = practice_to_tell(referral)
    if practice_id is None:
        return None
    queued = QueuedOutcome(referral_id=referral.id, practice_id=practice_id, event=event)
    db.session.add(queued)
    if event == ReportEvent.CLOSED:
        db.session.flush()
        if queued.practice.notify_on_close:
            from portal.reports.delivery import claim_notice

            claim_notice(queued)
    return queued


def withdraw_unsent(referral: Referral) -> int:
    """A reopened case is not over: take its closure out of any report not yet sent."""
    from portal.reports.delivery import cancel_notices

    unsent = [
        QueuedOutcome.referral_id == referral.id,
        QueuedOutcome.report_id.is_(None),
        QueuedOutcome.event == ReportEvent.CLOSED,
    ]
    ids = list(db.session.scalars(sa.select(QueuedOutcome.id).where(*unsent)))
    cancel_notices(ids)
    result = db.session.execute(sa.delete(QueuedOutcome).where(*unsent))
    return result.rowcount


def latest_for(referral_id: int) -> QueuedOutcome | None:
    return db.session.scalar(
        sa.select(QueuedOutcome)
        .where(QueuedOutcome.referral_id == referral_id, QueuedOutcome.event == ReportEvent.CLOSED)
        .order_by(QueuedOutcome.queued_at.desc(), QueuedOutcome.id.desc())
        .limit(1)
    )
