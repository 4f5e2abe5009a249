"""Alerts shown inside the portal, one row per person told."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.referrals.models import Referral


class AlertKind(LabelledEnum):
    CASE_ASSIGNED = "case_assigned", "Case assigned to you"
    CASE_REOPENED = "case_reopened", "Case reopened"
    CONCERN_RAISED = "concern_raised", "Safeguarding concern raised"
    BUDDY_CONCERN = "buddy_concern", "A buddy raised a concern"
    BUDDY_RESPONSE = "buddy_response", "A volunteer answered a buddy proposal"
    ACTIVITY_DECLINED = "activity_declined", "An organisation declined a referral"
    ACTIVITY_RESPONSE = "activity_response", "An organisation answered a referral"
    ACTIVITY_NO_RESPONSE = "activity_no_response", "An organisation has not answered in time"
    ORGANISATION_REGISTERED = "organisation_registered", "An organisation registered"


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        # Unread alerts per user, and per user per case (the caseload's badge).
        sa.Index("ix_alerts_user_unread", "user_id", "read_at", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    referral_id: Mapped[int | None] = mapped_column(sa.ForeignKey("referrals.id"))
    kind: Mapped[AlertKind] = mapped_column(enum_type(AlertKind))
    message: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    referral: Mapped[Referral | None] = relationship()
