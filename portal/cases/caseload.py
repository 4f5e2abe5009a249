"""Caseloads: which open cases a navigator (or the hub) sees, sorted, filtered and flagged."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal import searches
from portal.alerts.models import Alert
from portal.auth.models import User
from portal.cases.models import Contact
from portal.db_types import utcnow
from portal.extensions import db
from portal.paging import id_arg
from portal.referrals.models import Referral, ReferralStatus, Resident, Urgency, person_name
from portal.referrals.queue import search_condition

CASE_STATUSES = (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE)
PAGE_SIZE = 50

# Sort keys a person can choose; each is a stable order (ties broken by id).
SORTS = {
    "due": "Next contact due",
    "last_contact": "Longest since last contact",
    "name": "Name",
    "assigned": "Date assigned",
    "level": "Support level",
}


@dataclass(frozen=True)
class CaseloadFilters:
    status: str = ""
    overdue: bool = False
    q: str = ""
    sort: str = "due"
    navigator: int | None = None  # coordinators only: one navigator's caseload

    @classmethod
    def from_args(cls, args) -> CaseloadFilters:
        """Anything not understood is ignored, never an error."""
        status = args.get("status") or ""
        return cls(
            status=status if status in {s.value for s in CASE_STATUSES} else "",
            overdue=args.get("overdue") == "1",
            q=(args.get("q") or "").strip()[:100],
            sort=args.get("sort") if args.get("sort") in SORTS else "due",
            navigator=id_arg(args.get("navigator")),
        )

    def as_args(self) -> dict[str, str]:
        out = {}
        for key, value in asdict(self).items():
            if value in ("", None, False) or (key == "sort" and value == "due"):
                continue
            out[key] = "1" if value is True else str(value)
        return out

    def address_args(self) -> dict[str, str]:
        """As address arguments: the search text is swapped for its key (portal/searches.py)."""
        return searches.for_address(self.as_args())


@dataclass
class CaseRow:
    """One line of a caseload: what the table shows, read as plain values, not records."""

    id: int
    reference: str
    urgency: Urgency
    status: ReferralStatus
    support_level: int | None
    next_contact_on: date | None
    assigned_at: datetime | None
    person: str
    navigator_name: str | None
    last_contact_at: datetime | None
    unread_alerts: int
    overdue: bool
    days_since_contact: int | None
    due_passed: bool


def _last_success():
    return (
        sa.select(sa.func.max(Contact.occurred_at))
        .where(Contact.referral_id == Referral.id, Contact.successful.is_(True))
        .correlate(Referral)
        .scalar_subquery()
    )


@functools.cache
def _row_aliases():
    """The row's person and navigator, as aliases so that the search's and the name sort's
    own look-ups of residents stay inside their subqueries rather than being tied to the
    joined row. Made once: with a new alias each time, matching its columns to the table's
    took about 9 ms a page under the profiler."""
    return aliased(Resident, name="person"), aliased(User, name="navigator")


def caseload_query(
    filters: CaseloadFilters, navigator_id: int | None, viewer_id: int, overdue_days: int
) -> sa.Select:
    """Rows of a case's columns for the table, its last successful contact and the viewer's
    unread alerts on it.

    The rows are plain values, not Referral records: building fifty records of some forty
    columns each (three of them JSON), and their people, was about a sixth of the page.

    navigator_id None means every navigator's cases (the coordinator's view)."""
    last = _last_success().label("last_at")
    unread = (
        sa.select(sa.func.count())
        .where(
            Alert.user_id == viewer_id,
            Alert.referral_id == Referral.id,
            Alert.read_at.is_(None),
        )
        .correlate(Referral)
        .scalar_subquery()
        .label("unread")
    )
    person, navigator = _row_aliases()
    query = (
        sa.select(
            Referral.id,
            Referral.reference,
            Referral.urgency,
            Referral.status,
            Referral.support_level,
            Referral.next_contact_on,
            Referral.assigned_at,
            person.given_name,
            person.family_name,
            navigator.full_name.label("navigator_name"),
            last,
            unread,
        )
        .join(person, person.id == Referral.resident_id)
        .outerjoin(navigator, navigator.id == Referral.navigator_id)
        .where(*_conditions(filters, navigator_id, overdue_days))
    )
    order = {
        "due": [Referral.next_contact_on.is_(None), Referral.next_contact_on],
        "last_contact": [last.is_not(None), last, Referral.assigned_at],
        "name": [_name_key(0), _name_key(1)],
        "assigned": [Referral.assigned_at],
        "level": [Referral.support_level.desc()],
    }[filters.sort]
    return query.order_by(*order, Referral.id)


def caseload_total(filters: CaseloadFilters, navigator_id: int | None, overdue_days: int) -> int:
    """How many cases the filters match: counted from referrals alone, without the joins."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Referral)
        .where(*_conditions(filters, navigator_id, overdue_days))
    )


def _conditions(filters: CaseloadFilters, navigator_id: int | None, overdue_days: int) -> list:
    statuses = (ReferralStatus(filters.status),) if filters.status else CASE_STATUSES
    where = [Referral.status.in_(statuses)]
    if navigator_id is not None:
        where.append(Referral.navigator_id == navigator_id)
    if filters.q:
        where.append(search_condition(filters.q, names_from_rows=True))
    if filters.overdue:
        cutoff = utcnow() - timedelta(days=overdue_days)
        where.append(sa.func.coalesce(_last_success(), Referral.assigned_at) < cutoff)
    return where


def _name_key(which: int):
    column = Resident.family_name if which == 0 else Resident.given_name
    return (
        sa.select(sa.func.lower(column))
        .where(Resident.id == Referral.resident_id)
        .correlate(Referral)
        .scalar_subquery()
    )


def case_rows(rows, overdue_days: int, today: date | None = None) -> list[CaseRow]:
    now = utcnow()
    today = today or date.today()
    out = []
    for row in rows:
        last_at, next_on = row.last_at, row.next_contact_on
        since = last_at or row.assigned_at
        out.append(
            CaseRow(
                id=row.id,
                reference=row.reference,
                urgency=row.urgency,
                status=row.status,
                support_level=row.support_level,
                next_contact_on=next_on,
                assigned_at=row.assigned_at,
                person=person_name(row.given_name, row.family_name),
                navigator_name=row.navigator_name,
                last_contact_at=last_at,
                unread_alerts=row.unread or 0,
                overdue=since is not None and (now - since) > timedelta(days=overdue_days),
                days_since_contact=(now - last_at).days if last_at else None,
                due_passed=next_on is not None and next_on < today,
            )
        )
    return out


def status_counts(navigator_id: int | None) -> dict[ReferralStatus, int]:
    where = [Referral.status.in_(CASE_STATUSES)]
    if navigator_id is not None:
        where.append(Referral.navigator_id == navigator_id)
    counts = dict.fromkeys(CASE_STATUSES, 0)
    rows = db.session.execute(
        sa.select(Referral.status, sa.func.count()).where(*where).group_by(Referral.status)
    )
    return counts | {status: n for status, n in rows}


def overdue_count(navigator_id: int | None, overdue_days: int) -> int:
    return caseload_total(CaseloadFilters(overdue=True), navigator_id, overdue_days)
