"""What happens while a referral is being worked: contacts and the person's own goals."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.referrals.models import Referral


class ContactMethod(LabelledEnum):
    PHONE = "phone", "Phone"
    HOME_VISIT = "home_visit", "Home visit"
    VIDEO = "video", "Video call"
    VENUE = "venue", "Meeting at a venue"
    ACCOMPANIED = "accompanied", "Accompanied to an activity"
    LETTER = "letter", "Letter"
    TEXT = "text", "Text message"
    EMAIL = "email", "Email"


MAX_CONTACT_MINUTES = 12 * 60


class ContactResult(LabelledEnum):
    """What came of a contact; the first one is the only success."""

    SPOKE = "spoke", "Spoke to the person"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    WRONG_DETAILS = "wrong_details", "Number or address not right"
    MESSAGE_SENT = "message_sent", "Letter, text or email sent"

    @property
    def successful(self) -> bool:
        return self is ContactResult.SPOKE


class Contact(db.Model):
    """A contact with the person, or an attempt at one, by a navigator, coordinator or volunteer."""

    __tablename__ = "contacts"
    __table_args__ = (
        sa.CheckConstraint(
            f"duration_minutes IS NULL OR duration_minutes BETWEEN 0 AND {MAX_CONTACT_MINUTES}",
            name="duration_in_range",
        ),
        sa.CheckConstraint(
            "NOT concern_raised OR safeguarding_note IS NOT NULL", name="concern_has_note"
        ),
        sa.Index("ix_contacts_referral_occurred", "referral_id", "occurred_at"),
        # "Has this person had a successful contact since ...?" answered from the index alone.
        sa.Index("ix_contacts_referral_successful", "referral_id", "successful", "occurred_at"),
        # With the minutes, volunteers' time by month is read from this index alone.
        sa.Index("ix_contacts_author_occurred", "author_id", "occurred_at", "duration_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[ContactMethod] = mapped_column(enum_type(ContactMethod))
    duration_minutes: Mapped[int | None]
    successful: Mapped[bool]
    result: Mapped[ContactResult | None] = mapped_column(enum_type(ContactResult))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    concern_raised: Mapped[bool] = mapped_column(default=False)
    safeguarding_note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[Referral] = relationship()
    author: Mapped[User] = relationship()


class GoalStatus(LabelledEnum):
    OPEN = "open", "Open"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "No longer relevant"


class Goal(db.Model):
    """What matters to the person, in their own words."""

    __tablename__ = "goals"
    __table_args__ = (
        sa.CheckConstraint("status = 'open' OR closed_on IS NOT NULL", name="closed_goal_has_date"),
        sa.Index("ix_goals_referral_status", "referral_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[GoalStatus] = mapped_column(enum_type(GoalStatus), default=GoalStatus.OPEN)
    set_on: Mapped[date] = mapped_column(default=date.today)
    closed_on: Mapped[date | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[Referral] = relationship()
    created_by: Mapped[User] = relationship()
