"""The dashboards in a real browser: a commissioner reads the outcomes dashboard, narrows it
to one neighbourhood team and a few months (htmx, no page load), reads a chart against its
table, downloads a table as CSV and the evaluation pack as PDF, and corrects dates entered
the wrong way round; a coordinator opens the hub dashboard and follows a figure to its list.

Every expected figure is worked out here from the records this file makes, in practices
and teams of its own, so other journeys sharing the live server do not change them."""

from __future__ import annotations

import calendar
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from portal.auth.models import Role
from portal.db_types import london_today, utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus, ActivityStatus
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import ClosureReason, ReferralReason, ReferralStatus, Route
from tests import factories

pytestmark = pytest.mark.browser

# --- the records: two neighbourhood teams, four practices, referrals over six months -------

TEAM_A = "Sowe Valley Neighbourhood Team"
TEAM_B = "Canley Brook Neighbourhood Team"
# key: (name, team, list size)
PRACTICES = {
    "A": ("Alderminster Road Surgery", TEAM_A, 6000),
    "B": ("Birchwood Lane Medical Centre", TEAM_A, 9500),
    "C": ("Cedarhurst Practice", TEAM_B, 4000),
    "D": ("Damson Close Health Centre", TEAM_B, 7200),
}
KITCHEN, LUNCH = "Coundon Community Kitchen", "Thursday lunch club"
WALKERS, WALK = "Greenway Walkers", "Walking for health"
# key: (organisation, activity title, categories)
ACTIVITIES = {
    "lunch": (KITCHEN, LUNCH, ("social_connection",)),
    "walk": (WALKERS, WALK, ("physical_activity", "nature")),
}
WAITING_GIVEN, WAITING_FAMILY = "Philippa", "Ashworth-Lyle"

L, M, B, C = (
    ReferralReason.LONELINESS,
    ReferralReason.LOW_MOOD,
    ReferralReason.BEREAVEMENT,
    ReferralReason.CARER_SUPPORT,
)
ATTENDED, ACCEPTED, SENT, DECLINED, SIGNPOSTED, SUGGESTED = (
    ActivityReferralStatus.ATTENDED,
    ActivityReferralStatus.ACCEPTED,
    ActivityReferralStatus.SENT,
    ActivityReferralStatus.DECLINED,
    ActivityReferralStatus.SIGNPOSTED,
    ActivityReferralStatus.SUGGESTED,
)

# First and last answers on each scale: (baseline, closing).
MEASURES = {
    "better": {
        Scale.SWEMWBS: ([2] * 7, [3] * 7),
        Scale.UCLA3: ([3, 3, 2], [2, 2, 2]),
        Scale.ONS4: ([4, 5, 3, 7], [6, 6, 5, 5]),
    },
    "much better": {
        Scale.SWEMWBS: ([2, 2, 3, 2, 2, 3, 2], [4, 4, 4, 3, 4, 4, 4]),
        Scale.UCLA3: ([3, 3, 3], [1, 2, 1]),
        Scale.ONS4: ([2, 3, 2, 8], [7, 8, 7, 3]),
    },
    "worse": {
        Scale.SWEMWBS: ([3] * 7, [2, 3, 2, 3, 2, 3, 2]),
        Scale.UCLA3: ([2, 2, 1], [3, 2, 2]),
        Scale.ONS4: ([6, 6, 6, 4], [5, 6, 4, 6]),
    },
}


@dataclass(frozen=True)
class Spec:
    """One referral: where from, when (whole months before this one), why, how far it got."""

    practice: str
    months_ago: int
    reasons: tuple[ReferralReason, ...]
    contacted: bool = False
    engaged: bool = False
    goals_met: bool = False
    measured: str | None = None  # a key of MEASURES
    activities: tuple[tuple[str, ActivityReferralStatus], ...] = ()


def _spec(practice, months_ago, reasons, progress="", measured=None, activities=()):
    """progress: "c" contacted, "ce" engaged too, "ceg" closed with goals met too."""
    return Spec(
        practice,
        months_ago,
        reasons,
        contacted="c" in progress,
        engaged="e" in progress,
        goals_met="g" in progress,
        measured=measured,
        activities=activities,
    )


SPECS = (
    # Team A, two to four months ago: the figures the commissioner narrows the page to.
    _spec("A", 2, (L, M), "ceg", "better", (("lunch", ATTENDED),)),
    _spec("A", 2, (L,), "ceg", "much better", (("lunch", ATTENDED), ("walk", ATTENDED))),
    _spec("A", 2, (L, B), "ce", None, (("lunch", ACCEPTED),)),
    _spec("A", 3, (L, M), "ceg", "better", (("lunch", ATTENDED),)),
    _spec("A", 3, (L,), "c"),
    _spec("A", 3, (L, B)),
    _spec("A", 3, (L, C), "ce", "worse", (("lunch", SENT),)),
    _spec("A", 4, (L, M), "ceg", None, (("walk", SIGNPOSTED),)),
    _spec("A", 4, (L,)),
    _spec("B", 2, (L, M), "ceg", "much better", (("lunch", ACCEPTED),)),
    _spec("B", 2, (L,), "c", None, (("walk", SUGGESTED),)),
    _spec("B", 3, (L, B), "ce", None, (("lunch", DECLINED),)),
    _spec("B", 3, (L,), "ceg", "better"),
    _spec("B", 3, (L, M), "c"),
    _spec("B", 4, (L,)),
    _spec("B", 4, (L, M), "ce"),
    _spec("B", 4, (L,), "c"),
    # Outside the narrowed dates or area.
    _spec("A", 5, (L, M), "ceg", "better", (("lunch", ATTENDED),)),
    _spec("A", 5, (L,), "c"),
    _spec("B", 6, (L,)),
    _spec("C", 3, (L, ReferralReason.HOUSING), "ceg", "better", (("lunch", ATTENDED),)),
    _spec("C", 3, (L,)),
    _spec("C", 4, (L, ReferralReason.MONEY), "c"),
    _spec("D", 2, (L, M), "ceg", "much better", (("walk", ATTENDED),)),
    _spec("D", 2, (L,), "c"),
    _spec("D", 3, (L, ReferralReason.HOUSING), "ce"),
    _spec("D", 3, (L,)),
    _spec("D", 5, (L, M), "ceg"),
    _spec("D", 5, (L,), "c"),
    _spec("D", 5, (L, B)),
)
# Received today and waiting for the hub's triage decision.
WAITING = _spec("D", 0, (L,))


def _month_start(today: date, months_ago: int) -> date:
    month = today.month - months_ago
    year = today.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass
class Dashboard:
    """What the records are, for working out the figures the pages should show."""

    today: date
    waiting_reference: str
    specs: tuple[Spec, ...] = SPECS
    team_ids: dict[str, int] = field(default_factory=dict)

    def received_on(self, spec: Spec) -> date:
        return self.today if spec.months_ago == 0 else self.month(spec.months_ago).replace(day=10)

    def month(self, months_ago: int) -> date:
        return _month_start(self.today, months_ago)

    def chosen(self, practices: str, start: date, end: date) -> list[Spec]:
        return [
            s
            for s in (*self.specs, WAITING)
            if s.practice in practices and start <= self.received_on(s) <= end
        ]


def _at(day: date, minute: int) -> datetime:
    """Midday UTC: the same date in the UK, summer or winter."""
    return datetime(day.year, day.month, day.day, 12, minute, tzinfo=UTC)


def _measure(referral_id, author_id, scale, stage, answers, at) -> None:
    db.session.add(
        MeasureResponse(
            referral_id=referral_id,
            scale=scale,
            stage=stage,
            answers=answers,
            score=scales.score(scale, answers),
            recorded_by_id=author_id,
            recorded_at=at,
        )
    )


def _make_referral(data: Dashboard, spec: Spec, n: int, practices, navigator, activities):
    received = (
        utcnow() - timedelta(minutes=5)
        if spec.months_ago == 0
        else _at(data.received_on(spec), n % 60)
    )
    kw: dict = {"received_at": received, "status": ReferralStatus.RECEIVED}
    if spec.contacted:
        kw.update(
            status=ReferralStatus.CLOSED,
            closure_reason=ClosureReason.SIGNPOSTED,
            closed_at=received + timedelta(days=9),
            first_contact_at=received + timedelta(days=2),
            triaged_at=received + timedelta(days=3),
            route=Route.SIGNPOST,
        )
    elif spec.months_ago:
        kw.update(
            status=ReferralStatus.CLOSED,
            closure_reason=ClosureReason.UNABLE_TO_CONTACT,
            closed_at=received + timedelta(days=15),
        )
    if spec.engaged:
        kw.update(
            status=ReferralStatus.ACTIVE,
            closure_reason=None,
            closed_at=None,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            navigator_id=navigator.id,
            assigned_at=received + timedelta(days=4),
        )
    if spec.goals_met:
        kw.update(
            status=ReferralStatus.CLOSED,
            closure_reason=ClosureReason.GOALS_MET,
            closed_at=received + timedelta(days=30),
        )
    resident_kw = (
        {"given_name": WAITING_GIVEN, "family_name": WAITING_FAMILY} if spec is WAITING else {}
    )
    resident = factories.make_resident(practice_id=practices[spec.practice].id, **resident_kw)
    referral = factories.make_referral(
        resident=resident, practice=practices[spec.practice], reasons=spec.reasons, **kw
    )
    if spec.engaged:
        factories.make_contact(referral, navigator, occurred_at=received + timedelta(days=6))
    if spec.measured:
        for scale, (first, last) in MEASURES[spec.measured].items():
            _measure(
                referral.id,
                navigator.id,
                scale,
                Stage.BASELINE,
                first,
                received + timedelta(days=5),
            )
            _measure(
                referral.id, navigator.id, scale, Stage.CLOSING, last, received + timedelta(days=28)
            )
    for key, status in spec.activities:
        db.session.add(
            ActivityReferral(
                referral_id=referral.id,
                activity_id=activities[key].id,
                status=status,
                consent_confirmed=True,
                created_by_id=navigator.id,
                sent_at=None if status == SUGGESTED else received + timedelta(days=7),
                decline_reason="The group is full this term" if status == DECLINED else None,
            )
        )
    db.session.commit()
    return referral


@pytest.fixture(scope="module")
def dashboard_data(live_server) -> Dashboard:
    with live_server.app.app_context():
        today = london_today()
        navigator = factories.make_user(Role.NAVIGATOR, full_name="Imogen Threlfall")
        teams = {name: factories.make_neighbourhood(name=name) for name in (TEAM_A, TEAM_B)}
        practices = {
            key: factories.make_practice(teams[team], name=name, list_size=size)
            for key, (name, team, size) in PRACTICES.items()
        }
        activities = {}
        for key, (organisation, title, categories) in ACTIVITIES.items():
            # Archived, so they never turn up in other journeys' directory searches.
            activities[key] = factories.make_activity(
                factories.make_organisation(name=organisation),
                title=title,
                categories=list(categories),
                status=ActivityStatus.ARCHIVED,
            )
        data = Dashboard(today=today, waiting_reference="")
        for n, spec in enumerate(SPECS):
            _make_referral(data, spec, n, practices, navigator, activities)
        waiting = _make_referral(data, WAITING, len(SPECS), practices, navigator, activities)
        data.waiting_reference = waiting.reference
        data.team_ids = {name: team.id for name, team in teams.items()}
        db.session.remove()
    return data


# --- expected figures, worked out from the records ----------------------------------------


def _shown(count: int) -> str:
    return "<5" if 0 < count < 5 else str(count)


def _percent(part: int, whole: int) -> str:
    return "not shown" if whole < 5 or part < 5 else f"{round(100 * part / whole)}%"


def _rate(referrals: int, list_size: int) -> list[str]:
    if 0 < referrals < 5:
        return [_shown(referrals), "not shown"]
    return [str(referrals), f"{round(1000 * referrals / list_size, 2):.2f}"]


def _expected_reasons(specs: list[Spec]) -> list[list[str]]:
    return [
        [reason.label, _shown(sum(reason in s.reasons for s in specs))] for reason in ReferralReason
    ]


def _expected_conversion(specs: list[Spec]) -> list[list[str]]:
    return [
        ["Referred", _shown(len(specs))],
        ["Contacted", _shown(sum(s.contacted for s in specs))],
        ["Engaged with a navigator", _shown(sum(s.engaged for s in specs))],
        ["Closed with goals met", _shown(sum(s.goals_met for s in specs))],
    ]


def _activity_rows(specs: list[Spec]):
    sent = [(key, status) for s in specs for key, status in s.activities if status != SUGGESTED]
    taken_up = (ACCEPTED, ATTENDED, ActivityReferralStatus.STOPPED)
    return sent, taken_up


def _expected_organisations(specs: list[Spec]) -> list[list[str]]:
    sent, taken_up = _activity_rows(specs)
    rows = []
    for key, (organisation, _, _) in sorted(ACTIVITIES.items(), key=lambda kv: kv[1][0]):
        mine = [status for k, status in sent if k == key]
        if mine:
            rows.append([organisation, _shown(len(mine)), _shown(sum(s in taken_up for s in mine))])
    return rows


def _expected_categories(specs: list[Spec]) -> dict[str, list[str]]:
    from portal.directory.models import ActivityCategory

    sent, taken_up = _activity_rows(specs)
    out = {}
    for category in ActivityCategory:
        mine = [status for k, status in sent if category.value in ACTIVITIES[k][2]]
        out[category.label] = [
            category.label,
            _shown(len(mine)),
            _shown(sum(s in taken_up for s in mine)),
        ]
    return out


def _changes(specs: list[Spec], scale: Scale) -> list[float]:
    out = []
    for s in specs:
        if s.measured:
            first, last = MEASURES[s.measured][scale]
            out.append(scales.score(scale, last) - scales.score(scale, first))
    return out


def _ons4_changes(specs: list[Spec], item: int) -> list[int]:
    out = []
    for s in specs:
        if s.measured:
            first, last = MEASURES[s.measured][Scale.ONS4]
            out.append(last[item] - first[item])
    return out


# --- the browser -----------------------------------------------------------------------------


def _log_in(page, live_server, role: Role) -> None:
    account = live_server.accounts[role]
    page.goto("/login")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + account.start_path)


def _header_link(page, name: str):
    """A link in the header's menu, opening the "More" list first if it has been moved there."""
    page.wait_for_load_state("load")
    menu = page.get_by_role("navigation", name="Menu")
    link = menu.get_by_role("link", name=name, exact=True)
    if not link.is_visible():
        menu.get_by_role("button", name=re.compile("More|Browse", re.I)).click()
    return link


def _htmx_ready(page) -> None:
    # htmx is a deferred script: wait until it has run, or a quick click is a plain submit.
    page.wait_for_load_state("load")
    page.wait_for_function("typeof htmx === 'object'")


def _fill_date(page, legend: str, day: date) -> None:
    group = page.get_by_role("group", name=legend, exact=True)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def _section(page, caption: str):
    return page.locator("#figures").get_by_role("region", name=caption, exact=True)


def _table(section) -> tuple[list[str], list[list[str]]]:
    table = section.get_by_role("table")
    headers = [h.strip() for h in table.locator("thead th").all_text_contents()]
    rows = table.evaluate(
        "t => [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return headers, rows


def _row(rows: list[list[str]], name: str) -> list[str]:
    found = [r for r in rows if r[0] == name]
    assert len(found) == 1, f"{name!r} is not one row of {rows}"
    return found[0]


def _headline(page, label: str):
    item = page.locator("#figures .portal-headlines__item").filter(
        has=page.locator("dt", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )
    return item.locator(".portal-headlines__value")


def _download(page, link) -> tuple[str, bytes]:
    with page.expect_download() as info:
        link.click()
    download = info.value
    with open(download.path(), "rb") as f:
        return download.suggested_filename, f.read()


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())


def test_commissioner_narrows_the_dashboard_and_takes_the_figures_away(
    axe_page, live_server, dashboard_data, check_accessibility
):
    page = axe_page
    data = dashboard_data

    # 2. The commissioner's start page is the dashboard; the header link leads there too.
    _log_in(page, live_server, Role.COMMISSIONER)
    _header_link(page, "Dashboard").click()
    expect(page).to_have_url(live_server.url + "/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    default_start = _month_start(data.today, 0)
    default_start = (default_start - timedelta(days=365)).replace(day=1)
    figures = page.locator("#figures")
    expect(figures.get_by_role("heading", level=2)).to_have_text(
        f"All practices, {_long(default_start)} to {_long(data.today)}"
    )
    # Real figures, and a practice with fewer than 5 referrals shown as "<5".
    everything = data.chosen("ABCD", default_start, data.today)
    assert int(_headline(page, "Referrals received").inner_text()) >= len(everything)
    _, rates = _table(_section(page, "Referrals per 1,000 registered patients, by practice"))
    for key, (name, _, size) in PRACTICES.items():
        mine = data.chosen(key, default_start, data.today)
        assert _row(rates, name) == [name, *_rate(len(mine), size)], name
    assert _row(rates, PRACTICES["C"][0])[1:] == ["<5", "not shown"]
    check_accessibility(page, "the commissioner's dashboard")

    # 3. One team, three whole months: the figures change without the page loading again.
    start, end = data.month(4), _month_end(data.month(2))
    chosen = data.chosen("AB", start, end)
    assert len(chosen) == 17
    _htmx_ready(page)
    page.evaluate("window.__sameDocument = true")
    _fill_date(page, "From", start)
    _fill_date(page, "To", end)
    page.get_by_label("Practice or neighbourhood team").select_option(label=TEAM_A)
    page.get_by_role("button", name="Show the figures").click()

    heading = figures.get_by_role("heading", level=2)
    expect(heading).to_have_text(f"{TEAM_A}, {_long(start)} to {_long(end)}")
    assert page.evaluate("window.__sameDocument === true"), "the page loaded again"
    expect(heading).to_be_focused()
    expect(page).to_have_url(re.compile(r"/dashboard\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "start[day]": [str(start.day)],
        "start[month]": [str(start.month)],
        "start[year]": [str(start.year)],
        "end[day]": [str(end.day)],
        "end[month]": [str(end.month)],
        "end[year]": [str(end.year)],
        "area": [f"n{data.team_ids[TEAM_A]}"],
    }
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    # The numbers are those of the team's two practices in those months.
    contacted = sum(s.contacted for s in chosen)
    goals_met = sum(s.goals_met for s in chosen)
    expect(_headline(page, "Referrals received")).to_have_text(str(len(chosen)))
    expect(_headline(page, "Reached by the hub")).to_have_text(_percent(contacted, len(chosen)))
    expect(_headline(page, "Closed with goals met")).to_have_text(_percent(goals_met, len(chosen)))
    _, rates = _table(_section(page, "Referrals per 1,000 registered patients, by practice"))
    assert rates == [
        [name, *_rate(len(data.chosen(key, start, end)), size)]
        for key, (name, _, size) in sorted(PRACTICES.items(), key=lambda kv: kv[1][0])
        if key in "AB"
    ]
    _, months = _table(_section(page, "Referrals received, by month"))
    assert months == [
        [f"{data.month(k):%Y-%m}", _shown(sum(s.months_ago == k for s in chosen))]
        for k in (4, 3, 2)
    ]
    _, teams = _table(_section(page, "Referrals by Integrated Neighbourhood Team"))
    assert _row(teams, TEAM_A) == [TEAM_A, _shown(len(chosen))]
    # Narrowed to one team, the other team is not listed at all (a 0 there would be false).
    assert [row[0] for row in teams] == [TEAM_A]
    _, conversion = _table(_section(page, "From referral to outcome"))
    assert conversion == _expected_conversion(chosen)
    headers, wellbeing = _table(_section(page, "Change in wellbeing from first to last measure"))
    assert headers == ["Measure", "People measured twice", "Mean change", "Share improved"]
    measured = sum(1 for s in chosen if s.measured)
    for label, changes, better in (
        (Scale.SWEMWBS.label, _changes(chosen, Scale.SWEMWBS), lambda c: c > 0),
        (Scale.UCLA3.label, _changes(chosen, Scale.UCLA3), lambda c: c < 0),
        ("ONS4: Life satisfaction", _ons4_changes(chosen, 0), lambda c: c > 0),
        ("ONS4: Anxiety yesterday", _ons4_changes(chosen, 3), lambda c: c < 0),
    ):
        row = _row(wellbeing, label)
        assert row[1] == str(measured) == str(len(changes))
        assert abs(float(row[2]) - sum(changes) / len(changes)) < 0.006, row
        assert row[3] == f"{round(100 * sum(map(better, changes)) / len(changes))}%", row
    _, kinds = _table(_section(page, "Activity referrals, by kind of activity"))
    assert kinds == list(_expected_categories(chosen).values())
    _, organisations = _table(_section(page, "Activity referrals, by organisation"))
    assert organisations == _expected_organisations(chosen)
    check_accessibility(page, "the dashboard narrowed to one team (htmx)")

    # 4. The reasons chart says what the table beside it says, "<5" included.
    reasons = _section(page, "Reasons for referral")
    headers, rows = _table(reasons)
    assert headers == ["Reason", "Referrals"]
    assert rows == _expected_reasons(chosen)
    assert [ReferralReason.BEREAVEMENT.label, "<5"] in rows
    assert [ReferralReason.CARER_SUPPORT.label, "<5"] in rows
    chart = reasons.locator("svg[role='img']")
    expect(chart).to_have_count(1)
    title = chart.locator("title")
    expect(title).to_have_text("Reasons for referral. The table that follows has the same figures.")
    assert chart.get_attribute("aria-labelledby") == title.get_attribute("id")
    values = chart.locator(".portal-chart__value").all_text_contents()
    labels = chart.locator(".portal-chart__label").all_text_contents()
    assert values == [r[1] for r in rows]
    assert len(labels) == len(rows)
    for label, row in zip(labels, rows, strict=True):
        assert row[0].startswith(label.removesuffix("…")), (label, row[0])
    bereavement = rows.index([ReferralReason.BEREAVEMENT.label, "<5"])
    assert values[bereavement] == "<5"
    bar = chart.locator("rect.portal-chart__bar").nth(bereavement)
    assert float(bar.get_attribute("width")) == 0, "a suppressed count was drawn as a bar"
    # The line chart of months has a point for each row of its table.
    by_month = _section(page, "Referrals received, by month")
    expect(by_month.locator("svg[role='img'] circle")).to_have_count(len(months))

    # 5. The reasons table as CSV: the same headers and rows, for the same filters.
    filename, body = _download(
        page, reasons.get_by_role("link", name="Download “Reasons for referral” as CSV")
    )
    assert filename == f"by_reason-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    assert list(csv.reader(io.StringIO(body.decode("utf-8")))) == [headers, *rows]

    # 6. The evaluation pack: the same dates, area and figures, and how each was counted.
    filename, pdf = _download(
        page, figures.get_by_role("link", name="Download the evaluation pack (PDF)")
    )
    assert filename == f"evaluation-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert f"Referrals received from {_long(start)} to {_long(end)}, {TEAM_A}." in text
    for label in (
        "Referrals received",
        "Reached by the hub",
        "Closed with goals met",
        "Working days to first contact",
        "Volunteer hours",
        "Active volunteers",
    ):
        assert label in text, label
    for stage, shown in conversion:
        assert f"{stage} {shown}" in text, (stage, shown)
    assert f"{ReferralReason.BEREAVEMENT.label} <5" in text
    assert "Method: what was counted, and how" in text
    assert "Reasons given on referrals received in the scope." in text


def test_coordinator_follows_the_hub_dashboard_to_the_triage_queue(
    axe_page, live_server, dashboard_data, check_accessibility
):
    page = axe_page
    _log_in(page, live_server, Role.COORDINATOR)
    queue_path = live_server.accounts[Role.COORDINATOR].start_path

    _header_link(page, "Dashboard").click()
    expect(page).to_have_url(live_server.url + "/dashboard/hub")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hub dashboard")
    waiting = page.locator(".portal-headlines__item").filter(
        has=page.get_by_role("link", name="Waiting for triage", exact=True)
    )
    expect(waiting.locator(".portal-headlines__value")).to_have_text(re.compile(r"^[1-9]\d*$"))
    check_accessibility(page, "the hub dashboard")

    waiting.get_by_role("link", name="Waiting for triage", exact=True).click()
    expect(page).to_have_url(live_server.url + queue_path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Triage queue")
    expect(
        page.get_by_role("link", name=dashboard_data.waiting_reference, exact=True)
    ).to_be_visible()


def test_commissioner_corrects_dates_entered_the_wrong_way_round(
    axe_page, live_server, dashboard_data, check_accessibility
):
    page = axe_page
    data = dashboard_data
    _log_in(page, live_server, Role.COMMISSIONER)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    figures = page.locator("#figures")
    expect(figures.locator(".portal-headlines")).to_be_visible()

    # 7. The end date before the start date: the message by the field and in the summary.
    start, end = data.month(2), _month_end(data.month(4))
    _htmx_ready(page)
    _fill_date(page, "From", start)
    _fill_date(page, "To", end)
    page.get_by_label("Practice or neighbourhood team").select_option(label=TEAM_A)
    page.get_by_role("button", name="Show the figures").click()

    message = "The end date must be the same as or after the start date"
    summary = page.locator(".nhsuk-error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("link", name=message)).to_be_visible()
    to_group = page.get_by_role("group", name=re.compile(r"^To\b"))
    expect(to_group.locator(".nhsuk-error-message")).to_contain_text(message)
    expect(figures).to_contain_text("No figures: correct the dates above.")
    expect(figures.locator(".portal-headlines")).to_have_count(0)
    expect(figures.get_by_role("table")).to_have_count(0)
    check_accessibility(page, "the dashboard with dates the wrong way round")

    # Corrected: the figures come back and the messages go.
    start, end = data.month(4), _month_end(data.month(2))
    _htmx_ready(page)
    _fill_date(page, "From", start)
    _fill_date(page, "To", end)
    page.get_by_role("button", name="Show the figures").click()
    expect(figures.get_by_role("heading", level=2)).to_have_text(
        f"{TEAM_A}, {_long(start)} to {_long(end)}"
    )
    expect(_headline(page, "Referrals received")).to_have_text(
        str(len(data.chosen("AB", start, end)))
    )
    expect(page.locator(".nhsuk-error-summary")).to_have_count(0)
    expect(page.locator(".nhsuk-error-message")).to_have_count(0)
