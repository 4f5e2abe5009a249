"""Voluntary organisations, the activities they run, and referrals of people to them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.referrals.models import Referral


class ActivityCategory(LabelledEnum):
    SOCIAL_CONNECTION = "social_connection", "Social connection"
    PHYSICAL_ACTIVITY = "physical_activity", "Physical activity"
    ARTS = "arts", "Arts and creativity"
    NATURE = "nature", "Nature and gardening"
    LEARNING = "learning", "Learning and skills"
    MONEY_ADVICE = "money_advice", "Money and advice"
    CARERS = "carers", "Carers' support"
    MENTAL_WELLBEING = "mental_wellbeing", "Mental wellbeing"
    FAITH_CULTURE = "faith_culture", "Faith and culture"
    DIGITAL_SKILLS = "digital_skills", "Digital skills"
    VOLUNTEERING = "volunteering", "Volunteering"


class Frequency(LabelledEnum):
    WEEKLY = "weekly", "Weekly"
    FORTNIGHTLY = "fortnightly", "Fortnightly"
    MONTHLY = "monthly", "Monthly"
    BY_ARRANGEMENT = "by_arrangement", "By arrangement"


class ActivityStatus(LabelledEnum):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


def new_uuid() -> str:
    return str(uuid.uuid4())


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable public id for the Open Referral UK API.
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(160), index=True)
    charity_number: Mapped[str | None] = mapped_column(sa.String(12))
    company_number: Mapped[str | None] = mapped_column(sa.String(10))
    description: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    website: Mapped[str | None] = mapped_column(sa.String(300))
    address: Mapped[str | None] = mapped_column(sa.Text)
    postcode: Mapped[str | None] = mapped_column(sa.String(8))
    # Activities appear publicly only once a coordinator has verified the organisation.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # use_alter breaks the users <-> organisations cycle when the schema is created.
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    activities: Mapped[list[Activity]] = relationship(
        back_populates="organisation", order_by="Activity.title"
    )

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Activity(db.Model):
    __tablename__ = "activities"
    __table_args__ = (
        sa.CheckConstraint(
            "end_time IS NULL OR start_time IS NULL OR end_time > start_time",
            name="ends_after_start",
        ),
        sa.CheckConstraint("cost_pence IS NULL OR cost_pence >= 0", name="cost_not_negative"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint(
            "spaces_available IS NULL OR spaces_available >= 0", name="spaces_not_negative"
        ),
        sa.CheckConstraint(
            "min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="age_range_ordered"
        ),
        sa.Index("ix_activities_status_org", "status", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(sa.String(160))
    description: Mapped[str | None] = mapped_column(sa.Text)
    categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    frequency: Mapped[Frequency] = mapped_column(enum_type(Frequency), default=Frequency.WEEKLY)
    # Weekday numbers, Monday = 0.
    days: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    venue_name: Mapped[str | None] = mapped_column(sa.String(160))
    venue_address: Mapped[str | None] = mapped_column(sa.Text)
    postcode: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    online: Mapped[bool] = mapped_column(default=False)
    # None or 0: free.
    cost_pence: Mapped[int | None]
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    eligibility: Mapped[str | None] = mapped_column(sa.Text)
    step_free: Mapped[bool] = mapped_column(default=False)
    hearing_loop: Mapped[bool] = mapped_column(default=False)
    accessible_toilet: Mapped[bool] = mapped_column(default=False)
    transport_offered: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int | None]
    spaces_available: Mapped[int | None]
    accepts_referrals: Mapped[bool] = mapped_column(default=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    status: Mapped[ActivityStatus] = mapped_column(
        enum_type(ActivityStatus), default=ActivityStatus.DRAFT
    )
    last_confirmed_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    organisation: Mapped[Organisation] = relationship(back_populates="activities")

    @property
    def is_free(self) -> bool:
        return not self.cost_pence


class ActivityReferralStatus(LabelledEnum):
    SUGGESTED = "suggested", "Suggested"
    SENT = "sent", "Sent to organisation"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    ATTENDED = "attended", "Attended"
    STOPPED = "stopped", "Stopped attending"
    SIGNPOSTED = "signposted", "Signposted"


class ActivityReferral(db.Model):
    __tablename__ = "activity_referrals"
    __table_args__ = (
        sa.CheckConstraint(
            "status != 'declined' OR decline_reason IS NOT NULL", name="declined_has_reason"
        ),
        sa.Index("ix_activity_referrals_activity_status", "activity_id", "status"),
        sa.Index("ix_activity_referrals_referral", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("activities.id"))
    status: Mapped[ActivityReferralStatus] = mapped_column(
        enum_type(ActivityReferralStatus), default=ActivityReferralStatus.SUGGESTED
    )
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    respond_by: Mapped[date | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[Referral] = relationship()
    activity: Mapped[Activity] = relationship()
    created_by: Mapped[User] = relationship()
