"""Voluntary organisations, the activities they run, and referrals of people to them."""

from __future__ import annotations

import re
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
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    # Activities appear publicly only once a coordinator has verified the organisation.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # use_alter breaks the users <-> organisations cycle when the schema is created.
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two members (or a member and the hub) editing the details at once: the second is
    # told, rather than silently overwriting the first.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    activities: Mapped[list[Activity]] = relationship(
        back_populates="organisation", order_by="Activity.title"
    )

    __mapper_args__ = {"version_id_col": version}

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
    # The first session: the anchor a fortnightly schedule counts from.
    starts_on: Mapped[date | None]
    # Monthly: which week of the month (1 to 4, or -1 for the last).
    monthly_week: Mapped[int | None]
    schedule_note: Mapped[str | None] = mapped_column(sa.String(200))
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
    # The day the organisation was last told this listing may be out of date.
    freshness_flagged_on: Mapped[date | None]
    # Derived from the fields above on every save (see _derive_search_columns), so the
    # directory filters are plain indexed comparisons on SQLite and PostgreSQL alike.
    days_mask: Mapped[int] = mapped_column(default=0)
    categories_mask: Mapped[int] = mapped_column(default=0)
    postcode_district: Mapped[str | None] = mapped_column(sa.String(4), index=True)
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    organisation: Mapped[Organisation] = relationship(back_populates="activities")

    @property
    def is_free(self) -> bool:
        return not self.cost_pence

    @property
    def category_labels(self) -> list[str]:
        return [ActivityCategory(c).label for c in self.categories or []]

    @property
    def is_full(self) -> bool:
        return self.spaces_available == 0


CATEGORY_BITS = {category.value: 1 << n for n, category in enumerate(ActivityCategory)}


def day_bit(weekday: int) -> int:
    return 1 << weekday


def postcode_district(postcode: str | None) -> str | None:
    """The outward code of a UK postcode: "CV2 4AB" gives "CV2"."""
    if not postcode:
        return None
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 4 else compact


def searchable_text(*parts: str | None) -> str:
    """Lower-case words separated by single spaces, punctuation dropped: what search matches."""
    return " ".join(re.sub(r"[\W_]+", " ", " ".join(p for p in parts if p)).lower().split())


@sa.event.listens_for(Activity, "before_insert")
@sa.event.listens_for(Activity, "before_update")
def _derive_search_columns(mapper, connection, activity: Activity) -> None:
    activity.days_mask = sum(day_bit(d) for d in set(activity.days or []))
    activity.categories_mask = sum(CATEGORY_BITS[c] for c in set(activity.categories or []))
    activity.postcode_district = postcode_district(activity.postcode)
    activity.search_text = searchable_text(
        activity.title,
        activity.description,
        activity.venue_name,
        activity.eligibility,
        " ".join(ActivityCategory(c).label for c in activity.categories or []),
    )


class ActivityReferralStatus(LabelledEnum):
    SUGGESTED = "suggested", "Suggested"
    SENT = "sent", "Sent to organisation"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    ATTENDED = "attended", "Attended"
    STOPPED = "stopped", "Stopped attending"
    SIGNPOSTED = "signposted", "Signposted"


# Statuses in which the organisation still owes an answer or the person may still go.
OPEN_ACTIVITY_REFERRAL = (
    ActivityReferralStatus.SENT,
    ActivityReferralStatus.ACCEPTED,
    ActivityReferralStatus.ATTENDED,
)


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
    # What the person agreed the organisation may see: a copy taken when the referral was
    # sent, so the organisation never reads the case itself.
    consent_confirmed: Mapped[bool] = mapped_column(default=False)
    # The person's full name: given and family names of up to 100 characters each.
    person_name: Mapped[str | None] = mapped_column(sa.String(201))
    shared_phone: Mapped[str | None] = mapped_column(sa.String(30))
    shared_email: Mapped[str | None] = mapped_column(sa.String(254))
    shared_age: Mapped[int | None]
    shared_note: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Each once only: the organisation's reminder, and the navigator's "no answer" alert.
    reminded_on: Mapped[date | None]
    lapse_notified_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[Referral] = relationship()
    activity: Mapped[Activity] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])
    attendance: Mapped[list[ActivityAttendance]] = relationship(
        back_populates="activity_referral", order_by="ActivityAttendance.session_on.desc()"
    )


class ActivityAttendance(db.Model):
    """One session: did the person come? Recorded by the organisation."""

    __tablename__ = "activity_attendance"
    __table_args__ = (
        sa.UniqueConstraint("activity_referral_id", "session_on", name="one_record_per_session"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_referral_id: Mapped[int] = mapped_column(sa.ForeignKey("activity_referrals.id"))
    session_on: Mapped[date]
    attended: Mapped[bool]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    activity_referral: Mapped[ActivityReferral] = relationship(back_populates="attendance")
    recorded_by: Mapped[User] = relationship()


class ActivityImport(db.Model):
    """A CSV file that passed every check, held until the coordinator confirms it."""

    __tablename__ = "activity_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    content: Mapped[str] = mapped_column(sa.Text)
    row_count: Mapped[int]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
