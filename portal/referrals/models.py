"""Neighbourhoods, practices, residents and referrals: the spine every other record hangs off."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User


class ReportFrequency(LabelledEnum):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class Neighbourhood(db.Model):
    """An Integrated Neighbourhood Team (INT) and the practices it serves."""

    __tablename__ = "neighbourhoods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))

    practices: Mapped[list[Practice]] = relationship(
        back_populates="neighbourhood", order_by="Practice.name"
    )


class Practice(db.Model):
    __tablename__ = "practices"
    __table_args__ = (
        sa.CheckConstraint("list_size IS NULL OR list_size >= 0", name="list_size_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ods_code: Mapped[str] = mapped_column(sa.String(10), unique=True)
    name: Mapped[str] = mapped_column(sa.String(160))
    neighbourhood_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbourhoods.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.Text)
    postcode: Mapped[str | None] = mapped_column(sa.String(8))
    # A secure (NHSmail) mailbox for outcome reports; None keeps reports in the portal inbox.
    report_mailbox: Mapped[str | None] = mapped_column(sa.String(254))
    report_frequency: Mapped[ReportFrequency] = mapped_column(
        enum_type(ReportFrequency), default=ReportFrequency.WEEKLY
    )
    notify_on_close: Mapped[bool] = mapped_column(default=False)
    list_size: Mapped[int | None]

    neighbourhood: Mapped[Neighbourhood] = relationship(back_populates="practices")


class PreferredContact(LabelledEnum):
    PHONE = "phone", "Phone call"
    TEXT = "text", "Text message"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"


def person_name(given_name: str, family_name: str) -> str:
    """A resident's name as every page writes it, for lists that read the two columns."""
    return f"{given_name} {family_name}"


class Resident(db.Model):
    """A person referred for support. Matched across referrals by NHS number."""

    __tablename__ = "residents"
    __table_args__ = (
        sa.CheckConstraint(
            "nhs_number IS NULL OR length(nhs_number) = 10", name="nhs_number_ten_digits"
        ),
        sa.Index("ix_residents_family_given", "family_name", "given_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique where present: several residents may have none (self-referrals).
    nhs_number: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    given_name: Mapped[str] = mapped_column(sa.String(100))
    family_name: Mapped[str] = mapped_column(sa.String(100))
    date_of_birth: Mapped[date | None]
    address: Mapped[str | None] = mapped_column(sa.Text)
    postcode: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    preferred_contact: Mapped[PreferredContact] = mapped_column(
        enum_type(PreferredContact), default=PreferredContact.PHONE
    )
    language: Mapped[str] = mapped_column(sa.String(60), default="English")
    interpreter_needed: Mapped[bool] = mapped_column(default=False)
    accessibility_needs: Mapped[str | None] = mapped_column(sa.Text)
    gender: Mapped[str | None] = mapped_column(sa.String(40))
    practice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("practices.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the retention job: what identified the person has been cleared.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice: Mapped[Practice | None] = relationship()
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="resident", order_by="Referral.received_at"
    )

    @property
    def full_name(self) -> str:
        return person_name(self.given_name, self.family_name)

    def age_on(self, day: date) -> int | None:
        """Whole years on that day; None when the date of birth is not known."""
        born = self.date_of_birth
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class ReferralSource(LabelledEnum):
    PRACTICE = "practice", "GP practice"
    SELF = "self", "Self-referral"
    PROFESSIONAL = "professional", "Other professional"


class ReferralReason(LabelledEnum):
    LONELINESS = "loneliness", "Loneliness or social isolation"
    LOW_MOOD = "low_mood", "Low mood"
    CARER_SUPPORT = "carer_support", "Carer support"
    BEREAVEMENT = "bereavement", "Bereavement"
    MONEY = "money", "Money and benefits"
    HOUSING = "housing", "Housing"
    PHYSICAL_ACTIVITY = "physical_activity", "Physical activity"
    LONG_TERM_CONDITION = "long_term_condition", "Long-term condition self-management"
    DIGITAL_INCLUSION = "digital_inclusion", "Digital inclusion"
    OTHER = "other", "Other"


class Urgency(LabelledEnum):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"


class ReferralStatus(LabelledEnum):
    RECEIVED = "received", "Received"
    CONTACTING = "contacting", "Contacting"
    TRIAGED = "triaged", "Triaged"
    ASSIGNED = "assigned", "Assigned"
    ACTIVE = "active", "Being supported"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (
    ReferralStatus.RECEIVED,
    ReferralStatus.CONTACTING,
    ReferralStatus.TRIAGED,
    ReferralStatus.ASSIGNED,
    ReferralStatus.ACTIVE,
)


class Route(LabelledEnum):
    SOCIAL_NAVIGATION = "social_navigation", "Social navigation"
    INT = "int", "Integrated Neighbourhood Team"
    BOTH = "both", "Social navigation and INT"
    SIGNPOST = "signpost", "Signpost only"
    NOT_APPROPRIATE = "not_appropriate", "Not appropriate"


class ClosureReason(LabelledEnum):
    GOALS_MET = "goals_met", "Goals met"
    CONNECTED = "connected", "Connected to activities"
    REFERRED_ON = "referred_on", "Referred on to another service"
    DECLINED = "declined", "Person declined further support"
    MOVED_AWAY = "moved_away", "Moved away"
    DIED = "died", "Died"
    UNABLE_TO_CONTACT = "unable_to_contact", "Unable to contact"
    NOT_APPROPRIATE = "not_appropriate", "Not appropriate"
    SIGNPOSTED = "signposted", "Signposted to other support"


class Referral(db.Model):
    """One request for support for one resident, from receipt to closure."""

    __tablename__ = "referrals"
    __table_args__ = (
        sa.CheckConstraint(
            "support_level IS NULL OR support_level BETWEEN 1 AND 3", name="support_level_1_to_3"
        ),
        sa.CheckConstraint("consent_given", name="consent_required"),
        sa.CheckConstraint(
            "status != 'closed' OR (closed_at IS NOT NULL AND closure_reason IS NOT NULL)",
            name="closed_has_reason",
        ),
        sa.CheckConstraint(
            "source != 'practice' OR practice_id IS NOT NULL", name="practice_source_has_practice"
        ),
        # The triage queue: open referrals, oldest first.
        sa.Index("ix_referrals_status_received", "status", "received_at"),
        # A navigator's caseload.
        sa.Index("ix_referrals_navigator_status", "navigator_id", "status"),
        # A practice's own referrals, newest first.
        sa.Index("ix_referrals_practice_received", "practice_id", "received_at"),
        # The dashboards count referrals received in a date range, at any practice.
        sa.Index("ix_referrals_received", "received_at"),
        # An Integrated Neighbourhood Team's list.
        sa.Index("ix_referrals_int_status", "int_neighbourhood_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The number a resident or practice quotes on the phone; never the NHS number.
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    source: Mapped[ReferralSource] = mapped_column(enum_type(ReferralSource))
    practice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("practices.id"))
    referred_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    referrer_name: Mapped[str | None] = mapped_column(sa.String(120))
    referrer_role: Mapped[str | None] = mapped_column(sa.String(120))
    details: Mapped[str | None] = mapped_column(sa.Text)
    known_risks: Mapped[str | None] = mapped_column(sa.Text)
    urgency: Mapped[Urgency] = mapped_column(enum_type(Urgency), default=Urgency.ROUTINE)

    consent_given: Mapped[bool]
    consent_share_with_gp: Mapped[bool] = mapped_column(default=True)
    consent_recorded_by: Mapped[str | None] = mapped_column(sa.String(120))
    consent_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The person has withdrawn consent to share: nothing more leaves the hub about them.
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_withdrawn_by: Mapped[str | None] = mapped_column(sa.String(120))

    status: Mapped[ReferralStatus] = mapped_column(
        enum_type(ReferralStatus), default=ReferralStatus.RECEIVED
    )
    route: Mapped[Route | None] = mapped_column(enum_type(Route))
    support_level: Mapped[int | None] = mapped_column(sa.SmallInteger)
    navigator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    preferred_buddy_gender: Mapped[str | None] = mapped_column(sa.String(40))
    # What matching weighs, recorded with the person: when they are free ("tue_morning"),
    # what they enjoy, the access features they need, and whether they would like a buddy.
    availability: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    access_needs: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    wants_buddy: Mapped[bool] = mapped_column(default=False)
    # Set when triage routes the referral to an INT: the team of the person's practice then.
    int_neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhoods.id"))
    int_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the route was chosen; required when the referral is not appropriate.
    triage_note: Mapped[str | None] = mapped_column(sa.Text)
    # When the navigator plans to contact the person next; the caseload sorts and flags on it.
    next_contact_on: Mapped[date | None]

    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closure_reason: Mapped[ClosureReason | None] = mapped_column(enum_type(ClosureReason))
    outcome_summary: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic locking: a save made from a stale copy fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    resident: Mapped[Resident] = relationship(back_populates="referrals")
    practice: Mapped[Practice | None] = relationship()
    navigator: Mapped[User | None] = relationship(foreign_keys=[navigator_id])
    referred_by: Mapped[User | None] = relationship(foreign_keys=[referred_by_id])
    int_neighbourhood: Mapped[Neighbourhood | None] = relationship()
    reasons: Mapped[list[ReferralReasonLink]] = relationship(
        back_populates="referral", cascade="all, delete-orphan"
    )
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral",
        order_by="(ReferralEvent.at, ReferralEvent.id)",
        cascade="all, delete-orphan",
    )

    @property
    def reason_codes(self) -> list[ReferralReason]:
        return [link.reason for link in self.reasons]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def consent_withdrawn(self) -> bool:
        return self.consent_withdrawn_at is not None


class ReferralReasonLink(db.Model):
    """One coded reason on a referral; a table rather than a list so triage can filter on it."""

    __tablename__ = "referral_reasons"
    __table_args__ = (sa.Index("ix_referral_reasons_reason", "reason", "referral_id"),)

    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[ReferralReason] = mapped_column(enum_type(ReferralReason), primary_key=True)

    referral: Mapped[Referral] = relationship(back_populates="reasons")


class ReferralAction(LabelledEnum):
    """Everything that can happen to a referral; each is one row in its history."""

    RECEIVED = "received", "Referral received"
    CONTACT_ATTEMPT = "contact_attempt", "Contact attempt recorded"
    TRIAGED = "triaged", "Triage decision recorded"
    SENT_TO_INT = "sent_to_int", "Sent to the Integrated Neighbourhood Team"
    ASSIGNED = "assigned", "Navigator assigned"
    ACTIVATED = "activated", "Support started"
    CLOSED = "closed", "Referral closed"
    EDITED = "edited", "Referral details changed"
    INFORMATION_ADDED = "information_added", "Information added by the practice"
    NOTE = "note", "Note for the hub"
    CONTACT_EDITED = "contact_edited", "Contact record corrected"
    GOAL_CHANGED = "goal_changed", "Goal updated"
    REOPENED = "reopened", "Case reopened"
    CONSENT_WITHDRAWN = "consent_withdrawn", "Consent to share withdrawn"


class ReferralEvent(db.Model):
    """One timestamped, attributed step in a referral's life: its history, append-only."""

    __tablename__ = "referral_events"
    __table_args__ = (sa.Index("ix_referral_events_referral_at", "referral_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"))
    action: Mapped[ReferralAction] = mapped_column(enum_type(ReferralAction))
    from_status: Mapped[ReferralStatus | None] = mapped_column(
        enum_type(ReferralStatus, name="from_status")
    )
    to_status: Mapped[ReferralStatus | None] = mapped_column(
        enum_type(ReferralStatus, name="to_status")
    )
    # Null for the public self-referral form, which nobody is signed in to.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(160))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(sa.Text)
    # For edits: {field label: [before, after]}, so a conflicting save can say what changed.
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    # The referral's version once this step was saved.
    version: Mapped[int | None]

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
