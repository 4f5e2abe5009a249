"""The commissioner dashboard's tables: each a caption, headers and suppressed rows.

The page, its charts and the CSV downloads all come from here, so they always agree.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import date, datetime

from portal.dashboard import hub_kpis, kpis
from portal.dashboard.charts import bar_chart, line_chart
from portal.dashboard.kpis import Scope, suppress


@dataclass(frozen=True)
class Table:
    key: str
    caption: str
    headers: tuple[str, ...]
    rows: list[tuple]
    chart: str | None = None  # "bar" or "line": drawn from the first two columns
    # Whether the charted column counts people, so 1 to 4 are drawn as "<5".
    counts_people: bool = True
    # What was counted and how: the docstring of the KPI function behind the table.
    definition: str = ""
    notes: list[str] = field(default_factory=list)


def definition(kpi) -> str:
    """A KPI function's docstring as one paragraph: the evaluation pack's method note."""
    return " ".join(inspect.cleandoc(kpi.__doc__ or "").split())


def _shown_rate(rate: kpis.PracticeRate) -> str:
    # A rate from 1 to 4 referrals would give the count away: list sizes are public.
    if 0 < rate.referrals < kpis.SMALL_NUMBER:
        return "not shown"
    return "list size not known" if rate.per_1000 is None else f"{rate.per_1000:.2f}"


@dataclass(frozen=True)
class Figures:
    """Everything the commissioner dashboard shows for one scope."""

    received: int
    headlines: list[Headline]
    tables: list[Table]
    charts: dict
    # Their markup, by the area's value and label: kept with the figures it shows.
    rendered: dict = field(default_factory=dict, compare=False)


def work_out(scope: Scope) -> Figures:
    summary = kpis.summarise(scope)
    received = kpis.referrals_received(scope, summary)
    if not received:
        return Figures(received, [], [], {})
    shown, tables = commissioner_figures(scope, summary)
    return Figures(received, shown, tables, charts_for(tables))


def commissioner_figures(
    scope: Scope, summary: kpis.ReferralSummary | None = None
) -> tuple[list[Headline], list[Table]]:
    """The headline figures and the tables, each figure worked out once: the referral
    figures from one pass over the facts, the uptake tables from another."""
    summary = summary or kpis.summarise(scope)
    volunteers = kpis.volunteer_time_by_month(scope)
    return (
        headlines(scope, summary, volunteers),
        commissioner_tables(scope, summary, volunteers),
    )


def commissioner_tables(
    scope: Scope,
    summary: kpis.ReferralSummary | None = None,
    volunteers: list[kpis.VolunteerMonth] | None = None,
) -> list[Table]:
    summary = summary or kpis.summarise(scope)
    uptake = kpis.summarise_uptake(scope)
    rates = kpis.referrals_per_1000(scope, summary)
    conv = kpis.conversion(scope, summary)
    volunteers = volunteers if volunteers is not None else kpis.volunteer_time_by_month(scope)
    tables = [
        Table(
            "per_1000",
            "Referrals per 1,000 registered patients, by practice",
            ("Practice", "Referrals", "Per 1,000 patients"),
            [(r.practice, suppress(r.referrals), _shown_rate(r)) for r in rates],
            definition=definition(kpis.referrals_per_1000),
        ),
        Table(
            "by_month",
            "Referrals received, by month",
            ("Month", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_month(scope, summary), (1,)),
            chart="line",
            definition=definition(kpis.referrals_by_month),
        ),
        Table(
            "by_reason",
            "Reasons for referral",
            ("Reason", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_reason(scope, summary), (1,)),
            chart="bar",
            notes=["A referral with more than one reason is counted under each."],
            definition=definition(kpis.referrals_by_reason),
        ),
        Table(
            "by_team",
            "Referrals by Integrated Neighbourhood Team",
            ("Neighbourhood team", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_neighbourhood(scope, summary), (1,)),
            chart="bar",
            definition=definition(kpis.referrals_by_neighbourhood),
        ),
        Table(
            "conversion",
            "From referral to outcome",
            ("Stage", "People"),
            [
                ("Referred", suppress(conv.referred)),
                ("Contacted", suppress(conv.contacted)),
                ("Engaged with a navigator", suppress(conv.engaged)),
                ("Closed with goals met", suppress(conv.goals_met)),
            ],
            chart="bar",
            definition=definition(kpis.conversion),
        ),
        Table(
            "wellbeing",
            "Change in wellbeing from first to last measure",
            ("Measure", "People measured twice", "Mean change", "Share improved"),
            _wellbeing_rows(scope, summary),
            notes=[
                "Each person's first baseline and last closing answers are compared; "
                "figures based on fewer than 5 people are not shown.",
                "SWEMWBS: higher is better (metric score, 7 to 35). "
                "UCLA-3: lower is better (3 to 9). "
                "ONS4: each question 0 to 10, higher is better except anxiety.",
            ],
            definition=definition(kpis.measure_changes),
        ),
        Table(
            "activity_categories",
            "Activity referrals, by kind of activity",
            ("Kind of activity", "Referrals", "Taken up"),
            kpis.suppressed_rows(kpis.activity_uptake_by_category(scope, uptake), (1, 2)),
            chart="bar",
            notes=[
                "An activity of two kinds is counted under each. Taken up: the "
                "organisation accepted the person, or they went."
            ],
            definition=definition(kpis.activity_uptake_by_category),
        ),
        Table(
            "activity_organisations",
            "Activity referrals, by organisation",
            ("Organisation", "Referrals", "Taken up"),
            kpis.suppressed_rows(kpis.activity_uptake(scope, uptake), (1, 2)),
            definition=definition(kpis.activity_uptake),
        ),
        Table(
            "volunteer_time",
            "Time given by volunteers, by month",
            ("Month", "Hours", "Volunteers who gave time"),
            [(v.month, str(v.hours), suppress(v.volunteers)) for v in volunteers],
            chart="line",
            counts_people=False,
            notes=[
                "Contacts volunteers logged with the people they support, and other "
                "hours they logged. Volunteers serve the whole hub, so the practice "
                "filter does not narrow this table."
            ],
            definition=definition(kpis.volunteer_time_by_month),
        ),
        Table(
            "reports_on_time",
            "Outcome reports to GP practices, by month the period ended",
            ("Month", "Due", "On time", "Late", "Not sent", "Portal inbox only"),
            [
                (r.month, r.due, r.on_time, r.late, r.not_sent, r.inbox_only)
                for r in kpis.reports_on_time(scope)
            ],
            notes=[
                "On time: emailed by the end of the day after the period ended. "
                "Portal inbox only: the practice has no mailbox set."
            ],
            definition=definition(kpis.reports_on_time),
        ),
    ]
    return tables


def _change_row(label: str, people: int, mean: float | None, share: float | None) -> tuple:
    if not people:
        return (label, "no data", "no data", "no data")
    if people < kpis.SMALL_NUMBER:
        return (label, suppress(people), "not shown", "not shown")
    return (
        label,
        str(people),
        "no data" if mean is None else f"{mean:+.2f}",
        "no data" if share is None else f"{round(100 * share)}%",
    )


def _wellbeing_rows(scope: Scope, summary: kpis.ReferralSummary) -> list[tuple]:
    rows = []
    changes = kpis.measure_changes(scope, summary)
    for c in (changes.swemwbs, changes.ucla3):
        rows.append(_change_row(c.scale.label, c.people, c.mean_change, c.share_improved))
    for c in changes.ons4:
        rows.append(_change_row(f"ONS4: {c.item}", c.people, c.mean_change, c.share_improved))
    return rows


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    detail: str = ""


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "no data"


def headlines(
    scope: Scope,
    summary: kpis.ReferralSummary | None = None,
    volunteers: list[kpis.VolunteerMonth] | None = None,
) -> list[Headline]:
    """The figures a commissioner reads first, for the page and the evaluation pack."""
    conv = kpis.conversion(scope, summary)
    contact = kpis.time_to_first_contact(scope)
    volunteers = volunteers if volunteers is not None else kpis.volunteer_time_by_month(scope)
    small = conv.referred < kpis.SMALL_NUMBER

    def share(part: int) -> str:
        return "not shown" if small or part < kpis.SMALL_NUMBER else _percent(part, conv.referred)

    return [
        Headline("Referrals received", suppress(conv.referred)),
        Headline("Reached by the hub", share(conv.contacted), "of referrals received"),
        Headline("Closed with goals met", share(conv.goals_met), "of referrals received"),
        Headline(
            "Working days to first contact",
            "no data" if contact.people < kpis.SMALL_NUMBER else f"{contact.median:g}",
            "median"
            if contact.people < kpis.SMALL_NUMBER
            else f"median; 9 in 10 within {contact.p90:g}",
        ),
        Headline(
            "Volunteer hours", f"{sum(v.hours for v in volunteers):,.0f}", "given in these dates"
        ),
        Headline("Active volunteers", suppress(kpis.active_volunteers()), "today"),
    ]


def charts_for(tables: list[Table]) -> dict:
    """The chart for each table that has one, by the table's key."""
    charts = {}
    for table in tables:
        draw = {"bar": bar_chart, "line": line_chart}.get(table.chart)
        if draw is not None:
            rows = chart_rows(table)
            if table.chart == "line":
                rows = [(month_label(label), value) for label, value in rows]
            charts[table.key] = draw(rows, suppress_small=table.counts_people)
    return charts


def month_label(month: str) -> str:
    """'2026-03' as 'Mar 2026' for a chart's axis; other labels unchanged."""
    try:
        return datetime.strptime(month, "%Y-%m").strftime("%b %Y")
    except ValueError:
        return month


def chart_rows(table: Table) -> list[tuple[str, float | None]]:
    """The first two columns as numbers for a chart drawn with `suppress_small`.

    A suppressed "<5" stands in as 1, which the chart draws as nothing and labels "<5";
    "no data" becomes None."""
    out = []
    for row in table.rows:
        label, shown = str(row[0]), str(row[1])
        if shown == f"<{kpis.SMALL_NUMBER}":
            out.append((label, 1.0))
            continue
        try:
            out.append((label, float(shown)))
        except ValueError:
            out.append((label, None))
    return out


def hub_tables(today: date) -> list[Table]:
    """The hub dashboard's tables. Hub staff work with named records, so nothing here is
    suppressed; each row is still a count, never a person."""
    by_source = hub_kpis.received_by_source(today)
    by_practice = hub_kpis.received_by_practice(today)
    recent = hub_kpis.recent_scope(today)
    spreads = [
        ("Referral to first contact", kpis.time_to_first_contact(recent)),
        ("Referral to triage decision", kpis.time_to_triage(recent)),
    ]
    loads = hub_kpis.caseload_by_navigator()
    return [
        Table(
            "received_by_source",
            "Referrals received this week and this month, by source",
            ("Source", "This week", "This month"),
            [(r.label, r.this_week, r.this_month) for r in by_source],
        ),
        Table(
            "received_by_practice",
            "Referrals received this week and this month, by practice",
            ("Practice", "This week", "This month"),
            [(r.label, r.this_week, r.this_month) for r in by_practice],
        ),
        Table(
            "time_to_act",
            "Working days from referral, for referrals received in the last 90 days",
            ("Step", "Median", "9 in 10 within", "Referrals"),
            [
                (
                    label,
                    "no data" if s.median is None else f"{s.median:g}",
                    "no data" if s.p90 is None else f"{s.p90:g}",
                    s.people,
                )
                for label, s in spreads
            ],
        ),
        Table(
            "caseloads",
            "Open cases per navigator, against their capacity",
            ("Navigator", "Open cases", "Capacity", "Use"),
            [
                (
                    n.navigator,
                    n.open_cases,
                    "not set" if n.capacity is None else n.capacity,
                    "not set" if n.use is None else f"{n.use}%",
                )
                for n in loads
            ],
            chart="bar",
            counts_people=False,
            notes=["Open cases are referrals assigned to the navigator and not yet closed."],
        ),
        Table(
            "activity_responses",
            "Activity referrals waiting for an organisation to respond",
            ("Organisation", "Waiting", "Past the respond-by date"),
            [
                (r.organisation, r.waiting, r.past_respond_by)
                for r in hub_kpis.activity_referrals_awaiting(today)
            ],
        ),
        Table(
            "volunteers",
            "Volunteers, by status",
            ("Status", "Volunteers"),
            hub_kpis.volunteers_by_status(),
            chart="bar",
            counts_people=False,
        ),
    ]
