"""The triage queue: which referrals the hub sees, in what order, under which filters."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, selectinload

from portal import searches
from portal.auth.models import Role, User
from portal.extensions import db
from portal.referrals.models import (
    OPEN_STATUSES,
    Practice,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralStatus,
    Resident,
    Urgency,
)

WAITING_FOR_TRIAGE = (ReferralStatus.RECEIVED, ReferralStatus.CONTACTING)
_REFERENCE = re.compile(r"^(SP-)?[0-9A-Z]{4,8}$")


def _choice(value: str | None, allowed: set[str]) -> str:
    return value if value in allowed else ""


def id_arg(value: str | None) -> int | None:
    # isascii: "²".isdigit() is true, but int("²") fails.
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else None


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


def queue_query(filters: QueueFilters) -> sa.Select:
    """Oldest first: the referral that has waited longest is at the top."""
    oldest_first = Referral.received_at
    if filters.status != "all" and len(filters.statuses) > 1:
        # Waiting for triage is two statuses. Read in date order, SQLite walks past every
        # closed referral to find them (10 ms at 20,000 referrals, and growing); ordering
        # by an expression sends it to the status index instead, and sorting the few
        # thousand waiting takes under a millisecond.
        oldest_first = sa.func.coalesce(Referral.received_at, Referral.received_at)
    query = (
        sa.select(Referral)
        # selectinload, not a join: the database picks the page's 25 rows from the index
        # first, then fetches their people in one small query. Their practices and teams
        # are not loaded here: the queue's page has every practice and team loaded already
        # for its filters, and a row's practice is then found in the session, not fetched.
        .options(selectinload(Referral.resident))
        .order_by(oldest_first, Referral.id)
    )
    if filters.status != "all":
        # "Every status" leaves the condition out: looking up all rows by status is slower
        # than reading the table in order.
        query = query.where(Referral.status.in_(filters.statuses))
    if filters.practice is not None:
        query = query.where(_at_practices([filters.practice]))
    if filters.int is not None:
        practice = aliased(Practice)
        in_team = sa.select(practice.id).where(practice.neighbourhood_id == filters.int)
        query = query.where(
            sa.or_(Referral.int_neighbourhood_id == filters.int, _at_practices(in_team))
        )
    if filters.urgency:
        query = query.where(Referral.urgency == Urgency(filters.urgency))
    if filters.reason:
        query = query.where(
            sa.exists().where(
                ReferralReasonLink.referral_id == Referral.id,
                ReferralReasonLink.reason == ReferralReason(filters.reason),
            )
        )
    if filters.q:
        query = query.where(search_condition(filters.q))
    return query


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
    """One referral with its person, practice, navigator and reasons, for the pages about it."""
    return db.session.scalar(
        sa.select(Referral)
        .options(
            joinedload(Referral.resident),
            joinedload(Referral.practice),
            joinedload(Referral.navigator),
            joinedload(Referral.reasons),
        )
        .where(Referral.id == referral_id)
    )


def navigators_with_caseload(statuses=OPEN_STATUSES) -> list[tuple[User, int]]:
    """Active navigators by name, each with their number of cases in these statuses."""
    open_cases = (
        sa.select(sa.func.count())
        .where(Referral.navigator_id == User.id, Referral.status.in_(statuses))
        .correlate(User)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(User, open_cases)
        .where(User.role == Role.NAVIGATOR, User.is_active.is_(True))
        .order_by(User.full_name)
    ).all()
    return [(user, count) for user, count in rows]
