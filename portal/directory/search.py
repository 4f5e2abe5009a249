"""Directory search: words plus filters over published activities of verified organisations.

Words are matched against a lower-cased search column kept on each activity (title,
description, venue, who it is for, category names), every word anywhere, as a prefix
of a word, so "walk" finds "walking". Filters are plain comparisons on indexed or
bitmask columns. The same query serves the public directory, the navigators' view and
the Open Referral UK API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from portal.directory.models import (
    CATEGORY_BITS,
    Activity,
    ActivityStatus,
    Organisation,
    day_bit,
    postcode_district,
    searchable_text,
)
from portal.directory.schedule import TIMES_OF_DAY
from portal.extensions import db
from portal.paging import Page, id_arg

PAGE_SIZE = 20
MAX_WORDS = 8
MAX_QUERY = 100
ACCESS_FEATURES = {
    "step_free": "Step-free access",
    "hearing_loop": "Hearing loop",
    "accessible_toilet": "Accessible toilet",
    "transport_offered": "Transport offered",
}
# The outward code of a UK postcode, alone: CV1, CV31, B1, EC1A.
_DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")


def _choices(values: list[str], allowed) -> list[str]:
    return [v for v in dict.fromkeys(values) if v in allowed]


@dataclass
class SearchFilters:
    q: str = ""
    categories: list[str] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    cost: str = ""
    access: list[str] = field(default_factory=list)
    district: str = ""
    where: str = ""
    referrals_only: bool = False
    # What was typed in the postcode box, and a message when it is not a district or postcode.
    typed_district: str = ""
    district_error: str | None = None

    @classmethod
    def from_args(cls, args) -> SearchFilters:
        """Filters from a query string; values that are not choices are ignored."""
        days = [int(d) for d in args.getlist("day") if d in ("0", "1", "2", "3", "4", "5", "6")]
        typed_district = (args.get("district") or "").strip()[:10]
        district, error = typed_district, None
        if typed_district:
            district = postcode_district(typed_district) or ""
            if not _DISTRICT.match(district):
                district, error = "", "Enter a postcode district like CV2, or a full postcode"
        return cls(
            q=" ".join((args.get("q") or "").split())[:MAX_QUERY],
            categories=_choices(args.getlist("category"), CATEGORY_BITS),
            days=list(dict.fromkeys(days)),
            times=_choices(args.getlist("time"), TIMES_OF_DAY),
            cost="free" if args.get("cost") == "free" else "",
            access=_choices(args.getlist("access"), ACCESS_FEATURES),
            district=district,
            where=args.get("where") if args.get("where") in ("online", "in_person") else "",
            referrals_only=args.get("referrals") == "1",
            typed_district=typed_district,
            district_error=error,
        )

    @property
    def words(self) -> list[str]:
        return searchable_text(self.q).split()[:MAX_WORDS]

    @property
    def active(self) -> bool:
        return bool(
            self.q
            or self.categories
            or self.days
            or self.times
            or self.cost
            or self.access
            or self.district
            or self.where
            or self.referrals_only
        )

    def as_args(self) -> dict:
        """The query arguments that reproduce these filters (for the pager and links)."""
        args = {
            "q": self.q or None,
            "category": self.categories or None,
            "day": self.days or None,
            "time": self.times or None,
            "cost": self.cost or None,
            "access": self.access or None,
            "district": self.district or None,
            "where": self.where or None,
            "referrals": "1" if self.referrals_only else None,
        }
        return {k: v for k, v in args.items() if v is not None}


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_condition(word: str):
    """A word starting the text or after a space: "walk" finds "walking", not "sidewalk"."""
    pattern = _escape_like(word)
    name = sa.func.lower(Organisation.name)
    return sa.or_(
        Activity.search_text.like(f"{pattern}%", escape="\\"),
        Activity.search_text.like(f"% {pattern}%", escape="\\"),
        name.like(f"{pattern}%", escape="\\"),
        name.like(f"% {pattern}%", escape="\\"),
    )


def listed():
    """Published activities of verified organisations: all the public may ever see."""
    return (
        sa.select(Activity)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .options(contains_eager(Activity.organisation))
        .where(Activity.status == ActivityStatus.PUBLISHED, Organisation.verified_at.is_not(None))
    )


def _time_condition(key: str):
    _label, start, end = TIMES_OF_DAY[key]
    condition = Activity.start_time >= start
    return sa.and_(condition, Activity.start_time < end) if end else condition


def query(filters: SearchFilters) -> sa.Select:
    statement = listed()
    for word in filters.words:
        statement = statement.where(_word_condition(word))
    if filters.categories:
        mask = sum(CATEGORY_BITS[c] for c in filters.categories)
        statement = statement.where(Activity.categories_mask.op("&")(mask) != 0)
    if filters.days:
        mask = sum(day_bit(d) for d in filters.days)
        statement = statement.where(Activity.days_mask.op("&")(mask) != 0)
    if filters.times:
        statement = statement.where(sa.or_(*(_time_condition(t) for t in filters.times)))
    if filters.cost == "free":
        statement = statement.where(sa.func.coalesce(Activity.cost_pence, 0) == 0)
    for feature in filters.access:
        statement = statement.where(getattr(Activity, feature).is_(True))
    if filters.district:
        statement = statement.where(Activity.postcode_district == filters.district)
    if filters.where == "online":
        statement = statement.where(Activity.online.is_(True))
    elif filters.where == "in_person":
        statement = statement.where(Activity.online.is_(False))
    if filters.referrals_only:
        statement = statement.where(
            Activity.accepts_referrals.is_(True),
            sa.func.coalesce(Activity.spaces_available, 1) > 0,
        )
    return statement


def _ordered(statement: sa.Select, filters: SearchFilters) -> sa.Select:
    order = []
    if filters.words:
        # Activities whose title has every word come first.
        in_title = sa.and_(
            *(
                sa.func.lower(Activity.title).like(f"%{_escape_like(w)}%", escape="\\")
                for w in filters.words
            )
        )
        order.append(sa.case((in_title, 0), else_=1))
    return statement.order_by(*order, Activity.title, Activity.id)


FARTHEST_OFFSET = 2**31 - 1


def search(filters: SearchFilters, page: int | str | None, per_page: int = PAGE_SIZE) -> Page:
    """One page of results, and how many there are in all, from one reading of the
    matches; only a page with nothing on it asks again, for the count alone."""
    statement = query(filters)
    if not isinstance(page, int):
        page = id_arg(page) or 1
    offset = (page - 1) * per_page
    if offset > FARTHEST_OFFSET:
        # Past any directory there could be, and past what a database offset can hold.
        return Page(items=[], page=page, per_page=per_page, total=db_count(statement))
    rows = db.session.execute(
        _ordered(statement, filters)
        .add_columns(sa.func.count().over().label("total"))
        .limit(per_page)
        .offset(offset)
    ).all()
    total = rows[0].total if rows else db_count(statement)
    return Page(items=[row[0] for row in rows], page=page, per_page=per_page, total=total)


def db_count(statement: sa.Select) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(
            statement.with_only_columns(Activity.id).order_by(None).subquery()
        )
    )
