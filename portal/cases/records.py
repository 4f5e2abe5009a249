"""Everything recorded on one case, read once.

The case page lists the contacts, goals, measures, activities and buddies, and its timeline
tells the same records as a story. Both read from one `CaseRecords`, so each table is read
once per page, with the people who made each record, and the number of statements does not
grow with the number of records or of the organisations behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.cases import work
from portal.cases.buddy_panel import matches_for
from portal.cases.models import Contact, Goal, GoalStatus
from portal.directory.activity_referrals import for_case
from portal.directory.models import ActivityReferral
from portal.extensions import db
from portal.measures.models import MeasureResponse
from portal.volunteers.models import BuddyMatch


@dataclass
class CaseRecords:
    contacts: list[Contact]  # newest first
    goals: list[Goal]  # open ones first, then by the day they were set
    responses: list[MeasureResponse]  # oldest first, as the progress charts read them
    activity_links: list[ActivityReferral]  # newest first
    buddy_matches: list[BuddyMatch]  # newest first

    @property
    def last_spoken_at(self) -> datetime | None:
        """When someone last got through to the person: what the overdue flag counts from."""
        return max((c.occurred_at for c in self.contacts if c.successful), default=None)


def contacts_of(referral_id: int) -> list[Contact]:
    return list(
        db.session.scalars(
            sa.select(Contact)
            .options(joinedload(Contact.author))
            .where(Contact.referral_id == referral_id)
            .order_by(Contact.occurred_at.desc(), Contact.id.desc())
        )
    )


def goals_of(referral_id: int) -> list[Goal]:
    return list(
        db.session.scalars(
            sa.select(Goal)
            .options(joinedload(Goal.created_by))
            .where(Goal.referral_id == referral_id)
            .order_by(Goal.status != GoalStatus.OPEN, Goal.set_on, Goal.id)
        )
    )


def read_case_records(referral_id: int) -> CaseRecords:
    return CaseRecords(
        contacts=contacts_of(referral_id),
        goals=goals_of(referral_id),
        responses=work.responses(referral_id),
        activity_links=for_case(referral_id),
        buddy_matches=matches_for(referral_id),
    )
