"""Stored answers to wellbeing measures. Wording and scoring live in plain code beside this."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User


class Scale(LabelledEnum):
    ONS4 = "ons4", "ONS4 personal wellbeing"
    SWEMWBS = "swemwbs", "Short Warwick-Edinburgh Mental Wellbeing Scale"
    UCLA3 = "ucla3", "UCLA 3-item loneliness scale"


class Stage(LabelledEnum):
    BASELINE = "baseline", "Baseline"
    REVIEW = "review", "Review"
    CLOSING = "closing", "Closing"


class MeasureResponse(db.Model):
    __tablename__ = "measure_responses"
    __table_args__ = (
        sa.CheckConstraint("declined OR answers IS NOT NULL", name="answers_unless_declined"),
        # recorded_at last, so the first and last sitting of a stage come straight from it.
        sa.Index(
            "ix_measure_responses_referral_scale", "referral_id", "scale", "stage", "recorded_at"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    scale: Mapped[Scale] = mapped_column(enum_type(Scale))
    stage: Mapped[Stage] = mapped_column(enum_type(Stage))
    # Item answers in item order, e.g. [7, 6, 8, 3] for ONS4.
    answers: Mapped[list[int] | None] = mapped_column(sa.JSON)
    # The scale's score (SWEMWBS metric, UCLA-3 total); ONS4 is never summed, so None.
    score: Mapped[float | None]
    # The person chose not to answer; recorded so a missing measure is explained.
    declined: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recorded_by: Mapped[User] = relationship()
