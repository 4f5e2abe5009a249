"""What coordinators watch: the volunteer board, quiet buddies, and hours given."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal import searches
from portal.auth.models import User
from portal.cases.models import Contact
from portal.db_types import utcnow
from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.paging import Page, paginate
from portal.referrals.models import Referral
from portal.spreadsheet import safe_cell
from portal.volunteers.compliance import Compliance, compliance
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
    VolunteerRole,
    VolunteerStatus,
)

BOARD_PAGE_SIZE = 25


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class BoardFilters:
    status: str = ""
    role: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args) -> BoardFilters:
        """Anything not understood is ignored, never an error."""
        status = args.get("status") or ""
        role = args.get("role") or ""
        return cls(
            status=status if status in {s.value for s in VolunteerStatus} else "",
            role=role if role in {r.value for r in VolunteerRole} else "",
            q=(args.get("q") or "").strip()[:100],
        )

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def address_args(self) -> dict[str, str]:
        """As address arguments: the search text is swapped for its key (portal/searches.py)."""
        return searches.for_address(self.as_args())


_ROLE_COLUMN = {
    VolunteerRole.BUDDY.value: Volunteer.role_buddy,
    VolunteerRole.NAVIGATOR.value: Volunteer.role_navigator,
    VolunteerRole.BEFRIENDER.value: Volunteer.role_befriender,
}


def _conditions(filters: BoardFilters) -> list:
    where = []
    if filters.role:
        where.append(_ROLE_COLUMN[filters.role].is_(True))
    if filters.q:
        pattern = f"%{_escape_like(filters.q)}%"
        where.append(
            sa.or_(
                User.full_name.ilike(pattern, escape="\\"),
                User.email.ilike(pattern, escape="\\"),
            )
        )
    return where


def status_counts(filters: BoardFilters) -> dict[VolunteerStatus, int]:
    """How many volunteers in each status, under the role and search filters."""
    rows = db.session.execute(
        sa.select(Volunteer.status, sa.func.count())
        .join(User, User.id == Volunteer.user_id)
        .where(*_conditions(filters))
        .group_by(Volunteer.status)
    ).all()
    counts = dict.fromkeys(VolunteerStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts


@dataclass
class BoardRow:
    volunteer: Volunteer
    compliance: Compliance
    buddies: int


def board(filters: BoardFilters, page_arg: str | None, today: date) -> tuple[Page, list[BoardRow]]:
    current = (
        sa.select(sa.func.count())
        .where(
            BuddyMatch.volunteer_id == Volunteer.id,
            BuddyMatch.status.in_((BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE)),
        )
        .correlate(Volunteer)
        .scalar_subquery()
    )
    query = (
        sa.select(Volunteer, current)
        .join(User, User.id == Volunteer.user_id)
        .options(
            joinedload(Volunteer.user),
            selectinload(Volunteer.training_records),
        )
        .where(*_conditions(filters))
        # Newest applications first: they are the ones waiting for the hub.
        .order_by(Volunteer.applied_at.desc(), Volunteer.id.desc())
    )
    if filters.status:
        query = query.where(Volunteer.status == VolunteerStatus(filters.status))
    page = paginate(query, page_arg, BOARD_PAGE_SIZE)
    modules = list(db.session.scalars(sa.select(TrainingModule).where(TrainingModule.is_active)))
    rows = [BoardRow(v, compliance(v, modules, today), n) for v, n in page.items]
    return page, rows


def volunteer_record(volunteer_id: int) -> Volunteer | None:
    return db.session.scalar(
        sa.select(Volunteer)
        .options(
            joinedload(Volunteer.user),
            joinedload(Volunteer.dbs_checked_by),
            selectinload(Volunteer.training_records).joinedload(TrainingRecord.module),
        )
        .where(Volunteer.id == volunteer_id)
    )


# --- supervision ----------------------------------------------------------------------------


@dataclass
class QuietBuddy:
    match: BuddyMatch
    last_contact_at: datetime | None
    days: int


def quiet_buddies(days: int) -> list[QuietBuddy]:
    """Active matches whose volunteer has logged no contact for `days` (counted from the start)."""
    last = (
        sa.select(sa.func.max(Contact.occurred_at))
        .join(Volunteer, Volunteer.user_id == Contact.author_id)
        .where(
            Contact.referral_id == BuddyMatch.referral_id, Volunteer.id == BuddyMatch.volunteer_id
        )
        .correlate(BuddyMatch)
        .scalar_subquery()
    )
    since = sa.func.coalesce(last, BuddyMatch.responded_at, BuddyMatch.proposed_at)
    cutoff = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        sa.select(BuddyMatch, last)
        .options(
            joinedload(BuddyMatch.volunteer).joinedload(Volunteer.user),
            joinedload(BuddyMatch.referral).joinedload(Referral.resident),
            joinedload(BuddyMatch.referral).joinedload(Referral.navigator),
        )
        .where(BuddyMatch.status == BuddyMatchStatus.ACTIVE, since < cutoff)
        .order_by(since)
    ).all()
    now = utcnow()
    out = []
    for match, last_at in rows:
        start = last_at or match.responded_at or match.proposed_at
        out.append(QuietBuddy(match, last_at, (now - start).days))
    return out


@dataclass(frozen=True)
class HoursRow:
    volunteer_id: int
    name: str
    month: str  # YYYY-MM
    contacts: int
    contact_minutes: int
    other_minutes: int

    @property
    def total_minutes(self) -> int:
        return self.contact_minutes + self.other_minutes


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _months(start: date, end: date) -> list[date]:
    months, day = [], start.replace(day=1)
    while day < end:
        months.append(day)
        day = next_month(day)
    return months


def _london_month(column, months: list[date]):
    """The London calendar month of a UTC timestamp, as 'YYYY-MM', on any database.

    A comparison with each month's first instant in UTC: exact across summer time,
    where a contact at 00:30 on 1 July in London is 23:30 on 30 June in UTC.
    """
    bounds = [local_to_utc(datetime(m.year, m.month, 1)) for m in months[1:]]
    return _case_by_bounds(column, months, bounds)


def _case_by_bounds(column, months: list[date], bounds: list) -> sa.ColumnElement:
    """'YYYY-MM' of the first month whose upper bound the value is below; else the last."""
    last = sa.literal(f"{months[-1]:%Y-%m}")
    if not bounds:
        return last
    whens = [(column < bound, f"{m:%Y-%m}") for m, bound in zip(months, bounds, strict=False)]
    return sa.case(*whens, else_=last)


def hours_by_month(start: date, end: date) -> list[HoursRow]:
    """Time each volunteer gave per London calendar month, from `start` up to, not including,
    `end`. Aggregated in the database.
    """
    months = _months(start, end)
    if not months:
        return []
    lo = local_to_utc(datetime(start.year, start.month, start.day))
    hi = local_to_utc(datetime(end.year, end.month, end.day))
    # Each row's month in a subquery, grouped outside it: PostgreSQL will not match a
    # GROUP BY expression that carries its own bound parameters to the select list's.
    contact_rows = (
        sa.select(
            Volunteer.id.label("volunteer_id"),
            _london_month(Contact.occurred_at, months).label("month"),
            Contact.duration_minutes.label("minutes"),
        )
        .join(Contact, Contact.author_id == Volunteer.user_id)
        .where(Contact.occurred_at >= lo, Contact.occurred_at < hi)
        .subquery()
    )
    contacts = sa.select(
        contact_rows.c.volunteer_id,
        contact_rows.c.month,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(contact_rows.c.minutes), 0),
    ).group_by(contact_rows.c.volunteer_id, contact_rows.c.month)
    # Hours are logged against a London day already: its month is plain date arithmetic.
    hours_rows = (
        sa.select(
            VolunteerHours.volunteer_id,
            _case_by_bounds(VolunteerHours.worked_on, months, months[1:]).label("month"),
            VolunteerHours.minutes,
        )
        .where(VolunteerHours.worked_on >= start, VolunteerHours.worked_on < end)
        .subquery()
    )
    other = sa.select(
        hours_rows.c.volunteer_id, hours_rows.c.month, sa.func.sum(hours_rows.c.minutes)
    ).group_by(hours_rows.c.volunteer_id, hours_rows.c.month)
    table: dict[tuple[int, str], list[int]] = {}
    for vid, month, n, minutes in db.session.execute(contacts):
        table.setdefault((vid, month), [0, 0, 0])[0:2] = [int(n), int(minutes)]
    for vid, month, minutes in db.session.execute(other):
        table.setdefault((vid, month), [0, 0, 0])[2] = int(minutes)
    if not table:
        return []
    names = dict(
        db.session.execute(
            sa.select(Volunteer.id, User.full_name)
            .join(User, User.id == Volunteer.user_id)
            .where(Volunteer.id.in_({vid for vid, _ in table}))
        ).all()
    )
    rows = [
        HoursRow(vid, names[vid], month, n, cm, om) for (vid, month), (n, cm, om) in table.items()
    ]
    rows.sort(key=lambda r: (r.month, r.name.lower(), r.volunteer_id))
    return rows


CSV_HEADER = (
    "Month",
    "Volunteer",
    "Contacts logged",
    "Hours with people",
    "Other hours",
    "Total hours",
)


def hours_csv(rows: list[HoursRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            (
                r.month,
                safe_cell(r.name),
                r.contacts,
                f"{r.contact_minutes / 60:.2f}",
                f"{r.other_minutes / 60:.2f}",
                f"{r.total_minutes / 60:.2f}",
            )
        )
    return out.getvalue()
