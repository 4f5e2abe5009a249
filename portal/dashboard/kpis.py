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

from portal.dashboard.facts import grouped_facts, time_given_by_month
from portal.dashboard.facts import refresh as refresh_facts
from portal.dashboard.models import (
    MONTH_COUNTS,
    ActivityReferralFacts,
    ReferralFacts,
    VolunteerTimeMonth,
    referral_months,
)
from portal.directory.models import (
    CATEGORY_BITS,
    ActivityCategory,
    Organisation,
)
from portal.extensions import db
from portal.measures.models import Scale
from portal.referrals.models import (
    Neighbourhood,
    Practice,
    Referral,
    ReferralReason,
    ReferralStatus,
)
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.reports.periods import london_midnight
from portal.volunteers.models import Volunteer, VolunteerStatus

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


def _facts_in(scope: Scope | None) -> list:
    """Conditions on ReferralFacts for referrals received in the scope (None: all)."""
    if scope is None:
        return []
    conditions = [ReferralFacts.received_on >= scope.start, ReferralFacts.received_on <= scope.end]
    if scope.practice_ids is not None:
        conditions.append(ReferralFacts.practice_id.in_(scope.practice_ids))
    return conditions


# ONS4 items in the order they are asked and stored; anxiety is better when lower.
ONS4_ITEMS = (
    ("Life satisfaction", True),
    ("Feeling things are worthwhile", True),
    ("Happiness yesterday", True),
    ("Anxiety yesterday", False),
)


def _flag(condition):
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _whole_months(start: date, end: date) -> tuple[tuple[date, date] | None, list]:
    """The whole UK months from `start` to `end` (first and last month's first day), and
    the ranges of days before and after them that cover only part of a month."""
    first = start if start.day == 1 else (start + timedelta(days=32)).replace(day=1)
    after_end = end + timedelta(days=1)
    last = (after_end.replace(day=1) - timedelta(days=1)).replace(day=1)
    if first > last:
        return None, [(start, end)]
    parts = []
    if start < first:
        parts.append((start, first - timedelta(days=1)))
    if after_end.day != 1:
        parts.append((after_end.replace(day=1), end))
    return (first, last), parts


@dataclass(frozen=True)
class ReferralSummary:
    """The referral counts of a scope in groups of (UK month received, practice, source):
    every referral figure below adds these groups up, so a page reads them once however
    many figures it shows. Each group is a dict of `MONTH_COUNTS` plus month ("YYYY-MM"),
    practice_id and source."""

    groups: list[dict]

    def total(self, name: str) -> float:
        return sum(g[name] or 0 for g in self.groups)

    def by(self, key: str, name: str = "received") -> dict:
        counts: dict = {}
        for g in self.groups:
            counts[g[key]] = counts.get(g[key], 0) + (g[name] or 0)
        return counts


def summarise(scope: Scope | None) -> ReferralSummary:
    """The referral counts for the scope: whole months from `referral_months`, the days of
    a month the range covers in part added up from `ReferralFacts`."""
    refresh_facts()
    t = referral_months
    columns = [t.c.month, t.c.practice_id, t.c.source, *(t.c[n] for n in MONTH_COUNTS)]
    if scope is None:
        queries = [sa.select(*columns)]
    else:
        whole, parts = _whole_months(scope.start, scope.end)
        practices = scope.practice_ids
        queries = []
        if whole is not None:
            query = sa.select(*columns).where(t.c.month.between(*whole))
            if practices is not None:
                query = query.where(t.c.practice_id.in_(practices))
            queries.append(query)
        if parts:
            f = ReferralFacts
            days = sa.or_(*(f.received_on.between(a, b) for a, b in parts))
            where = [days] if practices is None else [days, f.practice_id.in_(practices)]
            queries.append(grouped_facts(where))
    groups = []
    for query in queries:
        for row in db.session.execute(query).mappings():
            group = dict(row)
            group["month"] = str(group["month"])[:7]
            groups.append(group)
    return ReferralSummary(groups)


def referrals_by_neighbourhood(
    scope: Scope | None = None, summary: ReferralSummary | None = None
) -> list[tuple[str, int]]:
    """Referrals from practices received in the scope, by the practice's Integrated
    Neighbourhood Team. Every team is listed, with 0 where it had none; a scope limited
    to some practices lists only their teams."""
    summary = summary or summarise(scope)
    by_practice = summary.by("practice_id")
    query = sa.select(Neighbourhood.id, Neighbourhood.name).order_by(Neighbourhood.name)
    if scope is not None and scope.practice_ids is not None:
        # Only the teams of the practices in scope: another team's 0 would be false.
        teams = sa.select(Practice.neighbourhood_id).where(Practice.id.in_(scope.practice_ids))
        query = query.where(Neighbourhood.id.in_(teams))
    team_of = dict(db.session.execute(sa.select(Practice.id, Practice.neighbourhood_id)).all())
    counts: dict[int, int] = {}
    for practice_id, n in by_practice.items():
        team = team_of.get(practice_id)
        counts[team] = counts.get(team, 0) + n
    return [(name, counts.get(team, 0)) for team, name in db.session.execute(query)]


def referrals_received(scope: Scope, summary: ReferralSummary | None = None) -> int:
    """Referrals received in the scope, whatever happened to them since."""
    return int((summary or summarise(scope)).total("received"))


def referrals_by_source(
    scope: Scope, summary: ReferralSummary | None = None
) -> list[tuple[str, int]]:
    """Referrals received in the scope, by who referred: practice, self or professional."""
    counts = {s: n for s, n in (summary or summarise(scope)).by("source").items() if n}
    return [(source.label, counts[source]) for source in sorted(counts, key=str)]


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


def referrals_per_1000(scope: Scope, summary: ReferralSummary | None = None) -> list[PracticeRate]:
    """For each practice in the scope: referrals it made (Referral.practice_id) received in
    the range, and that count per 1,000 patients on its list (Practice.list_size)."""
    counts = (summary or summarise(scope)).by("practice_id")
    query = sa.select(Practice.id, Practice.name, Practice.list_size).order_by(Practice.name)
    if scope.practice_ids is not None:
        query = query.where(Practice.id.in_(scope.practice_ids))
    return [
        PracticeRate(name, counts.get(pid, 0), size)
        for pid, name, size in db.session.execute(query)
    ]


def referrals_by_reason(
    scope: Scope, summary: ReferralSummary | None = None
) -> list[tuple[str, int]]:
    """Reasons given on referrals received in the scope. A referral with two reasons counts
    once under each, so the counts add up to more than the referrals."""
    summary = summary or summarise(scope)
    return [
        (reason.label, int(summary.total(f"reason_{reason.value}"))) for reason in ReferralReason
    ]


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


def referrals_by_month(
    scope: Scope, summary: ReferralSummary | None = None
) -> list[tuple[str, int]]:
    """Referrals received in the scope, by the UK month received (YYYY-MM), every month
    in the range listed."""
    counts = (summary or summarise(scope)).by("month")
    months = [f"{m:%Y-%m}" for m in _month_starts(scope.start, scope.end)]
    return [(m, counts.get(m, 0)) for m in months]


@dataclass(frozen=True)
class Conversion:
    referred: int
    contacted: int
    engaged: int
    goals_met: int


def conversion(scope: Scope, summary: ReferralSummary | None = None) -> Conversion:
    """Of the referrals received in the scope: how many the hub reached (a first successful
    contact is recorded), how many engaged (a navigator had a successful contact after
    assigning them), and how many closed with goals met."""
    summary = summary or summarise(scope)
    return Conversion(
        *(int(summary.total(n)) for n in ("received", "contacted", "engaged", "goals_met"))
    )


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


def _working_day_spread(days_column, scope: Scope) -> Spread:
    # The working days are in the facts, so the database returns one row per number of
    # days, however many referrals there are.
    refresh_facts()
    values = [
        (days, n)
        for days, n in db.session.execute(
            sa.select(days_column, sa.func.count())
            .where(*_facts_in(scope), days_column.is_not(None))
            .group_by(days_column)
        )
    ]
    people = sum(n for _, n in values)
    return Spread(people, _weighted_percentile(values, 0.5), _weighted_percentile(values, 0.9))


def time_to_first_contact(scope: Scope) -> Spread:
    """Working days from a referral being received to the first successful contact with
    the person, for referrals received in the scope that have been reached."""
    return _working_day_spread(ReferralFacts.days_to_first_contact, scope)


def time_to_triage(scope: Scope) -> Spread:
    """Working days from a referral being received to its triage decision, for referrals
    received in the scope that have been triaged."""
    return _working_day_spread(ReferralFacts.days_to_triage, scope)


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


@dataclass(frozen=True)
class MeasureChanges:
    swemwbs: WellbeingChange
    ucla3: WellbeingChange
    ons4: list[ItemChange]


def measure_changes(scope: Scope, summary: ReferralSummary | None = None) -> MeasureChanges:
    """People referred in the scope with a baseline and a closing sitting of a scale, and
    how their answers changed: the first baseline against the last closing sitting, with
    sittings the person declined (or left empty) skipped. For SWEMWBS (metric score,
    higher is better) and UCLA-3 (total, lower is better): the mean of (closing minus
    baseline) and how many changed for the better. For ONS4, each of the four questions
    (0 to 10) the same way, higher being better except for anxiety; the four answers are
    never added together."""
    summary = summary or summarise(scope)

    def change(key: str, higher_is_better: bool) -> tuple[int, float | None, int]:
        people = int(summary.total(f"{key}_people"))
        mean = round(float(summary.total(f"{key}_total")) / people, 2) if people else None
        improved = int(summary.total(f"{key}_up" if higher_is_better else f"{key}_down"))
        return people, mean, improved

    questions = [
        ItemChange(item, *change(f"ons4_{i + 1}", higher))
        for i, (item, higher) in enumerate(ONS4_ITEMS)
    ]
    return MeasureChanges(
        WellbeingChange(Scale.SWEMWBS, *change("swemwbs", True)),
        WellbeingChange(Scale.UCLA3, *change("ucla3", False)),
        questions,
    )


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


def summarise_uptake(scope: Scope) -> list[tuple[str, int, int, int]]:
    """Activity referrals sent or signposted for people referred in the scope, as
    (organisation, categories mask, referrals, taken up): one query for both uptake
    tables."""
    refresh_facts()
    a = ActivityReferralFacts
    conditions = [a.received_on >= scope.start, a.received_on <= scope.end]
    if scope.practice_ids is not None:
        conditions.append(a.practice_id.in_(scope.practice_ids))
    grouped = (
        sa.select(
            a.organisation_id,
            a.categories_mask,
            sa.func.count().label("sent"),
            _flag(a.taken_up.is_(True)).label("taken"),
        )
        .where(*conditions)
        .group_by(a.organisation_id, a.categories_mask)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            Organisation.name, grouped.c.categories_mask, grouped.c.sent, grouped.c.taken
        ).join(Organisation, Organisation.id == grouped.c.organisation_id)
    )
    return [(org, mask, n, taken or 0) for org, mask, n, taken in rows]


def activity_uptake(scope: Scope, uptake: list | None = None) -> list[tuple[str, int, int]]:
    """Activity referrals made for people referred in the scope, by the organisation
    running the activity: (organisation, referrals, taken up). A referral counts when it
    was sent to the organisation or the person was signposted; suggestions a navigator
    never acted on do not. Taken up means accepted, attended or attended then stopped."""
    counts: dict[str, list[int]] = {}
    for org, _, n, taken in uptake if uptake is not None else summarise_uptake(scope):
        cells = counts.setdefault(org, [0, 0])
        cells[0] += n
        cells[1] += taken
    return [(org, n, taken) for org, (n, taken) in sorted(counts.items())]


def activity_uptake_by_category(
    scope: Scope, uptake: list | None = None
) -> list[tuple[str, int, int]]:
    """The same activity referrals as `activity_uptake`, by the activity's categories:
    (category, referrals, taken up). An activity in two categories counts under each.
    Every category is listed."""
    groups = uptake if uptake is not None else summarise_uptake(scope)
    out = []
    for category in ActivityCategory:
        bit = CATEGORY_BITS[category.value]
        in_category = [(n, taken) for _, mask, n, taken in groups if mask & bit]
        out.append((category.label, sum(n for n, _ in in_category), sum(t for _, t in in_category)))
    return out


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


def volunteer_time_by_month(scope: Scope) -> list[VolunteerMonth]:
    """Time volunteers gave in each UK month of the range: minutes on contacts they logged
    with the people they support plus other hours they logged (training, travel, events),
    in hours to one decimal place, and how many volunteers logged any time that month
    (active volunteers). Volunteers serve the whole hub, so a practice filter does not
    narrow these."""
    refresh_facts()
    whole, parts = _whole_months(scope.start, scope.end)
    found: dict[str, tuple[int, int]] = {}
    if whole is not None:
        t = VolunteerTimeMonth
        rows = db.session.execute(
            sa.select(t.month, t.minutes, t.volunteers).where(t.month.between(*whole))
        )
        found.update({f"{month:%Y-%m}": (int(m or 0), n) for month, m, n in rows})
    if parts:
        found.update({month: (m, n) for month, m, n in time_given_by_month(parts)})
    out = []
    for m in _month_starts(scope.start, scope.end):
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
