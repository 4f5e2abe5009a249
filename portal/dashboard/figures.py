"""The commissioner dashboard's tables: each a caption, headers and suppressed rows.

The page, its charts and the CSV downloads all come from here, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.dashboard import kpis
from portal.dashboard.kpis import Scope, suppress
from portal.measures.models import Scale


@dataclass(frozen=True)
class Table:
    key: str
    caption: str
    headers: tuple[str, ...]
    rows: list[tuple]
    chart: str | None = None  # "bar" or "line": drawn from the first two columns
    notes: list[str] = field(default_factory=list)


def _rate(value: float | None) -> str:
    return "not known" if value is None else f"{value:.2f}"


def commissioner_tables(scope: Scope) -> list[Table]:
    rates = kpis.referrals_per_1000(scope)
    conv = kpis.conversion(scope)
    tables = [
        Table(
            "per_1000",
            "Referrals per 1,000 registered patients, by practice",
            ("Practice", "Referrals", "Per 1,000 patients"),
            [(r.practice, suppress(r.referrals), _rate(r.per_1000)) for r in rates],
        ),
        Table(
            "by_month",
            "Referrals received, by month",
            ("Month", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_month(scope), (1,)),
            chart="line",
        ),
        Table(
            "by_reason",
            "Reasons for referral",
            ("Reason", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_reason(scope), (1,)),
            chart="bar",
            notes=["A referral with more than one reason is counted under each."],
        ),
        Table(
            "by_team",
            "Referrals by Integrated Neighbourhood Team",
            ("Neighbourhood team", "Referrals"),
            kpis.suppressed_rows(kpis.referrals_by_neighbourhood(scope), (1,)),
            chart="bar",
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
        ),
        Table(
            "wellbeing",
            "Change in wellbeing from first to last measure",
            ("Measure", "People measured twice", "Mean change", "Share improved"),
            _wellbeing_rows(scope),
            notes=[
                "SWEMWBS: higher is better (metric score, 7 to 35). "
                "UCLA-3: lower is better (3 to 9)."
            ],
        ),
        Table(
            "activities",
            "Activity referrals, by organisation and activity",
            ("Organisation", "Activity", "Referrals sent", "Taken up"),
            kpis.suppressed_rows(kpis.activity_uptake(scope), (2, 3)),
        ),
    ]
    return tables


def _wellbeing_rows(scope: Scope) -> list[tuple]:
    rows = []
    for scale in (Scale.SWEMWBS, Scale.UCLA3):
        change = kpis.wellbeing_change(scope, scale)
        small = change.people < kpis.SMALL_NUMBER
        rows.append(
            (
                scale.label,
                suppress(change.people) if change.people else "no data",
                "no data" if small or change.mean_change is None else f"{change.mean_change:+.2f}",
                "no data"
                if small or change.share_improved is None
                else f"{round(100 * change.share_improved)}%",
            )
        )
    return rows


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
