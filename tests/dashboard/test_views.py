"""The dashboards in the browser: filters, refusals, htmx, figures, CSV, the evaluation pack.

Every figure here is worked out by hand from a small dataset built in the test, and every
refusal is asked for with the id of a real record, so a 403 means "not yours to see", not
"no such thing".
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.db_types import london_today, utcnow
from portal.directory.models import ActivityImport, ActivityReferral, ActivityReferralStatus
from portal.extensions import db as _db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import ReferralStatus, Route
from portal.referrals.working_days import is_working_day
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.reports.periods import london_midnight
from portal.volunteers.models import HoursKind, VolunteerHours
from tests.factories import (
    PASSWORD,
    make_activity,
    make_buddy_match,
    make_contact,
    make_goal,
    make_neighbourhood,
    make_organisation,
    make_practice,
    make_referral,
    make_training_module,
    make_user,
    make_volunteer,
)

MARCH = ((1, 3, 2026), (31, 3, 2026))
TABLE_KEYS = (
    "per_1000",
    "by_month",
    "by_reason",
    "by_team",
    "conversion",
    "wellbeing",
    "activity_categories",
    "activity_organisations",
    "volunteer_time",
    "reports_on_time",
)
HUB_TABLE_KEYS = (
    "received_by_source",
    "received_by_practice",
    "time_to_act",
    "caseloads",
    "activity_responses",
    "volunteers",
)
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


# --- helpers -------------------------------------------------------------------------------


def utc(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _save(obj):
    _db.session.add(obj)
    _db.session.commit()
    return obj


def signed_in(app, user):
    """A browser of its own, logged in as `user`."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def filters(start=MARCH[0], end=MARCH[1], area: str = "") -> dict[str, str]:
    """The dashboard's GET filters, as the form sends them: each date as three boxes."""
    args = {"area": area}
    for name, parts in (("start", start), ("end", end)):
        for part, value in zip(("day", "month", "year"), parts, strict=True):
            args[f"{name}[{part}]"] = str(value)
    return args


def flat(page: str) -> str:
    return re.sub(r"\s+", " ", page)


def text(page: str) -> str:
    """Page text with tags and spacing flattened."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def section(page: str, key: str) -> str:
    """The markup of the table section whose heading has id `<key>-heading`."""
    after = page.split(f'id="{key}-heading"', 1)
    assert len(after) == 2, f"no section {key}"
    return after[1].split("</section>", 1)[0]


def table_rows(page: str, key: str) -> list[tuple[str, ...]]:
    """The body rows of a section's data table, each cell as its text."""
    body = section(page, key).split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return [
        tuple(text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def headline_figures(page: str) -> dict[str, tuple[str, str]]:
    """Each headline's label: (the figure, the words after it)."""
    out = {}
    for label, dd in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", page, re.S):
        value = re.search(r'<span class="portal-headlines__value">(.*?)</span>', dd, re.S)
        rest = dd.replace(value.group(0), "") if value else dd
        out[text(label)] = (text(value.group(1)) if value else "", text(rest))
    return out


def error_beside(page: str, field: str) -> str:
    """The error message shown beside a date field, or "" when there is none."""
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</span>\s*<div', flat(page))
    return text(match.group(1)) if match else ""


def error_summary(page: str) -> str:
    parts = flat(page).split('class="nhsuk-error-summary"', 1)
    return parts[1].split("</ul>", 1)[0] if len(parts) == 2 else ""


def input_value(page: str, field_id: str) -> str:
    match = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', flat(page))
    assert match, f"no input {field_id}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def audit_rows(action: str, object_type: str | None = None) -> list[AuditEvent]:
    _db.session.expire_all()
    query = sa.select(AuditEvent).where(AuditEvent.action == action)
    if object_type is not None:
        query = query.where(AuditEvent.object_type == object_type)
    return list(_db.session.scalars(query.order_by(AuditEvent.id)))


def commissioner_of(neighbourhood):
    """A commissioner who may see only this neighbourhood team's practices."""
    return make_user(Role.COMMISSIONER, neighbourhood_id=neighbourhood.id)


# --- a small hand-made dataset ---------------------------------------------------------------


@pytest.fixture
def march(app):
    """Two teams, one practice each. In March 2026 (GMT, so UTC dates are UK dates):
    Abbey Surgery (Alder team, list 7,000) had 7 referrals, 6 of them reached two working
    days later; Brook Practice (Birch team) had 3. One more Abbey referral arrives on
    1 April, outside the range."""
    alder = make_neighbourhood(name="Alder")
    birch = make_neighbourhood(name="Birch")
    abbey = make_practice(neighbourhood=alder, name="Abbey Surgery", list_size=7000)
    brook = make_practice(neighbourhood=birch, name="Brook Practice", list_size=3000)
    for i in range(7):
        # Monday 2 March; reached on Wednesday 4 March: 2 working days.
        make_referral(
            practice=abbey,
            received_at=utc(2026, 3, 2, 9 + i),
            first_contact_at=utc(2026, 3, 4, 10) if i < 6 else None,
        )
    for i in range(3):
        make_referral(practice=brook, received_at=utc(2026, 3, 3, 9 + i))
    make_referral(practice=abbey, received_at=utc(2026, 4, 1))
    return {"alder": alder, "birch": birch, "abbey": abbey, "brook": brook}


# --- wrong filters -------------------------------------------------------------------------


def test_end_before_start_is_refused_beside_the_end_date(client, logged_in_commissioner, march):
    abbey = march["abbey"]
    response = client.get(
        "/dashboard",
        query_string=filters(start=(1, 4, 2026), end=(31, 3, 2026), area=f"p{abbey.id}"),
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = "The end date must be the same as or after the start date"
    # The practice chosen stays chosen.
    assert re.search(rf'<option value="p{abbey.id}"\s+selected', flat(page))
    # In the error summary, linking to the end date's first box...
    summary = error_summary(page)
    assert 'href="#end-day"' in summary
    assert message in text(summary)
    # ...and beside the end date, not the start date.
    assert error_beside(page, "end") == f"Error: {message}"
    assert error_beside(page, "start") == ""
    assert "<title>Error: Dashboard" in flat(page)
    # What was typed is kept in the boxes.
    typed = {
        "start-day": "1",
        "start-month": "4",
        "start-year": "2026",
        "end-day": "31",
        "end-month": "3",
        "end-year": "2026",
    }
    assert {box: input_value(page, box) for box in typed} == typed
    # No figures for dates that are wrong.
    assert "portal-headlines" not in page
    assert 'id="per_1000-heading"' not in page
    assert "No figures: correct the dates above." in text(page)


def test_a_range_of_more_than_five_years_is_refused(client, logged_in_commissioner, march):
    response = client.get("/dashboard", query_string=filters(start=(1, 1, 2020), end=(1, 1, 2025)))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_beside(page, "end") == "Error: Choose a range of 5 years or less"
    assert "Choose a range of 5 years or less" in text(error_summary(page))
    assert "portal-headlines" not in page

    # A day short of five years is allowed.
    ok = client.get("/dashboard", query_string=filters(start=(1, 1, 2020), end=(31, 12, 2024)))
    assert ok.status_code == 200
    assert "Choose a range of" not in text(ok.get_data(as_text=True))


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ((1, 3, 2026), (31, 2, 2026), "end", "To must be a real date"),
        ((30, 2, 2026), (31, 3, 2026), "start", "From must be a real date"),
        (("a", 3, 2026), (31, 3, 2026), "start", "From must be a real date, in numbers"),
        ((1, "", 2026), (31, 3, 2026), "start", "From must include a month"),
        ((1, 3, 2026), (31, 3, 26), "end", "To must include a 4-digit year, like 1948"),
    ],
)
def test_an_impossible_date_is_refused_beside_its_field(
    client, logged_in_commissioner, march, start, end, field, message
):
    response = client.get("/dashboard", query_string=filters(start=start, end=end))

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_beside(page, field) == f"Error: {message}"
    summary = error_summary(page)
    assert message in text(summary)
    assert f'href="#{field}-day"' in summary
    assert "portal-headlines" not in page
    # The impossible date stays as typed, so the person can see what to correct.
    typed = start if field == "start" else end
    assert input_value(page, f"{field}-day") == str(typed[0])
    assert input_value(page, f"{field}-month") == str(typed[1])
    assert input_value(page, f"{field}-year") == str(typed[2])


def test_a_practice_or_team_outside_the_commissioners_team_is_refused(app, march):
    alder_only = commissioner_of(march["alder"])
    browser = signed_in(app, alder_only)
    birch, brook = march["birch"], march["brook"]

    for area in (f"p{brook.id}", f"n{birch.id}", "nonsense", "p999999", "n", "p"):
        for path in ("/dashboard", "/dashboard/per_1000.csv", "/dashboard/evaluation.pdf"):
            response = browser.get(path, query_string=filters(area=area))
            assert response.status_code == 403, (path, area)
            assert "Brook Practice" not in response.get_data(as_text=True)

    # Its own team and practice are fine.
    for area in (f"p{march['abbey'].id}", f"n{march['alder'].id}", ""):
        assert browser.get("/dashboard", query_string=filters(area=area)).status_code == 200

    refused = [e for e in audit_rows("forbidden") if e.actor_id == alder_only.id]
    assert refused and {e.object_id for e in refused} >= {"/dashboard"}


def test_a_commissioner_without_a_team_may_choose_any_practice(
    client, logged_in_commissioner, march
):
    response = client.get("/dashboard", query_string=filters(area=f"p{march['brook'].id}"))
    assert response.status_code == 200
    # A nonsense area is still refused, not quietly widened to everything.
    assert client.get("/dashboard", query_string=filters(area="x7")).status_code == 403


def test_a_range_with_no_referrals_says_no_data(client, logged_in_commissioner, march):
    response = client.get("/dashboard", query_string=filters(start=(1, 1, 2025), end=(31, 1, 2025)))

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No data: no referrals were received in these dates." in text(page)
    assert "portal-headlines" not in page
    assert "All practices, 1 January 2025 to 31 January 2025" in text(page)

    # The same for one practice with nothing in the range.
    abbey = march["abbey"]
    response = client.get(
        "/dashboard",
        query_string=filters(start=(1, 1, 2025), end=(31, 1, 2025), area=f"p{abbey.id}"),
    )
    assert response.status_code == 200
    assert "No data: no referrals were received in these dates for Abbey Surgery." in text(
        response.get_data(as_text=True)
    )


def test_csv_and_evaluation_pack_of_an_empty_range_do_not_fail(
    client, logged_in_commissioner, march
):
    empty = filters(start=(1, 1, 2025), end=(31, 1, 2025))
    for key in TABLE_KEYS:
        response = client.get(f"/dashboard/{key}.csv", query_string=empty)
        assert response.status_code == 200, key
        assert response.headers["Content-Type"].startswith("text/csv"), key
        assert csv_rows(response), key  # at least the header row

    per_1000 = csv_rows(client.get("/dashboard/per_1000.csv", query_string=empty))
    assert per_1000[1:] == [
        ["Abbey Surgery", "0", "0.00"],
        ["Brook Practice", "0", "0.00"],
    ]

    response = client.get("/dashboard/evaluation.pdf", query_string=empty)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    words = pdf_text(response.data)
    assert "Referrals received" in words
    assert "1 January 2025 to 31 January 2025" in words


def test_csv_and_evaluation_pack_of_an_empty_database_do_not_fail(client, logged_in_commissioner):
    """No practices, no teams, no referrals at all: every download still works."""
    for key in TABLE_KEYS:
        response = client.get(f"/dashboard/{key}.csv", query_string=filters())
        assert response.status_code == 200, key
    assert client.get("/dashboard", query_string=filters()).status_code == 200
    assert client.get("/dashboard").status_code == 200
    response = client.get("/dashboard/evaluation.pdf", query_string=filters())
    assert response.status_code == 200
    assert "Social prescribing: evaluation pack" in pdf_text(response.data)


# --- a commissioner never reaches a person -------------------------------------------------


@pytest.fixture
def person_records(app):
    """One of every record a person-level page shows, each with a real id."""
    alder = make_neighbourhood(name="Alder")
    practice = make_practice(neighbourhood=alder, name="Abbey Surgery")
    coordinator = make_user(Role.COORDINATOR)
    navigator = make_user(Role.NAVIGATOR, caseload_capacity=10)
    referral = make_referral(
        practice=practice,
        status=ReferralStatus.ACTIVE,
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        received_at=utcnow() - timedelta(days=30),
        first_contact_at=utcnow() - timedelta(days=29),
        triaged_at=utcnow() - timedelta(days=29),
        navigator_id=navigator.id,
        assigned_at=utcnow() - timedelta(days=28),
    )
    contact = make_contact(referral, navigator, days_ago=3)
    goal = make_goal(referral, navigator)
    volunteer = make_volunteer()
    match = make_buddy_match(referral, volunteer, coordinator)
    _save(
        VolunteerHours(
            volunteer_id=volunteer.id,
            worked_on=london_today() - timedelta(days=2),
            kind=HoursKind.TRAINING,
            minutes=90,
        )
    )
    module = make_training_module()
    organisation = make_organisation()
    activity = make_activity(organisation)
    link = _save(
        ActivityReferral(
            referral_id=referral.id,
            activity_id=activity.id,
            status=ActivityReferralStatus.SENT,
            created_by_id=navigator.id,
            respond_by=london_today() + timedelta(days=5),
        )
    )
    held = _save(
        ActivityImport(
            organisation_id=organisation.id,
            filename="activities.csv",
            content="title\nChoir\n",
            row_count=1,
            created_by_id=coordinator.id,
        )
    )
    report = _save(
        OutcomeReport(
            claim_key=f"test:{practice.id}:person-level",
            practice_id=practice.id,
            period_start=london_today() - timedelta(days=7),
            period_end=london_today() - timedelta(days=1),
            referral_ids=[referral.id],
            summaries=[{"referral_id": referral.id}],
            status=DeliveryStatus.SENT,
            sent_at=utcnow(),
        )
    )
    _save(
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.UCLA3,
            stage=Stage.BASELINE,
            answers=[2, 2, 2],
            score=6,
            recorded_by_id=navigator.id,
        )
    )
    return {
        "user_id": navigator.id,
        "referral_id": referral.id,
        "resident_id": referral.resident_id,
        "contact_id": contact.id,
        "goal_id": goal.id,
        "match_id": match.id,
        "volunteer_id": volunteer.id,
        "module_id": module.id,
        "activity_id": activity.id,
        "organisation_id": organisation.id,
        "link_id": link.id,
        "import_id": held.id,
        "report_id": report.id,
        "practice_id": practice.id,
        "scale": Scale.UCLA3.value,
        "key": "caseloads",
    }


def _closed_to_commissioners(app, ids: dict) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every route a commissioner may not use, with real ids."""
    out = []
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
        if roles is None or Role.COMMISSIONER in roles:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{arg}>", str(ids[arg]), path)
        method = "GET" if "GET" in rule.methods else "POST"
        out.append((rule.endpoint, method, path))
    return sorted(out)


def test_a_commissioner_is_refused_every_person_level_page_and_export(
    app, commissioner, person_records
):
    ids = person_records
    routes = _closed_to_commissioners(app, ids)
    pages = {path for _, method, path in routes if method == "GET"}
    # The pages and downloads that show people, asked for by their real ids: all covered.
    r, v, rep = ids["referral_id"], ids["volunteer_id"], ids["report_id"]
    must_cover = {
        f"/referrals/{r}",
        f"/referrals/{r}/edit",
        f"/admin/audit/resident/{ids['resident_id']}",
        f"/admin/subject-access/resident/{ids['resident_id']}.pdf",
        f"/admin/subject-access/volunteer/{v}.json",
        f"/cases/{r}",
        f"/cases/{r}/plan",
        f"/cases/{r}/plan.pdf",
        f"/cases/{r}/contacts/{ids['contact_id']}/edit",
        "/caseload",
        "/hub",
        "/int",
        "/alerts",
        "/volunteers",
        f"/volunteers/{v}",
        "/volunteers/hours.csv",
        "/volunteers/expiring",
        "/volunteers/supervision",
        f"/reports/{rep}",
        f"/reports/{rep}/letter.pdf",
        f"/reports/{rep}/codes.csv",
        f"/reports/{rep}/summary.json",
        "/admin/reports",
        f"/admin/reports/practices/{ids['practice_id']}",
        f"/admin/reports/practices/{ids['practice_id']}/preview",
        "/practice/referrals",
        f"/practice/referrals/{r}",
        f"/organisation/referrals/{ids['link_id']}",
        "/dashboard/hub",
        "/dashboard/hub/caseloads.csv",
    }
    assert must_cover <= pages, sorted(must_cover - pages)
    hub_csvs = {f"/dashboard/hub/{key}.csv" for key in HUB_TABLE_KEYS}

    browser = signed_in(app, commissioner)
    answers = {path: browser.get(path).status_code for path in sorted(pages | hub_csvs)}
    assert {path: code for path, code in answers.items() if code != 403} == {}

    # A refusal leaves a trail: who asked, for what.
    refused = [e for e in audit_rows("forbidden", "path") if e.object_id == f"/referrals/{r}"]
    assert len(refused) == 1
    assert refused[0].actor_id == commissioner.id
    assert refused[0].actor_role == "commissioner"


def test_a_commissioner_can_change_nothing_about_a_person(app, commissioner, person_records):
    ids = person_records
    posts = [path for _, method, path in _closed_to_commissioners(app, ids) if method == "POST"]
    assert f"/referrals/{ids['referral_id']}/close" in posts

    browser = signed_in(app, commissioner)
    answers = {path: browser.post(path, data={}).status_code for path in posts}
    assert {path: code for path, code in answers.items() if code != 403} == {}


# --- htmx ------------------------------------------------------------------------------------


def test_htmx_gets_only_the_figures_and_a_browser_the_whole_page(
    client, logged_in_commissioner, march
):
    partial = client.get("/dashboard", query_string=filters(), headers={"HX-Request": "true"})
    full = client.get("/dashboard", query_string=filters())

    assert partial.status_code == full.status_code == 200
    part, page = partial.get_data(as_text=True), full.get_data(as_text=True)
    heading = "All practices, 1 March 2026 to 31 March 2026"
    assert "<html" not in part
    # The filters come with the figures, so a refused date can show its message.
    assert '<form method="get" action="/dashboard"' in part
    assert re.search(r"<h2 data-focus-here[^>]*>" + re.escape(heading) + "</h2>", part)
    assert headline_figures(part)["Referrals received"][0] == "10"
    assert "<html" in page and "<form" in page
    assert heading in text(page)
    # The partial is the filters and figures block of the page, no more.
    assert text(part) in text(page)
    assert "<h1>Dashboard</h1>" in page and "<h1>Dashboard</h1>" not in part
    for response in (partial, full):
        assert "HX-Request" in response.headers["Vary"]


def test_a_boosted_request_gets_the_whole_page(client, logged_in_commissioner, march):
    response = client.get(
        "/dashboard",
        query_string=filters(),
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    assert response.status_code == 200
    assert "<html" in response.get_data(as_text=True)


def test_htmx_with_wrong_dates_gets_a_422_partial(client, logged_in_commissioner, march):
    response = client.get(
        "/dashboard",
        query_string=filters(start=(1, 4, 2026), end=(31, 3, 2026)),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    part = response.get_data(as_text=True)
    assert "<html" not in part
    assert "No figures: correct the dates above." in text(part)
    assert "portal-headlines" not in part
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_with_wrong_dates_says_what_is_wrong(client, logged_in_commissioner, march):
    """The htmx form swaps only #figures, so the 422 partial must carry the message itself:
    the boxes outside it are not redrawn, and "correct the dates above" alone points at
    nothing marked as wrong."""
    response = client.get(
        "/dashboard",
        query_string=filters(start=(1, 4, 2026), end=(31, 3, 2026)),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "The end date must be the same as or after the start date" in text(
        response.get_data(as_text=True)
    )


def _htmx_swaps(config: dict, status: int) -> bool:
    """htmx 2's rule: the first responseHandling entry whose code (a regex) matches wins."""
    for entry in config.get("responseHandling", []):
        if re.search(entry["code"], str(status)):
            return bool(entry.get("swap"))
    return False


def test_the_page_tells_htmx_to_show_a_422_from_the_filters(client, logged_in_commissioner, march):
    """The filter form's wrong-dates answer is a 422; unless htmx swaps it in, the person
    sees the old figures and no message at all."""
    page = client.get("/dashboard").get_data(as_text=True)
    meta = re.search(r'<meta name="htmx-config" content="([^"]*)"', page)
    assert meta
    config = json.loads(html.unescape(meta.group(1)))
    assert _htmx_swaps(config, 200)
    assert _htmx_swaps(config, 422), "htmx drops the dashboard's 422 answer: nothing is shown"


# --- figures ---------------------------------------------------------------------------------


def test_figures_match_a_hand_made_dataset(client, logged_in_commissioner, march):
    response = client.get("/dashboard", query_string=filters())
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    heads = headline_figures(page)
    assert heads["Referrals received"] == ("10", "")  # 7 + 3; the April one is outside
    assert heads["Reached by the hub"] == ("60%", "of referrals received")  # 6 of 10
    assert heads["Closed with goals met"][0] == "not shown"  # 0, fewer than 5
    assert heads["Working days to first contact"] == ("2", "median; 9 in 10 within 2")

    # Abbey: 7, 7 per 7,000 = 1.00 per 1,000. Brook: 3, shown as <5 and no rate.
    assert table_rows(page, "per_1000") == [
        ("Abbey Surgery", "7", "1.00"),
        ("Brook Practice", "<5", "not shown"),
    ]
    assert table_rows(page, "by_team") == [("Alder", "7"), ("Birch", "<5")]
    assert table_rows(page, "by_month") == [("2026-03", "10")]
    assert table_rows(page, "conversion") == [
        ("Referred", "10"),
        ("Contacted", "6"),
        ("Engaged with a navigator", "0"),
        ("Closed with goals met", "0"),
    ]
    # Brook's 3 is never shown, in a table or in a chart's labels.
    for key in ("per_1000", "by_team"):
        cells = [cell for row in table_rows(page, key) for cell in row]
        assert "3" not in cells, key
        assert ">3<" not in section(page, key), key

    # The CSV of each table, by the link beside it, says exactly what the page says.
    for key in ("per_1000", "by_team", "by_month", "conversion", "by_reason"):
        link = re.search(r'<a href="([^"]*)" download>Download', section(page, key))
        assert link, key
        assert link.group(1).startswith(f"/dashboard/{key}.csv?")
        download = client.get(html.unescape(link.group(1)))
        assert download.status_code == 200
        assert "20260301-20260331" in download.headers["Content-Disposition"]
        assert [tuple(row) for row in csv_rows(download)[1:]] == table_rows(page, key), key
    per_1000 = csv_rows(client.get("/dashboard/per_1000.csv", query_string=filters()))
    assert per_1000[2] == ["Brook Practice", "<5", "not shown"]
    assert all("3" not in row[1:] for row in per_1000)


def test_the_area_filter_narrows_the_figures(client, logged_in_commissioner, march):
    abbey = client.get("/dashboard", query_string=filters(area=f"p{march['abbey'].id}"))
    page = abbey.get_data(as_text=True)
    assert abbey.status_code == 200
    assert "Abbey Surgery, 1 March 2026 to 31 March 2026" in text(page)
    assert headline_figures(page)["Referrals received"][0] == "7"
    assert table_rows(page, "per_1000") == [("Abbey Surgery", "7", "1.00")]
    assert table_rows(page, "by_month") == [("2026-03", "7")]
    assert ("Alder", "7") in table_rows(page, "by_team")
    assert ("Birch", "<5") not in table_rows(page, "by_team")
    # The evaluation pack linked from the page is for the same dates and practice.
    link = re.search(r'href="(/dashboard/evaluation\.pdf\?[^"]*)"', page)
    assert link
    pack = client.get(html.unescape(link.group(1)))
    assert pack.status_code == 200
    assert "1 March 2026 to 31 March 2026, Abbey Surgery." in pdf_text(pack.data)

    birch = client.get("/dashboard", query_string=filters(area=f"n{march['birch'].id}"))
    page = birch.get_data(as_text=True)
    assert "Birch, 1 March 2026 to 31 March 2026" in text(page)
    assert headline_figures(page)["Referrals received"][0] == "<5"
    assert headline_figures(page)["Reached by the hub"][0] == "not shown"
    assert table_rows(page, "per_1000") == [("Brook Practice", "<5", "not shown")]
    assert table_rows(page, "by_month") == [("2026-03", "<5")]
    # The CSV is narrowed the same way.
    rows = csv_rows(
        client.get("/dashboard/per_1000.csv", query_string=filters(area=f"n{march['birch'].id}"))
    )
    assert rows[1:] == [["Brook Practice", "<5", "not shown"]]


def test_a_team_commissioner_sees_only_their_teams_practices(app, march):
    browser = signed_in(app, commissioner_of(march["alder"]))

    for args in ({}, filters()):
        response = browser.get("/dashboard", query_string=args)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "All practices you can see" in text(page)
        assert "Brook Practice" not in page
        options = re.findall(r'<option value="([^"]*)"', page)
        assert options == ["", f"n{march['alder'].id}", f"p{march['abbey'].id}"]

    page = browser.get("/dashboard", query_string=filters()).get_data(as_text=True)
    assert headline_figures(page)["Referrals received"][0] == "7"
    assert table_rows(page, "per_1000") == [("Abbey Surgery", "7", "1.00")]
    for key in TABLE_KEYS:
        download = browser.get(f"/dashboard/{key}.csv", query_string=filters())
        assert download.status_code == 200
        assert "Brook Practice" not in download.get_data(as_text=True), key
    pack = browser.get("/dashboard/evaluation.pdf", query_string=filters())
    assert pack.status_code == 200
    words = pdf_text(pack.data)
    assert "All practices you can see" in words
    assert "Brook Practice" not in words


def test_a_commissioner_of_a_team_with_no_practices_gets_no_data(app, march):
    browser = signed_in(app, commissioner_of(make_neighbourhood(name="Empty team")))
    response = browser.get("/dashboard", query_string=filters())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No data: no referrals were received in these dates." in text(page)
    assert "Abbey Surgery" not in page and "Brook Practice" not in page
    for key in TABLE_KEYS:
        download = browser.get(f"/dashboard/{key}.csv", query_string=filters())
        assert download.status_code == 200, key
        assert "Abbey Surgery" not in download.get_data(as_text=True), key
    assert browser.get("/dashboard/evaluation.pdf", query_string=filters()).status_code == 200
    assert (
        browser.get("/dashboard", query_string=filters(area=f"p{march['abbey'].id}")).status_code
        == 403
    )


def test_a_team_commissioner_is_not_shown_other_teams(app, march):
    """A team the commissioner may not choose (asking for it is a 403) should not appear
    in their figures either: "Birch: 0" would be untrue, Birch had 3 referrals."""
    browser = signed_in(app, commissioner_of(march["alder"]))
    page = browser.get("/dashboard", query_string=filters()).get_data(as_text=True)
    assert [row[0] for row in table_rows(page, "by_team")] == ["Alder"]
    assert "Birch" not in text(page)


# --- CSV -------------------------------------------------------------------------------------


def test_csv_download(client, logged_in_commissioner, commissioner, march):
    alder = march["alder"]
    make_practice(neighbourhood=alder, name='=HYPERLINK("x")', list_size=1000)

    response = client.get("/dashboard/per_1000.csv", query_string=filters())

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="per_1000-20260301-20260331.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == ["Practice", "Referrals", "Per 1,000 patients"]
    # The formula-like name is text in a spreadsheet: it starts with a quote.
    formula = [row for row in rows if "HYPERLINK" in row[0]]
    assert formula == [['\'=HYPERLINK("x")', "0", "0.00"]]
    assert not any(row[0].startswith("=") for row in rows)
    assert ["Abbey Surgery", "7", "1.00"] in rows

    exported = audit_rows("exported", "dashboard")
    assert [(e.object_id, e.actor_id, e.actor_role) for e in exported] == [
        ("per_1000", commissioner.id, "commissioner")
    ]


def test_csv_of_every_table_has_its_headers(client, logged_in_commissioner, march):
    page = client.get("/dashboard", query_string=filters()).get_data(as_text=True)
    for key in TABLE_KEYS:
        response = client.get(f"/dashboard/{key}.csv", query_string=filters())
        assert response.status_code == 200, key
        headers = [
            text(h)
            for h in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", section(page, key), re.S)
        ]
        assert csv_rows(response)[0] == headers, key
        assert f'filename="{key}-20260301-20260331.csv"' in response.headers["Content-Disposition"]
    assert len(audit_rows("exported", "dashboard")) == len(TABLE_KEYS)


def test_csv_unknown_table_is_404_and_wrong_dates_400(client, logged_in_commissioner, march):
    assert client.get("/dashboard/no_such_table.csv", query_string=filters()).status_code == 404
    wrong = filters(start=(1, 4, 2026), end=(31, 3, 2026))
    assert client.get("/dashboard/per_1000.csv", query_string=wrong).status_code == 400
    impossible = filters(end=(31, 2, 2026))
    assert client.get("/dashboard/per_1000.csv", query_string=impossible).status_code == 400
    assert client.get("/dashboard/evaluation.pdf", query_string=wrong).status_code == 400
    # Nothing was exported, so nothing is recorded as exported.
    assert audit_rows("exported") == []


def test_signed_changes_in_the_wellbeing_csv_match_the_page(client, logged_in_commissioner, app):
    """Mean changes are shown as "+1.50" or "-0.75": numbers, not formulas. The CSV
    should say what the page says."""
    navigator = make_user(Role.NAVIGATOR)
    practice = make_practice(name="Abbey Surgery")
    for i in range(5):
        referral = make_referral(practice=practice, received_at=utc(2026, 3, 2 + i))
        for stage, score, day in ((Stage.BASELINE, 20.0, 10), (Stage.CLOSING, 21.5, 20)):
            _save(
                MeasureResponse(
                    referral_id=referral.id,
                    scale=Scale.SWEMWBS,
                    stage=stage,
                    answers=[3, 3, 3, 3, 3, 3, 3],
                    score=score,
                    recorded_by_id=navigator.id,
                    recorded_at=utc(2026, 3, day + i),
                )
            )
    page = client.get("/dashboard", query_string=filters()).get_data(as_text=True)
    on_page = [row for row in table_rows(page, "wellbeing") if row[0] == Scale.SWEMWBS.label]
    assert on_page == [(Scale.SWEMWBS.label, "5", "+1.50", "100%")]

    rows = csv_rows(client.get("/dashboard/wellbeing.csv", query_string=filters()))
    assert [tuple(r) for r in rows if r[0] == Scale.SWEMWBS.label] == on_page


# --- the evaluation pack ---------------------------------------------------------------------


def test_evaluation_pack(client, logged_in_commissioner, commissioner, march):
    response = client.get(
        "/dashboard/evaluation.pdf", query_string=filters(area=f"p{march['abbey'].id}")
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="evaluation-20260301-20260331.pdf"'
    )
    assert response.data.startswith(b"%PDF")
    words = pdf_text(response.data)
    for label in (
        "Referrals received",
        "Reached by the hub",
        "Closed with goals met",
        "Working days to first contact",
        "Volunteer hours",
        "Active volunteers",
    ):
        assert label in words, label
    assert "Referrals per 1,000 registered patients, by practice" in words
    assert "Referrals received from 1 March 2026 to 31 March 2026, Abbey Surgery." in words
    assert "Method: what was counted, and how" in words
    # A definition, word for word from the KPI that counts it.
    assert (
        "Referrals received in the scope, by the UK month received (YYYY-MM), every month "
        "in the range listed." in words
    )
    # Abbey's figures, not everyone's: 7 referrals, Brook not in it.
    assert "Brook Practice" not in words
    assert re.search(r"Referrals received\s*7\b", words)

    exported = audit_rows("exported", "dashboard")
    assert [(e.object_id, e.actor_id) for e in exported] == [("evaluation_pack", commissioner.id)]


def test_evaluation_pack_refuses_another_teams_practice(app, march):
    alder_only = commissioner_of(march["alder"])
    browser = signed_in(app, alder_only)
    response = browser.get(
        "/dashboard/evaluation.pdf", query_string=filters(area=f"p{march['brook'].id}")
    )
    assert response.status_code == 403
    assert not response.data.startswith(b"%PDF")
    assert audit_rows("exported") == []


# --- the hub dashboard -----------------------------------------------------------------------


def working_days_ago(count: int) -> date:
    """The day `count` working days before today (so it has waited exactly that many)."""
    day = london_today()
    while count > 0:
        if is_working_day(day):
            count -= 1
        day -= timedelta(days=1)
    return day


def uk_noon(day: date) -> datetime:
    return london_midnight(day) + timedelta(hours=12)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_hub_staff_may_open_the_hub_dashboard(app, role):
    browser = signed_in(app, make_user(role))
    assert browser.get("/dashboard/hub").status_code == 200
    for key in HUB_TABLE_KEYS:
        assert browser.get(f"/dashboard/hub/{key}.csv").status_code == 200, key
    assert browser.get("/dashboard/hub/no_such_table.csv").status_code == 404


@pytest.mark.parametrize("role", [Role.COMMISSIONER, Role.NAVIGATOR, Role.PRACTICE_USER])
def test_others_may_not_open_the_hub_dashboard(app, role):
    browser = signed_in(app, make_user(role))
    assert browser.get("/dashboard/hub").status_code == 403
    assert browser.get("/dashboard/hub/caseloads.csv").status_code == 403
    assert audit_rows("exported") == []


@pytest.fixture
def hub_day(app):
    """Three referrals waiting for triage (today, 4 and 8 working days), and three open
    cases for a navigator with capacity 4, two of them with no successful contact in the
    overdue period."""
    overdue = app.config["CASE_CONTACT_OVERDUE_DAYS"]
    practice = make_practice(name="Cedar Surgery")
    nina = make_user(Role.NAVIGATOR, full_name="Nina Navigator", caseload_capacity=4)
    make_user(Role.NAVIGATOR, full_name="Omar Navigator")  # no capacity set
    for waited, status in ((0, ReferralStatus.RECEIVED), (4, ReferralStatus.CONTACTING)):
        make_referral(
            practice=practice, status=status, received_at=uk_noon(working_days_ago(waited))
        )
    make_referral(
        practice=practice,
        status=ReferralStatus.RECEIVED,
        received_at=uk_noon(working_days_ago(8)),
    )

    def case(status, assigned_days_ago):
        return make_referral(
            practice=practice,
            status=status,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            received_at=utcnow() - timedelta(days=assigned_days_ago + 5),
            triaged_at=utcnow() - timedelta(days=assigned_days_ago + 1),
            first_contact_at=utcnow() - timedelta(days=assigned_days_ago + 1),
            navigator_id=nina.id,
            assigned_at=utcnow() - timedelta(days=assigned_days_ago),
        )

    # Assigned long ago and never reached since: quiet.
    case(ReferralStatus.ASSIGNED, overdue + 6)
    # Reached two days ago: not quiet.
    recent = case(ReferralStatus.ACTIVE, overdue + 16)
    make_contact(recent, nina, days_ago=2)
    # Reached long ago; yesterday's attempt did not get through: quiet.
    stale = case(ReferralStatus.ACTIVE, overdue + 16)
    make_contact(stale, nina, days_ago=overdue + 6)
    make_contact(stale, nina, days_ago=1, successful=False)
    return {"overdue": overdue, "practice": practice, "navigator": nina}


def test_hub_dashboard_figures(client, logged_in_coordinator, hub_day):
    response = client.get("/dashboard/hub")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    heads = headline_figures(page)

    assert heads["Waiting for triage"] == ("3", "oldest 8 working days")
    assert heads["Waiting more than 2 working days"][0] == "2"  # 4 and 8
    assert heads["Waiting more than 5 working days"][0] == "1"  # 8
    overdue = hub_day["overdue"]
    assert heads[f"No contact in {overdue} days"] == ("2", "of 3 open cases")
    assert heads["Outcome reports not delivered"][0] == "0"
    assert 'id="failed-reports"' not in page

    assert table_rows(page, "caseloads") == [
        ("Nina Navigator", "3", "4", "75%"),
        ("Omar Navigator", "0", "not set", "not set"),
    ]


def test_hub_dashboard_lists_failed_report_deliveries(client, logged_in_coordinator):
    failing = make_practice(name="Failing Surgery")
    retrying = make_practice(name="Retry Medical Centre")
    fine = make_practice(name="Fine Surgery")
    today = london_today()
    for practice, status, error in (
        (failing, DeliveryStatus.FAILED, "550 mailbox unavailable"),
        (retrying, DeliveryStatus.RETRYING, "421 try again later"),
        (fine, DeliveryStatus.SENT, None),
    ):
        _save(
            OutcomeReport(
                claim_key=f"test:{practice.id}:failed-list",
                kind=ReportKind.SCHEDULED,
                practice_id=practice.id,
                period_start=today - timedelta(days=14),
                period_end=today - timedelta(days=7),
                referral_ids=[],
                status=status,
                last_error=error,
                attempts=1,
            )
        )

    page = client.get("/dashboard/hub").get_data(as_text=True)

    assert headline_figures(page)["Outcome reports not delivered"][0] == "2"
    listed = flat(page).split('id="failed-reports"', 1)[1].split("</table>", 1)[0]
    rows = [
        tuple(text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row))
        for row in re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", listed)
        if "<td" in row
    ]
    assert {(r[0], r[2], r[3]) for r in rows} == {
        ("Failing Surgery", "Failed", "550 mailbox unavailable"),
        ("Retry Medical Centre", "Failed, will try again", "421 try again later"),
    }
    assert "Fine Surgery" not in listed


def test_hub_csv_download_is_audited(client, logged_in_coordinator, coordinator, hub_day):
    response = client.get("/dashboard/hub/caseloads.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="hub-caseloads-{london_today():%Y%m%d}.csv"'
    )
    assert csv_rows(response) == [
        ["Navigator", "Open cases", "Capacity", "Use"],
        ["Nina Navigator", "3", "4", "75%"],
        ["Omar Navigator", "0", "not set", "not set"],
    ]
    exported = audit_rows("exported", "hub_dashboard")
    assert [(e.object_id, e.actor_id) for e in exported] == [("caseloads", coordinator.id)]


def test_hub_csv_neutralises_formula_like_names(client, logged_in_coordinator):
    practice = make_practice(name='=HYPERLINK("x")')
    make_referral(practice=practice, received_at=utcnow())
    rows = csv_rows(client.get("/dashboard/hub/received_by_practice.csv"))
    assert rows[0] == ["Practice", "This week", "This month"]
    assert rows[1][0] == '\'=HYPERLINK("x")'


# --- escaping --------------------------------------------------------------------------------


def test_names_are_escaped_on_the_dashboard(client, logged_in_commissioner):
    navigator = make_user(Role.NAVIGATOR)
    practice = make_practice(name=SCRIPT)
    organisation = make_organisation(name=SCRIPT)
    activity = make_activity(organisation)
    for i in range(6):
        referral = make_referral(practice=practice, received_at=utc(2026, 3, 2 + i))
        _save(
            ActivityReferral(
                referral_id=referral.id,
                activity_id=activity.id,
                status=ActivityReferralStatus.SENT,
                created_by_id=navigator.id,
            )
        )

    for args in (filters(), filters(area=f"p{practice.id}")):
        response = client.get("/dashboard", query_string=args)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<script>alert" not in page
        assert ESCAPED_SCRIPT in page
        assert (SCRIPT, "6", "0") in table_rows(page, "activity_organisations")
        assert table_rows(page, "per_1000")[0][0] == SCRIPT
        part = client.get("/dashboard", query_string=args, headers={"HX-Request": "true"})
        assert "<script>alert" not in part.get_data(as_text=True)

    pack = client.get("/dashboard/evaluation.pdf", query_string=filters(area=f"p{practice.id}"))
    assert pack.status_code == 200
    assert SCRIPT in pdf_text(pack.data)  # shown as text, so escaped in the HTML


def test_names_are_escaped_on_the_hub_dashboard(client, logged_in_admin):
    navigator = make_user(Role.NAVIGATOR, full_name=SCRIPT, caseload_capacity=3)
    practice = make_practice(name=SCRIPT)
    organisation = make_organisation(name=SCRIPT)
    activity = make_activity(organisation)
    referral = make_referral(practice=practice, received_at=utcnow())
    _save(
        ActivityReferral(
            referral_id=referral.id,
            activity_id=activity.id,
            status=ActivityReferralStatus.SENT,
            created_by_id=navigator.id,
            respond_by=london_today() - timedelta(days=1),
        )
    )
    _save(
        OutcomeReport(
            claim_key=f"test:{practice.id}:escaping",
            practice_id=practice.id,
            period_start=london_today() - timedelta(days=14),
            period_end=london_today() - timedelta(days=7),
            referral_ids=[],
            status=DeliveryStatus.FAILED,
            last_error=SCRIPT,
        )
    )

    response = client.get("/dashboard/hub")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page
    assert ESCAPED_SCRIPT in page
    assert (SCRIPT, "1", "1") in table_rows(page, "activity_responses")
    assert table_rows(page, "received_by_practice")[0][0] == SCRIPT
    assert (SCRIPT, "0", "3", "0%") in table_rows(page, "caseloads")
    listed = flat(page).split('id="failed-reports"', 1)[1].split("</table>", 1)[0]
    assert listed.count(ESCAPED_SCRIPT) == 2  # the practice and the error


def test_volunteer_hours_are_on_the_dashboard(client, logged_in_commissioner, march):
    """Volunteer time is counted by when it was given, whatever the practice filter."""
    volunteer = make_volunteer()
    _save(
        VolunteerHours(
            volunteer_id=volunteer.id,
            worked_on=date(2026, 3, 10),
            kind=HoursKind.EVENT,
            minutes=180,
        )
    )
    for area in ("", f"p{march['brook'].id}"):
        page = client.get("/dashboard", query_string=filters(area=area)).get_data(as_text=True)
        assert headline_figures(page)["Volunteer hours"] == ("3", "given in these dates")
        assert table_rows(page, "volunteer_time") == [("2026-03", "3.0", "<5")]


@pytest.mark.parametrize(
    ("start", "end"),
    [((1, 1, 9999), (2, 1, 9999)), ((1, 1, 1000), (2, 1, 1000))],
)
def test_far_off_years_do_not_break_the_dashboard(
    client, logged_in_commissioner, march, start, end
):
    """A year typed as 9999 (a slip of the finger) is a date like any other: the answer is
    figures or a message beside the field, never a server error."""
    args = filters(start=start, end=end)
    response = client.get("/dashboard", query_string=args)
    assert response.status_code in (200, 422)
    for path in ("/dashboard/per_1000.csv", "/dashboard/evaluation.pdf"):
        assert client.get(path, query_string=args).status_code in (200, 400), path
