"""Volunteers, their vetting and training, and the buddy matches they take on."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.referrals.models import Referral


class VolunteerStatus(LabelledEnum):
    APPLIED = "applied", "Applied"
    VETTING = "vetting", "Vetting"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    LEFT = "left", "Left"


class LeftReason(LabelledEnum):
    MOVED = "moved", "Moved away"
    NO_LONGER_AVAILABLE = "no_longer_available", "No longer available"
    WORK_OR_STUDY = "work_or_study", "Started work or study"
    CARING = "caring", "Caring responsibilities"
    HEALTH = "health", "Health reasons"
    NOT_SUITABLE = "not_suitable", "Not suitable after vetting"
    DISMISSED = "dismissed", "Dismissed"
    OTHER = "other", "Other reason"


class VolunteerRole(LabelledEnum):
    """What a volunteer does; the training and DBS each role needs follow from it."""

    BUDDY = "buddy", "Buddy"
    NAVIGATOR = "navigator", "Volunteer navigator"
    BEFRIENDER = "befriender", "Telephone befriender"


class DbsLevel(LabelledEnum):
    BASIC = "basic", "Basic"
    STANDARD = "standard", "Standard"
    ENHANCED = "enhanced", "Enhanced"


class Volunteer(db.Model):
    __tablename__ = "volunteers"
    __table_args__ = (
        sa.CheckConstraint("max_buddies >= 0", name="max_buddies_not_negative"),
        sa.CheckConstraint("status != 'left' OR left_reason IS NOT NULL", name="left_has_reason"),
        sa.CheckConstraint(
            "dbs_level IS NULL OR dbs_issue_date IS NOT NULL", name="dbs_has_issue_date"
        ),
        sa.Index("ix_volunteers_status_applied", "status", "applied_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    status: Mapped[VolunteerStatus] = mapped_column(
        enum_type(VolunteerStatus), default=VolunteerStatus.APPLIED
    )
    left_reason: Mapped[LeftReason | None] = mapped_column(enum_type(LeftReason))
    # Why the volunteer paused or left, in the coordinator's words.
    status_note: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    role_buddy: Mapped[bool] = mapped_column(default=False)
    role_navigator: Mapped[bool] = mapped_column(default=False)
    role_befriender: Mapped[bool] = mapped_column(default=False)
    postcode: Mapped[str | None] = mapped_column(sa.String(8))
    gender: Mapped[str | None] = mapped_column(sa.String(40))
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Slots such as "mon_morning", "thu_evening".
    availability: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    transport: Mapped[str | None] = mapped_column(sa.String(120))
    max_buddies: Mapped[int] = mapped_column(default=2)
    motivation: Mapped[str | None] = mapped_column(sa.Text)
    privacy_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    references_requested_on: Mapped[date | None]
    referee_1_name: Mapped[str | None] = mapped_column(sa.String(120))
    referee_1_contact: Mapped[str | None] = mapped_column(sa.String(254))
    referee_1_received_on: Mapped[date | None]
    referee_2_name: Mapped[str | None] = mapped_column(sa.String(120))
    referee_2_contact: Mapped[str | None] = mapped_column(sa.String(254))
    referee_2_received_on: Mapped[date | None]

    dbs_level: Mapped[DbsLevel | None] = mapped_column(enum_type(DbsLevel))
    dbs_certificate_number: Mapped[str | None] = mapped_column(sa.String(12))
    dbs_issue_date: Mapped[date | None]
    dbs_update_service: Mapped[bool] = mapped_column(default=False)
    dbs_checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    dbs_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)
    # When the retention job cleared what identified them, some years after they left.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    dbs_checked_by: Mapped[User | None] = relationship(foreign_keys=[dbs_checked_by_id])
    training_records: Mapped[list[TrainingRecord]] = relationship(
        back_populates="volunteer", order_by="TrainingRecord.completed_on"
    )

    @property
    def roles(self) -> list[VolunteerRole]:
        flags = (
            (VolunteerRole.BUDDY, self.role_buddy),
            (VolunteerRole.NAVIGATOR, self.role_navigator),
            (VolunteerRole.BEFRIENDER, self.role_befriender),
        )
        return [role for role, held in flags if held]

    @property
    def joined_portal_on(self) -> date:
        """The day the volunteer applied: nothing about them can be dated before it."""
        return self.applied_at.astimezone(ZoneInfo("Europe/London")).date()


class TrainingModule(db.Model):
    """A course volunteers take; which roles need it and how long it stays valid."""

    __tablename__ = "training_modules"
    __table_args__ = (
        sa.CheckConstraint(
            "valid_for_months IS NULL OR valid_for_months > 0", name="validity_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # None: never expires.
    valid_for_months: Mapped[int | None]
    required_for_buddy: Mapped[bool] = mapped_column(default=False)
    required_for_navigator: Mapped[bool] = mapped_column(default=False)
    required_for_befriender: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    def required_for(self, role: VolunteerRole) -> bool:
        return {
            VolunteerRole.BUDDY: self.required_for_buddy,
            VolunteerRole.NAVIGATOR: self.required_for_navigator,
            VolunteerRole.BEFRIENDER: self.required_for_befriender,
        }[role]


class TrainingRecord(db.Model):
    __tablename__ = "training_records"
    __table_args__ = (
        sa.Index("ix_training_records_volunteer_module", "volunteer_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"))
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("training_modules.id"))
    completed_on: Mapped[date]
    trainer: Mapped[str | None] = mapped_column(sa.String(120))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer: Mapped[Volunteer] = relationship(back_populates="training_records")
    module: Mapped[TrainingModule] = relationship()


class BuddyMatchStatus(LabelledEnum):
    PROPOSED = "proposed", "Proposed"
    DECLINED = "declined", "Declined by volunteer"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class BuddyMatch(db.Model):
    __tablename__ = "buddy_matches"
    __table_args__ = (
        sa.CheckConstraint("status != 'ended' OR ended_at IS NOT NULL", name="ended_has_date"),
        sa.Index("ix_buddy_matches_volunteer_status", "volunteer_id", "status"),
        sa.Index("ix_buddy_matches_referral", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"))
    status: Mapped[BuddyMatchStatus] = mapped_column(
        enum_type(BuddyMatchStatus), default=BuddyMatchStatus.PROPOSED
    )
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    decline_reason: Mapped[str | None] = mapped_column(sa.String(500))
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Set by the volunteer when they log a contact; shown to them and the navigator.
    next_meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[Referral] = relationship()
    volunteer: Mapped[Volunteer] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])

    @property
    def is_current(self) -> bool:
        return self.status in (BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE)


class HoursKind(LabelledEnum):
    """Volunteering time other than contacts with the people they buddy."""

    TRAINING = "training", "Training"
    TRAVEL = "travel", "Travel"
    ADMIN = "admin", "Admin and paperwork"
    SUPERVISION = "supervision", "Supervision or team meeting"
    EVENT = "event", "Event or drop-in"
    OTHER = "other", "Other"


MINUTES_IN_A_DAY = 24 * 60


class VolunteerHours(db.Model):
    """Time a volunteer gave that is not a contact with a person: training, travel, admin."""

    __tablename__ = "volunteer_hours"
    __table_args__ = (
        sa.CheckConstraint(
            f"minutes BETWEEN 1 AND {MINUTES_IN_A_DAY}", name="minutes_within_a_day"
        ),
        sa.Index("ix_volunteer_hours_volunteer_day", "volunteer_id", "worked_on"),
        # With who and how long, hours by month are read from this index alone.
        sa.Index("ix_volunteer_hours_day", "worked_on", "volunteer_id", "minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"))
    worked_on: Mapped[date]
    kind: Mapped[HoursKind] = mapped_column(enum_type(HoursKind))
    minutes: Mapped[int]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer: Mapped[Volunteer] = relationship()


class ReminderSent(db.Model):
    """One expiry reminder emailed: the unique key is what makes each threshold once only."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        sa.UniqueConstraint(
            "volunteer_id", "subject", "expires_on", "threshold_days", name="uq_reminder_once"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    # "dbs", or "training:<module id>".
    subject: Mapped[str] = mapped_column(sa.String(40))
    expires_on: Mapped[date]
    # 60, 30 or 7 days before, or 0 once it has expired.
    threshold_days: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
