"""KPI definitions: one function each, aggregated in the database, small counts suppressed."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.referrals.models import Neighbourhood, Practice, Referral, ReferralStatus

SMALL_NUMBER = 5


def suppress(count: int) -> str:
    """Counts under 5 could identify someone, so they are shown as "<5" (0 stays 0)."""
    if 0 < count < SMALL_NUMBER:
        return f"<{SMALL_NUMBER}"
    return str(count)


def referrals_by_status() -> dict[ReferralStatus, int]:
    """Every referral ever received, counted by its current status."""
    rows = db.session.execute(sa.select(Referral.status, sa.func.count()).group_by(Referral.status))
    counts = dict.fromkeys(ReferralStatus, 0)
    counts.update(dict(rows.all()))
    return counts


def referrals_by_neighbourhood() -> list[tuple[str, int]]:
    """Referrals from practices, counted by the practice's Integrated Neighbourhood Team."""
    rows = db.session.execute(
        sa.select(Neighbourhood.name, sa.func.count(Referral.id))
        .select_from(Neighbourhood)
        .join(Practice, Practice.neighbourhood_id == Neighbourhood.id)
        .outerjoin(Referral, Referral.practice_id == Practice.id)
        .group_by(Neighbourhood.name)
        .order_by(Neighbourhood.name)
    )
    return [(name, n) for name, n in rows]
