"""Outcome reports sent back to referring GP practices."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db
from portal.referrals.models import Practice


class DeliveryStatus(LabelledEnum):
    CLAIMED = "claimed", "Claimed, not yet sent"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    INBOX_ONLY = "inbox_only", "In the portal inbox only"


class OutcomeReport(db.Model):
    """One practice's report for one period, claimed by insert so it is delivered once."""

    __tablename__ = "outcome_reports"
    __table_args__ = (
        # The claim: a second run for the same practice and period fails to insert.
        sa.UniqueConstraint(
            "practice_id", "period_start", "period_end", name="uq_outcome_reports_practice_period"
        ),
        sa.CheckConstraint("period_end >= period_start", name="period_ordered"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_outcome_reports_status", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    referral_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    content_html: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.CLAIMED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice: Mapped[Practice] = relationship()


class QueuedOutcome(db.Model):
    """A closed case waiting for its practice's next outcome report."""

    __tablename__ = "queued_outcomes"
    __table_args__ = (sa.Index("ix_queued_outcomes_practice_report", "practice_id", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id"))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a report carries it; until then the case is waiting.
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outcome_reports.id"))

    practice: Mapped[Practice] = relationship()
    report: Mapped[OutcomeReport | None] = relationship()
