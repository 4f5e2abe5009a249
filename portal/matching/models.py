"""What matching keeps: where postcode districts are, the admin's weights, and decisions taken."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.referrals.models import Referral

MAX_WEIGHT = 10


class PostcodeDistrict(db.Model):
    """The centroid of one postcode district (outward code), for "about how far"."""

    __tablename__ = "postcode_districts"

    outcode: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    # How many live postcodes the centroid averages, when it came from the ONS directory.
    postcodes: Mapped[int | None]
    source: Mapped[str] = mapped_column(sa.String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MatchingWeight(db.Model):
    """How much one soft factor counts; a factor without a row uses its default."""

    __tablename__ = "matching_weights"
    __table_args__ = (
        sa.CheckConstraint(f"weight >= 0 AND weight <= {MAX_WEIGHT}", name="weight_in_range"),
    )

    factor: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    weight: Mapped[float] = mapped_column(sa.Float)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MatchKind(LabelledEnum):
    NAVIGATOR = "navigator", "Navigator"
    BUDDY = "buddy", "Buddy"
    ACTIVITY = "activity", "Activity"


class MatchDecision(db.Model):
    """A navigator, buddy or activity chosen for a person, with where the ranking put it.

    Kept so the hub can see how often the top suggestion was the one chosen, and why
    each choice looked right at the time.
    """

    __tablename__ = "match_decisions"
    __table_args__ = (
        sa.CheckConstraint("rank IS NULL OR rank >= 1", name="rank_from_one"),
        sa.Index("ix_match_decisions_kind_chosen", "kind", "chosen_at"),
        sa.Index("ix_match_decisions_referral", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"))
    kind: Mapped[MatchKind] = mapped_column(enum_type(MatchKind))
    # A user id (navigator), volunteer id (buddy) or activity id, by kind.
    candidate_id: Mapped[int]
    candidate_name: Mapped[str] = mapped_column(sa.String(200))
    # 1 is the top suggestion; None when the choice was not among those ranked.
    rank: Mapped[int | None]
    score: Mapped[float | None] = mapped_column(sa.Float)
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    top_candidate_id: Mapped[int | None]
    top_score: Mapped[float | None] = mapped_column(sa.Float)
    eligible_count: Mapped[int] = mapped_column(default=0)
    # Chosen with the suggestion panel's button, rather than from the plain list.
    from_suggestions: Mapped[bool] = mapped_column(default=False)
    chosen_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship()
    chosen_by: Mapped[User] = relationship()
