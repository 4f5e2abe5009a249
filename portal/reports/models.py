"""Outcome reports sent back to referring GP practices, and the queue that feeds them."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.models import User
from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db
from portal.referrals.models import Practice, Referral


class ReportKind(LabelledEnum):
    SCHEDULED = "scheduled", "Scheduled report"
    MANUAL = "manual", "Sent by hand"
    NOTICE = "notice", "Notice of a closed case"


class DeliveryStatus(LabelledEnum):
    CLAIMED = "claimed", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed, will try again"
    FAILED = "failed", "Failed"
    INBOX_ONLY = "inbox_only", "In the portal inbox only"
    EMPTY = "empty", "Nothing to report"


# Statuses the delivery job may pick up and try to send.
WAITING = (DeliveryStatus.CLAIMED, DeliveryStatus.RETRYING)


class ReportEvent(LabelledEnum):
    """The changes a practice is told about: the PRSB 'message back to GP' moments."""

    ACCEPTED = "accepted", "Accepted for support"
    CLOSED = "closed", "Support ended"


class OutcomeReport(db.Model):
    """One delivery to a practice: a period's report, or a notice about one person.

    The claim is the INSERT: `claim_key` names the practice and period (or, for a notice,
    the queued outcome), so a second scheduler, a restart or a re-run fails to insert
    and sends nothing. The content is kept as it was at the claim, so the letter, the
    inbox, the CSV and the JSON always say the same thing.
    """

    __tablename__ = "outcome_reports"
    __table_args__ = (
        sa.CheckConstraint("period_end >= period_start", name="period_ordered"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_outcome_reports_status", "status", "next_attempt_at"),
        sa.Index("ix_outcome_reports_practice", "practice_id", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[ReportKind] = mapped_column(enum_type(ReportKind), default=ReportKind.SCHEDULED)
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    referral_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    # One summary per person, in the structure documented in the README. Deferred: lists
    # and logs need only the count, and a big practice's summaries run to megabytes.
    summaries: Mapped[list[dict]] = mapped_column(sa.JSON, default=list, deferred=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.CLAIMED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(sa.String(160), default="scheduler")
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_to: Mapped[str | None] = mapped_column(sa.String(254))
    # The same Message-ID on every attempt, so a mail system can drop a repeat.
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    practice: Mapped[Practice] = relationship()
    read_by: Mapped[User | None] = relationship()
    attempts_log: Mapped[list[ReportAttempt]] = relationship(
        back_populates="report", order_by="ReportAttempt.id", cascade="all, delete-orphan"
    )

    @property
    def people(self) -> int:
        """One section per person, so the count is the number of referrals carried."""
        return len(self.referral_ids or [])


class ReportAttempt(db.Model):
    """One try at delivering a report: the delivery log admins read."""

    __tablename__ = "report_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("outcome_reports.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[DeliveryStatus] = mapped_column(enum_type(DeliveryStatus))
    sent_to: Mapped[str | None] = mapped_column(sa.String(254))
    error: Mapped[str | None] = mapped_column(sa.Text)
    by: Mapped[str] = mapped_column(sa.String(160))

    report: Mapped[OutcomeReport] = relationship(back_populates="attempts_log")


class QueuedOutcome(db.Model):
    """A change to a referral waiting for its practice's next outcome report."""

    __tablename__ = "queued_outcomes"
    __table_args__ = (sa.Index("ix_queued_outcomes_practice_report", "practice_id", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id"))
    event: Mapped[ReportEvent] = mapped_column(enum_type(ReportEvent), default=ReportEvent.CLOSED)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a report carries it; until then the change is waiting.
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outcome_reports.id"))

    referral: Mapped[Referral] = relationship()
    practice: Mapped[Practice] = relationship()
    report: Mapped[OutcomeReport | None] = relationship()
