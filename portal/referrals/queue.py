"""The triage queue: which referrals the hub sees, in what order, under which filters."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from portal import searches
from portal.auth.models import Role, User
from portal.extensions import db
from portal.paging import Page, id_arg, paginate
from portal.referrals.models import (
    OPEN_STATUSES,
    Practice,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    Resident,
    Urgency,
    person_name,
)

WAITING_FOR_TRIAGE = (ReferralStatus.RECEIVED, ReferralStatus.CONTACTING)
_REFERENCE = re.compile(r"^(SP-)?[0-9A-Z]{4,8}$")


def _choice(value: str | None, allowed: set[str]) -> str:
    return value if value in allowed else ""


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""  # "" means waiting for triage
    practice: int | None = None
    int: int | None = None
    urgency: str = ""
    reason: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args) -> QueueFilters:
        """Filters from a query string; anything not understood is ignored, never an error."""
        return cls(
            status=_choice(args.get("status"), {s.value for s in ReferralStatus} | {"all"}),
            practice=id_arg(args.get("practice")),
            int=id_arg(args.get("int")),
            urgency=_choice(args.get("urgency"), {u.value for u in Urgency}),
            reason=_choice(args.get("reason"), {r.value for r in ReferralReason}),
            q=(args.get("q") or "").strip()[:100],
        )

    def as_args(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v not in ("", None)}

    def address_args(self) -> dict[str, str]:
        """As address arguments: the search text is swapped for its key (portal/searches.py)."""
        return searches.for_address(self.as_args())

    @property
    def statuses(self) -> tuple[ReferralStatus, ...]:
        if self.status == "all":
            return tuple(ReferralStatus)
        if self.status:
            return (ReferralStatus(self.status),)
        return WAITING_FOR_TRIAGE


@dataclass(frozen=True)
class QueueRow:
    """One line of the triage queue, read as plain values, not records."""

    id: int
    reference: str
    urgency: Urgency
    status: ReferralStatus
    source: ReferralSource
    received_at: datetime
    person: str
    nhs_number: str | None
    # The referral's practice or, for a referral from no practice, its person's: the
    # practice the queue shows and triage routes by.
    practice_id: int | None


def queue_page(filters: QueueFilters, page_arg: str | None, per_page: int) -> Page:
    """One page of the queue, oldest first: the referral that has waited longest is at the top.

    Plain values rather than Referral records: building twenty-five records of some forty
    columns each, and their people, cost more than finding the rows. The people are read
    in a second small query rather than by a join, so the database picks the page's rows
    from the index first and looks up only their twenty-five people."""
    where = _conditions(filters)
    oldest_first = Referral.received_at
    if filters.status != "all" and len(filters.statuses) > 1:
        # Waiting for triage is two statuses. Read in date order, SQLite walks past every
        # closed referral to find them (10 ms at 20,000 referrals, and growing); ordering
        # by an expression sends it to the status index instead, and sorting the few
        # thousand waiting takes under a millisecond.
        oldest_first = sa.func.coalesce(Referral.received_at, Referral.received_at)
    page = paginate(
        sa.select(
            Referral.id,
            Referral.reference,
            Referral.urgency,
            Referral.status,
            Referral.source,
            Referral.received_at,
            Referral.practice_id,
            Referral.resident_id,
        )
        .where(*where)
        .order_by(oldest_first, Referral.id),
        page_arg,
        per_page,
        total=db.session.scalar(sa.select(sa.func.count()).select_from(Referral).where(*where)),
    )
    people = {}
    if page.items:
        people = {
            person.id: person
            for person in db.session.execute(
                sa.select(
                    Resident.id,
                    Resident.given_name,
                    Resident.family_name,
                    Resident.nhs_number,
                    Resident.practice_id,
                ).where(Resident.id.in_({row.resident_id for row in page.items}))
            )
        }
    page.items = [_queue_row(row, people[row.resident_id]) for row in page.items]
    return page


def _queue_row(row, person) -> QueueRow:
    return QueueRow(
        id=row.id,
        reference=row.reference,
        urgency=row.urgency,
        status=row.status,
        source=row.source,
        received_at=row.received_at,
        person=person_name(person.given_name, person.family_name),
        nhs_number=person.nhs_number,
        practice_id=row.practice_id or person.practice_id,
    )


def _conditions(filters: QueueFilters) -> list:
    where = []
    if filters.status != "all":
        # "Every status" leaves the condition out: looking up all rows by status is slower
        # than reading the table in order.
        where.append(Referral.status.in_(filters.statuses))
    if filters.practice is not None:
        where.append(_at_practices([filters.practice]))
    if filters.int is not None:
        practice = _team_practice()
        in_team = sa.select(practice.id).where(practice.neighbourhood_id == filters.int)
        where.append(sa.or_(Referral.int_neighbourhood_id == filters.int, _at_practices(in_team)))
    if filters.urgency:
        where.append(Referral.urgency == Urgency(filters.urgency))
    if filters.reason:
        where.append(
            sa.exists().where(
                ReferralReasonLink.referral_id == Referral.id,
                ReferralReasonLink.reason == ReferralReason(filters.reason),
            )
        )
    if filters.q:
        where.append(search_condition(filters.q))
    return where


@functools.cache
def _team_practice():
    # Made once: a new alias each time has its columns matched to the table's afresh.
    return aliased(Practice, name="team_practice")


def _at_practices(practice_ids):
    """The referral came from one of these practices, or, if from no practice, its person is
    registered at one: the same practice the queue shows and triage routes by."""
    return sa.or_(
        Referral.practice_id.in_(practice_ids),
        sa.and_(
            Referral.practice_id.is_(None),
            Referral.resident_id.in_(
                sa.select(Resident.id).where(Resident.practice_id.in_(practice_ids))
            ),
        ),
    )


def search_condition(text: str, names_from_rows: bool = False):
    """A reference (SP-7K3M9Q, with or without SP-) or the start of each word of a name."""
    upper = text.upper().replace(" ", "")
    conditions = []
    if _REFERENCE.match(upper):
        by_reference = Referral.reference.in_({upper, f"SP-{upper}"})
        if upper.startswith("SP-") or any(c.isdigit() for c in upper):
            # Names have no digits: a reference alone is an index lookup, not a name scan.
            return by_reference
        conditions.append(by_reference)
    words = [w for w in re.split(r"\s+", text) if w][:4]
    if words:
        name_match = sa.and_(
            *(
                sa.or_(
                    Resident.given_name.ilike(_prefix(word), escape="\\"),
                    Resident.family_name.ilike(_prefix(word), escape="\\"),
                )
                for word in words
            )
        )
        if names_from_rows:
            # For a short list (a caseload): check each row's person, not every resident.
            conditions.append(sa.exists().where(Resident.id == Referral.resident_id, name_match))
        else:
            conditions.append(Referral.resident_id.in_(sa.select(Resident.id).where(name_match)))
    return sa.or_(*conditions)


def _prefix(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def referral_with_people(referral_id: int) -> Referral | None:
    """One referral with its person, practice, navigator and reasons, for the pages about it.
    The person's own practice comes too: the pages fall back to it when the referral did not
    come from a practice."""
    return db.session.scalar(
        sa.select(Referral)
        .options(
            joinedload(Referral.resident).joinedload(Resident.practice),
            joinedload(Referral.practice),
            joinedload(Referral.navigator),
            joinedload(Referral.reasons),
        )
        .where(Referral.id == referral_id)
    )


def navigators_with_caseload(
    statuses=OPEN_STATUSES, *, with_team: bool = False
) -> list[tuple[User, int]]:
    """Active navigators by name, each with their number of cases in these statuses; with
    their neighbourhood team read in the same statement when the caller shows it."""
    open_cases = (
        sa.select(sa.func.count())
        .where(Referral.navigator_id == User.id, Referral.status.in_(statuses))
        .correlate(User)
        .scalar_subquery()
    )
    query = (
        sa.select(User, open_cases)
        .where(User.role == Role.NAVIGATOR, User.is_active.is_(True))
        .order_by(User.full_name)
    )
    if with_team:
        query = query.options(joinedload(User.neighbourhood))
    rows = db.session.execute(query).all()
    return [(user, count) for user, count in rows]
