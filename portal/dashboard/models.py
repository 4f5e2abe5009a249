"""What the dashboards read instead of the case records, so a year's figures stay fast.

Working days, the first baseline and last closing answers and whether a person engaged
take joins over contacts and measures to work out; doing that for 40,000 referrals on
every page view is what made the commissioner dashboard slow.

- `ReferralFacts`: those answers, one row per referral.
- `ActivityReferralFacts`: each activity referral sent for a person, with the date and
  practice of their referral and the activity's organisation and kinds.
- `referral_months`: the referral facts added up by UK month received, practice and
  source. A range of whole months reads a few hundred of these rows; only the days of a
  month the range covers in part are added up from `ReferralFacts`.
- `VolunteerTimeMonth`: minutes volunteers gave in each UK month (contacts they logged
  and other hours) and how many gave any, for the volunteer time figures;
  `StaleVolunteerMonth` lists the months changed since they were added up.
- `StaleReferral`: referrals changed since their facts were worked out. It is written in
  the same transaction as the change, and the dashboards bring those referrals (and
  their months) up to date before they read. See `portal.dashboard.facts`.
- `FiguresVersion`: a token that changes with the facts and with the few other tables the
  commissioner figures read, so each worker can keep the figures it worked out.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db_types import UTCDateTime, enum_type, utcnow
from portal.extensions import db
from portal.referrals.models import ReferralReason, ReferralSource

# The wellbeing changes counted per person: SWEMWBS, UCLA-3 and each ONS4 question.
CHANGE_KEYS = ("swemwbs", "ucla3", "ons4_1", "ons4_2", "ons4_3", "ons4_4")
# What `referral_months` adds up, per month, practice and source. For each change key:
# people with both sittings, the total of (closing - baseline), and how many went up
# and down.
MONTH_COUNTS = (
    "received",
    "contacted",
    "engaged",
    "goals_met",
    *(f"reason_{reason.value}" for reason in ReferralReason),
    *(f"{key}_{part}" for key in CHANGE_KEYS for part in ("people", "total", "up", "down")),
)


class ReferralFacts(db.Model):
    __tablename__ = "referral_facts"
    __table_args__ = (
        # Covers the working-days spreads: no table rows are read for them.
        sa.Index(
            "ix_referral_facts_received",
            "received_on",
            "practice_id",
            "days_to_first_contact",
            "days_to_triage",
        ),
    )

    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    # The UK date the referral was received: every commissioner figure is scoped by it.
    received_on: Mapped[date]
    practice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("practices.id"))
    source: Mapped[ReferralSource] = mapped_column(enum_type(ReferralSource))
    # One bit per ReferralReason, in the enum's order (REASON_BITS).
    reasons_mask: Mapped[int] = mapped_column(default=0)
    contacted: Mapped[bool] = mapped_column(default=False)
    engaged: Mapped[bool] = mapped_column(default=False)
    goals_met: Mapped[bool] = mapped_column(default=False)
    days_to_first_contact: Mapped[int | None]
    days_to_triage: Mapped[int | None]
    # First baseline and last closing sitting answered, per scale (None: none answered).
    swemwbs_baseline: Mapped[float | None]
    swemwbs_closing: Mapped[float | None]
    ucla3_baseline: Mapped[float | None]
    ucla3_closing: Mapped[float | None]
    ons4_baseline_1: Mapped[int | None]
    ons4_baseline_2: Mapped[int | None]
    ons4_baseline_3: Mapped[int | None]
    ons4_baseline_4: Mapped[int | None]
    ons4_closing_1: Mapped[int | None]
    ons4_closing_2: Mapped[int | None]
    ons4_closing_3: Mapped[int | None]
    ons4_closing_4: Mapped[int | None]
    worked_out_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaleReferral(db.Model):
    """A referral whose facts need working out again. `marks` goes up with every change,
    so a refresh that read the referral before a later change leaves the row in place."""

    __tablename__ = "stale_referrals"

    # No foreign key: a deleted referral is marked too, so its facts row goes.
    referral_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    marks: Mapped[int] = mapped_column(default=1)


class ActivityReferralFacts(db.Model):
    """An activity referral sent to an organisation (or a person signposted), with what
    the uptake figures group and scope it by; suggestions never acted on are left out."""

    __tablename__ = "activity_referral_facts"
    __table_args__ = (
        # Covers the uptake figures: no table rows are read for them.
        sa.Index(
            "ix_activity_referral_facts_received",
            "received_on",
            "practice_id",
            "organisation_id",
            "categories_mask",
            "taken_up",
        ),
    )

    activity_referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("activity_referrals.id", ondelete="CASCADE"), primary_key=True
    )
    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    received_on: Mapped[date]
    practice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("practices.id"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    categories_mask: Mapped[int] = mapped_column(default=0)
    taken_up: Mapped[bool] = mapped_column(default=False)


class VolunteerTimeMonth(db.Model):
    __tablename__ = "volunteer_time_months"

    # The first day of the UK month.
    month: Mapped[date] = mapped_column(primary_key=True)
    minutes: Mapped[int] = mapped_column(default=0)
    # Volunteers who logged any time that month (each counted once).
    volunteers: Mapped[int] = mapped_column(default=0)


class StaleVolunteerMonth(db.Model):
    """A month whose volunteer time needs adding up again; `marks` as for StaleReferral."""

    __tablename__ = "stale_volunteer_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    marks: Mapped[int] = mapped_column(default=1)


class FiguresVersion(db.Model):
    """One row whose token changes whenever anything the commissioner dashboard's figures
    are worked out from changes, so a worker's kept figures know when they are out of
    date. See `portal.dashboard.kept`."""

    __tablename__ = "dashboard_figures_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(sa.String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _count_column(name: str) -> sa.Column:
    kind = sa.Float if name.endswith("_total") else sa.Integer
    return sa.Column(name, kind, nullable=False, default=0)


referral_months = sa.Table(
    "referral_months",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The first day of the UK month the referrals were received in.
    sa.Column("month", sa.Date, nullable=False, index=True),
    sa.Column("practice_id", sa.Integer, sa.ForeignKey("practices.id")),
    sa.Column("source", enum_type(ReferralSource), nullable=False),
    *(_count_column(name) for name in MONTH_COUNTS),
)
