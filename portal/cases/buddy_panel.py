"""What the case page shows about buddies: this case's matches, and who could be proposed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.paging import id_arg
from portal.volunteers.buddying import active_modules, current_counts, why_not_buddy
from portal.volunteers.models import BuddyMatch, Volunteer, VolunteerStatus
from portal.volunteers.profile import describe_availability


def matches_for(referral_id: int) -> list[BuddyMatch]:
    """This case's matches, newest first, with the buddy and who proposed them."""
    return list(
        db.session.scalars(
            sa.select(BuddyMatch)
            .options(
                joinedload(BuddyMatch.volunteer).joinedload(Volunteer.user),
                joinedload(BuddyMatch.proposed_by),
            )
            .where(BuddyMatch.referral_id == referral_id)
            .order_by(BuddyMatch.proposed_at.desc(), BuddyMatch.id.desc())
        )
    )


@dataclass
class Candidate:
    volunteer: Volunteer
    taken: int
    reasons: list[str]

    @property
    def availability(self) -> list[str]:
        return describe_availability(self.volunteer.availability or [])


def _buddy_volunteers():
    return (
        sa.select(Volunteer)
        .options(joinedload(Volunteer.user), selectinload(Volunteer.training_records))
        .where(sa.or_(Volunteer.role_buddy.is_(True), Volunteer.role_befriender.is_(True)))
    )


def candidates(today: date) -> list[Candidate]:
    """Every active or paused buddy or befriender, each with why they cannot be proposed (if so).

    Those who can be proposed come first, least busy first, so work is spread fairly.
    """
    volunteers = (
        db.session.scalars(
            _buddy_volunteers().where(
                Volunteer.status.in_((VolunteerStatus.ACTIVE, VolunteerStatus.PAUSED))
            )
        )
        .unique()
        .all()
    )
    taken = current_counts()
    modules = active_modules()
    out = [
        Candidate(v, taken.get(v.id, 0), why_not_buddy(v, modules, today, taken.get(v.id, 0)))
        for v in volunteers
    ]
    out.sort(key=lambda c: (bool(c.reasons), c.taken, c.volunteer.user.full_name.lower()))
    return out


def candidate(value: str | None) -> Volunteer | None:
    """The buddy or befriender a proposal names, in any status: the rules then say why not."""
    volunteer_id = id_arg(value)
    if volunteer_id is None:
        return None
    return (
        db.session.scalars(_buddy_volunteers().where(Volunteer.id == volunteer_id))
        .unique()
        .one_or_none()
    )
