"""Caseloads: which open cases a navigator (or the hub) sees, sorted, filtered and flagged."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import searches
from portal.alerts.models import Alert
from portal.cases.models import Contact
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import Referral, ReferralStatus, Resident
from portal.referrals.queue import id_arg, search_condition

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
    referral: Referral
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


def caseload_query(
    filters: CaseloadFilters, navigator_id: int | None, viewer_id: int, overdue_days: int
) -> sa.Select:
    """Rows of (Referral, last successful contact, unread alerts for the viewer).

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
    statuses = (ReferralStatus(filters.status),) if filters.status else CASE_STATUSES
    query = (
        sa.select(Referral, last, unread)
        .options(selectinload(Referral.resident), selectinload(Referral.navigator))
        .where(Referral.status.in_(statuses))
    )
    if navigator_id is not None:
        query = query.where(Referral.navigator_id == navigator_id)
    if filters.q:
        query = query.where(search_condition(filters.q, names_from_rows=True))
    if filters.overdue:
        cutoff = utcnow() - timedelta(days=overdue_days)
        query = query.where(sa.func.coalesce(_last_success(), Referral.assigned_at) < cutoff)
    order = {
        "due": [Referral.next_contact_on.is_(None), Referral.next_contact_on],
        "last_contact": [last.is_not(None), last, Referral.assigned_at],
        "name": [_name_key(0), _name_key(1)],
        "assigned": [Referral.assigned_at],
        "level": [Referral.support_level.desc()],
    }[filters.sort]
    return query.order_by(*order, Referral.id)


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
    for referral, last_at, unread in rows:
        since = last_at or referral.assigned_at
        out.append(
            CaseRow(
                referral=referral,
                last_contact_at=last_at,
                unread_alerts=unread or 0,
                overdue=since is not None and (now - since) > timedelta(days=overdue_days),
                days_since_contact=(now - last_at).days if last_at else None,
                due_passed=referral.next_contact_on is not None
                and referral.next_contact_on < today,
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
    cutoff = utcnow() - timedelta(days=overdue_days)
    where = [
        Referral.status.in_(CASE_STATUSES),
        sa.func.coalesce(_last_success(), Referral.assigned_at) < cutoff,
    ]
    if navigator_id is not None:
        where.append(Referral.navigator_id == navigator_id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Referral).where(*where))


@dataclass
class Page:
    """One page of caseload rows, with what the pager needs (db.paginate gives entities only)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate(query: sa.Select, page_arg: str | None, per_page: int = PAGE_SIZE) -> Page:
    page = id_arg(page_arg) or 1
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    )
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=rows, page=page, per_page=per_page, total=total)
