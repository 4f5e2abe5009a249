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
    CATEGORY_BITS,
    Activity,
    ActivityCategory,
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
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.reports.periods import london_midnight
from portal.volunteers.models import Volunteer, VolunteerHours, VolunteerStatus

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
    Neighbourhood Team. Every team is listed, with 0 where it had none; a scope limited
    to some practices lists only their teams."""
    join_on = [Referral.practice_id == Practice.id]
    query = (
        sa.select(Neighbourhood.name, sa.func.count(Referral.id))
        .select_from(Neighbourhood)
        .outerjoin(Practice, Practice.neighbourhood_id == Neighbourhood.id)
        .group_by(Neighbourhood.name)
        .order_by(Neighbourhood.name)
    )
    if scope is not None:
        join_on += scope.referrals()
        if scope.practice_ids is not None:
            # Only the teams of the practices in scope: another team's 0 would be false.
            teams = sa.select(Practice.neighbourhood_id).where(Practice.id.in_(scope.practice_ids))
            query = query.where(Neighbourhood.id.in_(teams))
    rows = db.session.execute(query.outerjoin(Referral, sa.and_(*join_on)))
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
    months = [f"{m:%Y-%m}" for m in _month_starts(scope.start, scope.end)]
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


def share_of(part: int, whole: int) -> float | None:
    """part / whole to three places; None when there is no whole to share."""
    return round(part / whole, 3) if whole else None


@dataclass(frozen=True)
class WellbeingChange:
    scale: Scale
    people: int
    mean_change: float | None
    improved: int

    @property
    def share_improved(self) -> float | None:
        return share_of(self.improved, self.people)


# For these scales a higher score is better; for UCLA-3 (loneliness) lower is better.
HIGHER_IS_BETTER = {Scale.SWEMWBS: True, Scale.UCLA3: False}


@dataclass(frozen=True)
class ItemChange:
    item: str
    people: int
    mean_change: float | None
    improved: int

    @property
    def share_improved(self) -> float | None:
        return share_of(self.improved, self.people)


# ONS4 items in the order they are asked and stored; anxiety is better when lower.
ONS4_ITEMS = (
    ("Life satisfaction", True),
    ("Feeling things are worthwhile", True),
    ("Happiness yesterday", True),
    ("Anxiety yesterday", False),
)


@dataclass(frozen=True)
class MeasureChanges:
    swemwbs: WellbeingChange
    ucla3: WellbeingChange
    ons4: list[ItemChange]


def _mean(value) -> float | None:
    return round(float(value), 2) if value is not None else None


def measure_changes(scope: Scope) -> MeasureChanges:
    """People referred in the scope with a baseline and a closing sitting of a scale, and
    how their answers changed: the first baseline against the last closing sitting, with
    sittings the person declined (or left empty) skipped. For SWEMWBS (metric score,
    higher is better) and UCLA-3 (total, lower is better): the mean of (closing minus
    baseline) and how many changed for the better. For ONS4, each of the four questions
    (0 to 10) the same way, higher being better except for anxiety; the four answers are
    never added together. One pass over the sittings of the referrals in scope."""
    m = MeasureResponse
    part = (m.referral_id, m.scale, m.stage)
    answered = sa.or_(
        sa.and_(m.scale == Scale.ONS4, m.answers.is_not(None)),
        sa.and_(m.scale != Scale.ONS4, m.score.is_not(None)),
    )
    ranked = (
        sa.select(
            m.referral_id,
            m.scale,
            m.stage,
            m.score,
            *(m.answers[i].as_integer().label(f"a{i}") for i in range(len(ONS4_ITEMS))),
            sa.func.row_number()
            .over(partition_by=part, order_by=(m.recorded_at, m.id))
            .label("nth"),
            sa.func.row_number()
            .over(partition_by=part, order_by=(m.recorded_at.desc(), m.id.desc()))
            .label("nth_last"),
        )
        .join(Referral, Referral.id == m.referral_id)
        .where(
            *scope.referrals(),
            m.declined.is_(False),
            m.stage.in_((Stage.BASELINE, Stage.CLOSING)),
            answered,
        )
        .subquery()
    )
    first = sa.and_(ranked.c.stage == Stage.BASELINE, ranked.c.nth == 1)
    last = sa.and_(ranked.c.stage == Stage.CLOSING, ranked.c.nth_last == 1)

    def pick(which, column, name):
        return sa.func.max(sa.case((which, column))).label(name)

    items = range(len(ONS4_ITEMS))
    pairs = (
        sa.select(
            ranked.c.scale,
            pick(first, ranked.c.score, "b"),
            pick(last, ranked.c.score, "c"),
            *(pick(first, ranked.c[f"a{i}"], f"b{i}") for i in items),
            *(pick(last, ranked.c[f"a{i}"], f"c{i}") for i in items),
        )
        .where(sa.or_(first, last))
        .group_by(ranked.c.referral_id, ranked.c.scale)
        .subquery()
    )
    p = pairs.c

    def change(b, c) -> list:
        return [
            sa.func.avg(c - b),
            sa.func.sum(sa.case((c > b, 1), else_=0)),
            sa.func.sum(sa.case((c < b, 1), else_=0)),
        ]

    paired = sa.or_(
        sa.and_(p.scale == Scale.ONS4, p.b0.is_not(None), p.c0.is_not(None)),
        sa.and_(p.scale != Scale.ONS4, p.b.is_not(None), p.c.is_not(None)),
    )
    rows = db.session.execute(
        sa.select(
            p.scale,
            sa.func.count(),
            *change(p.b, p.c),
            *(col for i in items for col in change(p[f"b{i}"], p[f"c{i}"])),
        )
        .where(paired)
        .group_by(p.scale)
    ).all()
    found = {row[0]: row for row in rows}

    def scored(scale: Scale) -> WellbeingChange:
        row = found.get(scale)
        if row is None:
            return WellbeingChange(scale, 0, None, 0)
        higher, lower = row[3] or 0, row[4] or 0
        return WellbeingChange(
            scale, row[1], _mean(row[2]), higher if HIGHER_IS_BETTER[scale] else lower
        )

    ons4 = found.get(Scale.ONS4)
    questions = []
    for i, (item, higher_is_better) in enumerate(ONS4_ITEMS):
        if ons4 is None:
            questions.append(ItemChange(item, 0, None, 0))
            continue
        mean, higher, lower = ons4[5 + 3 * i : 8 + 3 * i]
        improved = (higher if higher_is_better else lower) or 0
        questions.append(ItemChange(item, ons4[1], _mean(mean), improved))
    return MeasureChanges(scored(Scale.SWEMWBS), scored(Scale.UCLA3), questions)


def wellbeing_change(scope: Scope, scale: Scale) -> WellbeingChange:
    """SWEMWBS or UCLA-3 change for people referred in the scope: see `measure_changes`."""
    if scale not in HIGHER_IS_BETTER:
        raise ValueError(f"{scale.label} has no single score; see ons4_change")
    changes = measure_changes(scope)
    return changes.swemwbs if scale == Scale.SWEMWBS else changes.ucla3


def ons4_change(scope: Scope) -> list[ItemChange]:
    """Change in each ONS4 question for people referred in the scope: see
    `measure_changes`."""
    return measure_changes(scope).ons4


# Taken up: the organisation accepted the person, or they went.
TAKEN_UP = (
    ActivityReferralStatus.ACCEPTED,
    ActivityReferralStatus.ATTENDED,
    ActivityReferralStatus.STOPPED,
)


def _sent_activity_referrals(scope: Scope):
    return (
        sa.select()
        .select_from(ActivityReferral)
        .join(Referral, Referral.id == ActivityReferral.referral_id)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .where(*scope.referrals(), ActivityReferral.status != ActivityReferralStatus.SUGGESTED)
    )


def _uptake_columns() -> list:
    taken = ActivityReferral.status.in_(TAKEN_UP)
    return [sa.func.count(), sa.func.sum(sa.case((taken, 1), else_=0))]


def activity_uptake(scope: Scope) -> list[tuple[str, int, int]]:
    """Activity referrals made for people referred in the scope, by the organisation
    running the activity: (organisation, referrals, taken up). A referral counts when it
    was sent to the organisation or the person was signposted; suggestions a navigator
    never acted on do not. Taken up means accepted, attended or attended then stopped."""
    rows = db.session.execute(
        _sent_activity_referrals(scope)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .add_columns(Organisation.name, *_uptake_columns())
        .group_by(Organisation.name)
        .order_by(Organisation.name)
    )
    return [(org, n, t or 0) for org, n, t in rows]


def activity_uptake_by_category(scope: Scope) -> list[tuple[str, int, int]]:
    """The same activity referrals as `activity_uptake`, by the activity's categories:
    (category, referrals, taken up). An activity in two categories counts under each.
    Every category is listed."""
    taken = ActivityReferral.status.in_(TAKEN_UP)
    columns = []
    for category in ActivityCategory:
        in_category = Activity.categories_mask.op("&")(CATEGORY_BITS[category.value]) != 0
        columns += [
            sa.func.sum(sa.case((in_category, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(in_category, taken), 1), else_=0)),
        ]
    row = db.session.execute(_sent_activity_referrals(scope).add_columns(*columns)).one()
    return [
        (category.label, int(row[2 * i] or 0), int(row[2 * i + 1] or 0))
        for i, category in enumerate(ActivityCategory)
    ]


def _month_starts(start: date, end: date) -> list[date]:
    months, first = [], start.replace(day=1)
    while first <= end:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


@dataclass(frozen=True)
class VolunteerMonth:
    month: str  # YYYY-MM
    hours: float
    volunteers: int


def uk_month(column):
    """'YYYY-MM' of the UK calendar month of a stored (naive UTC) time, in SQL.

    PostgreSQL converts with the real Europe/London rules. SQLite has no time zones, so
    the hour is added in the months that end in summer time (March to September: every
    one of their last days is in BST, and no other month's is). Only a time in the last
    UTC hour of a month's last day can move month, so this is exact."""
    if db.engine.dialect.name == "postgresql":
        local = sa.func.timezone("Europe/London", sa.func.timezone("UTC", column))
        return sa.func.to_char(local, "YYYY-MM")
    in_summer_month = sa.cast(sa.func.strftime("%m", column), sa.Integer).between(3, 9)
    shift = sa.case((in_summer_month, "+60 minutes"), else_="+0 minutes")
    return sa.func.strftime("%Y-%m", column, shift)


def _date_month(column):
    if db.engine.dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def volunteer_time_by_month(scope: Scope) -> list[VolunteerMonth]:
    """Time volunteers gave in each UK month of the range: minutes on contacts they logged
    with the people they support plus other hours they logged (training, travel, events),
    in hours to one decimal place, and how many volunteers logged any time that month
    (active volunteers). Volunteers serve the whole hub, so a practice filter does not
    narrow these."""
    months = _month_starts(scope.start, scope.end)
    # Each row's month in a subquery, grouped outside it: PostgreSQL will not match a
    # GROUP BY expression that carries its own bound parameters to the select list's.
    contacts = (
        sa.select(
            uk_month(Contact.occurred_at).label("month"),
            Contact.author_id.label("user_id"),
            sa.func.coalesce(Contact.duration_minutes, 0).label("minutes"),
        )
        .join(Volunteer, Volunteer.user_id == Contact.author_id)
        .where(Contact.occurred_at >= scope.since, Contact.occurred_at < scope.until)
    )
    other = (
        sa.select(
            _date_month(VolunteerHours.worked_on).label("month"),
            Volunteer.user_id.label("user_id"),
            VolunteerHours.minutes.label("minutes"),
        )
        .join(Volunteer, Volunteer.id == VolunteerHours.volunteer_id)
        .where(VolunteerHours.worked_on >= scope.start, VolunteerHours.worked_on <= scope.end)
    )
    given = sa.union_all(contacts, other).subquery()
    rows = db.session.execute(
        sa.select(
            given.c.month,
            sa.func.sum(given.c.minutes),
            sa.func.count(sa.distinct(given.c.user_id)),
        ).group_by(given.c.month)
    ).all()
    found = {month: (int(minutes or 0), people) for month, minutes, people in rows}
    out = []
    for m in months:
        minutes, people = found.get(f"{m:%Y-%m}", (0, 0))
        out.append(VolunteerMonth(f"{m:%Y-%m}", round(minutes / 60, 1), people))
    return out


def active_volunteers() -> int:
    """Volunteers whose status is active today: vetted, trained and available."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Volunteer)
        .where(Volunteer.status == VolunteerStatus.ACTIVE)
    )


@dataclass(frozen=True)
class ReportTimeliness:
    month: str  # YYYY-MM of the period's last day
    due: int
    on_time: int
    late: int
    not_sent: int
    inbox_only: int


def reports_on_time(scope: Scope) -> list[ReportTimeliness]:
    """Scheduled outcome reports to the practices in the scope whose period ended in the
    range, by the month it ended. A report is due the day after its period ends (the
    07:00 run makes it then). On time: emailed by the end of that day, UK time. Late:
    emailed after. Not sent: failed, or still being sent or retried. Inbox only: the
    practice has no mailbox, so it could only be read in the portal. Periods with nothing
    to report send nothing and are not counted. Every month in the range is listed."""
    s_day, s_late = _utc_day_and_late(OutcomeReport.sent_at)
    conditions = [
        OutcomeReport.kind == ReportKind.SCHEDULED,
        OutcomeReport.status != DeliveryStatus.EMPTY,
        OutcomeReport.period_end >= scope.start,
        OutcomeReport.period_end <= scope.end,
    ]
    if scope.practice_ids is not None:
        conditions.append(OutcomeReport.practice_id.in_(scope.practice_ids))
    rows = db.session.execute(
        sa.select(OutcomeReport.period_end, OutcomeReport.status, s_day, s_late, sa.func.count())
        .where(*conditions)
        .group_by(OutcomeReport.period_end, OutcomeReport.status, s_day, s_late)
    ).all()
    counts: dict[str, list[int]] = {
        f"{m:%Y-%m}": [0, 0, 0, 0, 0] for m in _month_starts(scope.start, scope.end)
    }
    for period_end, status, sent_day, sent_late, n in rows:
        cells = counts.setdefault(f"{period_end:%Y-%m}", [0, 0, 0, 0, 0])
        cells[0] += n
        if status == DeliveryStatus.SENT and sent_day is not None:
            sent_on = _uk_day(sent_day, sent_late)
            cells[1 if sent_on <= period_end + timedelta(days=1) else 2] += n
        elif status == DeliveryStatus.INBOX_ONLY:
            cells[4] += n
        else:
            cells[3] += n
    return [ReportTimeliness(month, *cells) for month, cells in sorted(counts.items())]


def suppressed_rows(rows: Iterable[tuple], count_positions: tuple[int, ...]) -> list[tuple]:
    """The rows with the counts at these positions suppressed, for pages and CSV alike."""
    out = []
    for row in rows:
        cells = list(row)
        for i in count_positions:
            cells[i] = suppress(cells[i])
        out.append(tuple(cells))
    return out
