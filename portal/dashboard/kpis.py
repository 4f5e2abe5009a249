"""KPI definitions: one function each, aggregated in the database, small counts suppressed.

Every function takes a `Scope` (a date range in UK dates and, optionally, the practices
it covers) and says in its docstring exactly what it counts. The dashboards, the CSV
exports and the evaluation pack all call these and nothing else, so a figure means the
same thing wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from portal.cases.models import Contact
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    Organisation,
)
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Neighbourhood,
    Practice,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralStatus,
)
from portal.referrals.working_days import working_days_between
from portal.reports.periods import london_midnight

SMALL_NUMBER = 5
LONDON = ZoneInfo("Europe/London")


def suppress(count: int | None) -> str:
    """Counts under 5 could identify someone, so they are shown as "<5" (0 stays 0)."""
    if count is None:
        return "no data"
    if 0 < count < SMALL_NUMBER:
        return f"<{SMALL_NUMBER}"
    return str(count)


@dataclass(frozen=True)
class Scope:
    """Which referrals a figure is about: received from `start` to `end` (UK dates,
    inclusive), at these practices (None: every practice, and referrals with none)."""

    start: date
    end: date
    practice_ids: tuple[int, ...] | None = None

    @property
    def since(self):
        return london_midnight(self.start)

    @property
    def until(self):
        return london_midnight(self.end + timedelta(days=1))

    def referrals(self) -> list:
        """Conditions on Referral for this scope."""
        conditions = [Referral.received_at >= self.since, Referral.received_at < self.until]
        if self.practice_ids is not None:
            conditions.append(Referral.practice_id.in_(self.practice_ids))
        return conditions


def referrals_by_status() -> dict[ReferralStatus, int]:
    """Every referral ever received, counted by its current status."""
    rows = db.session.execute(sa.select(Referral.status, sa.func.count()).group_by(Referral.status))
    counts = dict.fromkeys(ReferralStatus, 0)
    counts.update(dict(rows.all()))
    return counts


def referrals_by_neighbourhood(scope: Scope | None = None) -> list[tuple[str, int]]:
    """Referrals from practices received in the scope, by the practice's Integrated
    Neighbourhood Team. Every team is listed, with 0 where it had none."""
    join_on = [Referral.practice_id == Practice.id]
    if scope is not None:
        join_on += scope.referrals()
    rows = db.session.execute(
        sa.select(Neighbourhood.name, sa.func.count(Referral.id))
        .select_from(Neighbourhood)
        .outerjoin(Practice, Practice.neighbourhood_id == Neighbourhood.id)
        .outerjoin(Referral, sa.and_(*join_on))
        .group_by(Neighbourhood.name)
        .order_by(Neighbourhood.name)
    )
    return [(name, n) for name, n in rows]


def referrals_received(scope: Scope) -> int:
    """Referrals received in the scope, whatever happened to them since."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Referral).where(*scope.referrals())
    )


def referrals_by_source(scope: Scope) -> list[tuple[str, int]]:
    """Referrals received in the scope, by who referred: practice, self or professional."""
    rows = db.session.execute(
        sa.select(Referral.source, sa.func.count())
        .where(*scope.referrals())
        .group_by(Referral.source)
    )
    counts = dict(rows.all())
    return [(source.label, counts.get(source, 0)) for source in sorted(counts, key=str)]


@dataclass(frozen=True)
class PracticeRate:
    practice: str
    referrals: int
    list_size: int | None

    @property
    def per_1000(self) -> float | None:
        """Referrals per 1,000 registered patients; None when the list size is not known."""
        if not self.list_size:
            return None
        return round(1000 * self.referrals / self.list_size, 2)


def referrals_per_1000(scope: Scope) -> list[PracticeRate]:
    """For each practice in the scope: referrals it made (Referral.practice_id) received in
    the range, and that count per 1,000 patients on its list (Practice.list_size)."""
    join_on = [Referral.practice_id == Practice.id, *scope.referrals()]
    query = (
        sa.select(Practice.name, sa.func.count(Referral.id), Practice.list_size)
        .select_from(Practice)
        .outerjoin(Referral, sa.and_(*join_on))
        .group_by(Practice.id, Practice.name, Practice.list_size)
        .order_by(Practice.name)
    )
    if scope.practice_ids is not None:
        query = query.where(Practice.id.in_(scope.practice_ids))
    return [PracticeRate(name, n, size) for name, n, size in db.session.execute(query)]


def referrals_by_reason(scope: Scope) -> list[tuple[str, int]]:
    """Reasons given on referrals received in the scope. A referral with two reasons counts
    once under each, so the counts add up to more than the referrals."""
    rows = db.session.execute(
        sa.select(ReferralReasonLink.reason, sa.func.count())
        .join(Referral, Referral.id == ReferralReasonLink.referral_id)
        .where(*scope.referrals())
        .group_by(ReferralReasonLink.reason)
    )
    counts = dict(rows.all())
    return [(reason.label, counts.get(reason, 0)) for reason in ReferralReason]


def _utc_day_and_late(column) -> tuple:
    """The UTC date of a stored UTC time, and whether it is in the 23:00 hour.

    UK time is UTC or one hour ahead, so only a time in the last UTC hour of a day can
    fall on the next UK day. Grouping by these two keeps the rows few (two a day) and
    lets `_uk_day` give the exact UK date without time zones in SQLite."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date(column), sa.extract("hour", column) == 23
    return sa.func.date(column), sa.func.strftime("%H", column) == "23"


def _uk_day(utc_day, late) -> date:
    day = utc_day if isinstance(utc_day, date) else date.fromisoformat(utc_day)
    if late:
        moment = datetime.combine(day, time(23, 30), tzinfo=UTC)
        return moment.astimezone(LONDON).date()
    return day


def referrals_by_month(scope: Scope) -> list[tuple[str, int]]:
    """Referrals received in the scope, by the UK month received (YYYY-MM), every month
    in the range listed."""
    day, late = _utc_day_and_late(Referral.received_at)
    rows = db.session.execute(
        sa.select(day, late, sa.func.count()).where(*scope.referrals()).group_by(day, late)
    ).all()
    counts: dict[str, int] = {}
    for utc_day, is_late, n in rows:
        month = f"{_uk_day(utc_day, is_late):%Y-%m}"
        counts[month] = counts.get(month, 0) + n
    months, first = [], scope.start.replace(day=1)
    while first <= scope.end:
        months.append(f"{first:%Y-%m}")
        first = (first + timedelta(days=32)).replace(day=1)
    return [(m, counts.get(m, 0)) for m in months]


@dataclass(frozen=True)
class Conversion:
    referred: int
    contacted: int
    engaged: int
    goals_met: int


def conversion(scope: Scope) -> Conversion:
    """Of the referrals received in the scope: how many the hub reached (a first successful
    contact is recorded), how many engaged (a navigator had a successful contact after
    assigning them), and how many closed with goals met."""
    engaged = (
        sa.select(sa.literal(1))
        .where(
            Contact.referral_id == Referral.id,
            Contact.successful.is_(True),
            Referral.assigned_at.is_not(None),
            Contact.occurred_at >= Referral.assigned_at,
        )
        .exists()
    )
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(Referral.first_contact_at),
            sa.func.sum(sa.case((engaged, 1), else_=0)),
            sa.func.sum(sa.case((Referral.closure_reason == ClosureReason.GOALS_MET, 1), else_=0)),
        ).where(*scope.referrals())
    ).one()
    return Conversion(row[0], row[1], row[2] or 0, row[3] or 0)


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a number of working days, and how many it is based on."""

    people: int
    median: float | None
    p90: float | None


def _weighted_percentile(values: list[tuple[int, int]], share: float) -> float | None:
    """The value below which `share` of the weight lies (nearest rank), from (value, weight)."""
    total = sum(w for _, w in values)
    if not total:
        return None
    rank, seen = share * total, 0
    for value, weight in sorted(values):
        seen += weight
        if seen >= rank:
            return float(value)
    return float(values[-1][0])


def _working_day_spread(start_col, end_col, scope: Scope) -> Spread:
    # Grouped in the database by the pair of days (see _utc_day_and_late), so Python sees
    # a few hundred distinct pairs however many referrals there are, then counts the
    # working days between the UK dates of each pair.
    a_day, a_late = _utc_day_and_late(start_col)
    b_day, b_late = _utc_day_and_late(end_col)
    rows = db.session.execute(
        sa.select(a_day, a_late, b_day, b_late, sa.func.count())
        .where(*scope.referrals(), end_col.is_not(None))
        .group_by(a_day, a_late, b_day, b_late)
    ).all()
    pairs: dict[int, int] = {}
    for a, a_is_late, b, b_is_late, n in rows:
        days = working_days_between(_uk_day(a, a_is_late), _uk_day(b, b_is_late))
        pairs[days] = pairs.get(days, 0) + n
    people = sum(pairs.values())
    values = list(pairs.items())
    return Spread(people, _weighted_percentile(values, 0.5), _weighted_percentile(values, 0.9))


def time_to_first_contact(scope: Scope) -> Spread:
    """Working days from a referral being received to the first successful contact with
    the person, for referrals received in the scope that have been reached."""
    return _working_day_spread(Referral.received_at, Referral.first_contact_at, scope)


def time_to_triage(scope: Scope) -> Spread:
    """Working days from a referral being received to its triage decision, for referrals
    received in the scope that have been triaged."""
    return _working_day_spread(Referral.received_at, Referral.triaged_at, scope)


@dataclass(frozen=True)
class WellbeingChange:
    scale: Scale
    people: int
    mean_change: float | None
    improved: int

    @property
    def share_improved(self) -> float | None:
        return round(self.improved / self.people, 3) if self.people else None


# For these scales a higher score is better; for UCLA-3 (loneliness) lower is better.
HIGHER_IS_BETTER = {Scale.SWEMWBS: True, Scale.UCLA3: False}


def wellbeing_change(scope: Scope, scale: Scale) -> WellbeingChange:
    """People referred in the scope with a baseline and a closing score on the scale: the
    mean of (closing minus baseline), and how many changed for the better. The first
    baseline and the last closing sitting count; sittings the person declined do not.
    SWEMWBS uses the metric score; UCLA-3 the total (lower is better)."""
    if scale not in HIGHER_IS_BETTER:
        raise ValueError(f"{scale.label} has no single score; see ons4_change")

    def _score(stage: Stage, first: bool):
        order = MeasureResponse.recorded_at.asc() if first else MeasureResponse.recorded_at.desc()
        return (
            sa.select(MeasureResponse.score)
            .where(
                MeasureResponse.referral_id == Referral.id,
                MeasureResponse.scale == scale,
                MeasureResponse.stage == stage,
                MeasureResponse.declined.is_(False),
                MeasureResponse.score.is_not(None),
            )
            .order_by(order, MeasureResponse.id)
            .limit(1)
            .scalar_subquery()
        )

    pairs = (
        sa.select(
            _score(Stage.BASELINE, True).label("baseline"),
            _score(Stage.CLOSING, False).label("closing"),
        )
        .where(*scope.referrals())
        .subquery()
    )
    change = pairs.c.closing - pairs.c.baseline
    better = change > 0 if HIGHER_IS_BETTER[scale] else change < 0
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.avg(change),
            sa.func.sum(sa.case((better, 1), else_=0)),
        ).where(pairs.c.baseline.is_not(None), pairs.c.closing.is_not(None))
    ).one()
    mean = round(float(row[1]), 2) if row[1] is not None else None
    return WellbeingChange(scale, row[0], mean, row[2] or 0)


def activity_uptake(scope: Scope) -> list[tuple[str, str, int, int]]:
    """Activity referrals made for people referred in the scope, by organisation and
    activity: (organisation, activity, referrals sent, taken up). Taken up means the
    organisation accepted them or they attended; suggestions never sent are left out."""
    taken = ActivityReferral.status.in_(
        (
            ActivityReferralStatus.ACCEPTED,
            ActivityReferralStatus.ATTENDED,
            ActivityReferralStatus.STOPPED,
        )
    )
    rows = db.session.execute(
        sa.select(
            Organisation.name,
            Activity.title,
            sa.func.count(),
            sa.func.sum(sa.case((taken, 1), else_=0)),
        )
        .select_from(ActivityReferral)
        .join(Referral, Referral.id == ActivityReferral.referral_id)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .where(*scope.referrals(), ActivityReferral.status != ActivityReferralStatus.SUGGESTED)
        .group_by(Organisation.name, Activity.title)
        .order_by(Organisation.name, Activity.title)
    )
    return [(org, title, n, t or 0) for org, title, n, t in rows]


def suppressed_rows(rows: Iterable[tuple], count_positions: tuple[int, ...]) -> list[tuple]:
    """The rows with the counts at these positions suppressed, for pages and CSV alike."""
    out = []
    for row in rows:
        cells = list(row)
        for i in count_positions:
            cells[i] = suppress(cells[i])
        out.append(tuple(cells))
    return out
