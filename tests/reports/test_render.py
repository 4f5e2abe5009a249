"""One report, four formats: the PDF letter, its HTML, the coded CSV and the JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals import workflow
from portal.referrals.models import ClosureReason, Referral, ReferralStatus, Route
from portal.referrals.workflow import Actor
from portal.reports import render
from portal.reports.delivery import claim
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.reports.periods import Period, london_date
from tests.factories import make_practice, make_referral, make_resident

S = ReferralStatus
SCRIPT_NAME = "<script>alert(1)</script>"
NASTY_SUMMARY = "Went to <b>bold</b><img src=x onerror=alert(1)> every week"
JSON_KEYS = ["schema_version", "practice", "period", "kind", "people"]


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def settle() -> None:
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def closed(navigator, hub, practice, resident, reason=ClosureReason.MOVED_AWAY, summary=None, **kw):
    referral = make_referral(
        resident=resident,
        practice=practice,
        status=S.ACTIVE,
        **{
            "received_at": ago(days=20),
            "first_contact_at": ago(days=19),
            "route": Route.SOCIAL_NAVIGATION,
            "support_level": 2,
            "triaged_at": ago(days=19),
            "navigator_id": navigator.id,
            "assigned_at": ago(days=10),
            **kw,
        },
    )
    settle()
    workflow.close(referral, hub, reason, summary)
    db.session.commit()
    settle()
    return referral


def this_week() -> Period:
    today = london_date(utcnow())
    return Period(today - timedelta(days=6), today)


def claimed(practice) -> OutcomeReport:
    # A moment after the closures, so all of them are before the claim's cutoff.
    report = claim(practice, this_week(), now=utcnow() + timedelta(seconds=5))
    assert report is not None
    return report


def pdf_pages(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def spaced(nhs: str) -> str:
    return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"


def first_page_with(pages: list[str], text: str) -> int:
    found = [i for i, page in enumerate(pages) if text in page]
    assert found, f"{text!r} is on no page"
    return found[0]


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


@pytest.fixture
def nadia(make_user):
    return make_user(Role.NAVIGATOR, full_name="Nadia Navigator")


@pytest.fixture
def practice(app):
    return make_practice(name="Riverside Surgery", ods_code="M85001")


@pytest.fixture
def three_people(nadia, hub, practice):
    """Three closed cases for one practice: two shared in full, one coded only."""
    ada = make_resident(given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10))
    alan = make_resident(given_name="Alan", family_name="Turing", date_of_birth=date(1954, 6, 23))
    grace = make_resident(given_name="Grace", family_name="Hopper", date_of_birth=date(1936, 12, 9))
    closed(nadia, hub, practice, ada, ClosureReason.GOALS_MET, "Joined a choir")
    closed(nadia, hub, practice, alan, ClosureReason.DECLINED, "Did not want help")
    closed(nadia, hub, practice, grace, consent_share_with_gp=False)
    return [grace, ada, alan]  # family-name order: Hopper, Lovelace, Turing


@pytest.fixture
def report(three_people, practice) -> OutcomeReport:
    return claimed(practice)


# --- the PDF letter ------------------------------------------------------------------------


def test_the_claimed_report_carries_the_people_in_order(report, three_people):
    assert report.status == DeliveryStatus.CLAIMED
    assert report.people == 3
    assert [p["patient"]["family_name"] for p in report.summaries] == [
        "Hopper",
        "Lovelace",
        "Turing",
    ]


def test_the_pdf_names_each_person_with_their_nhs_number(app, report, three_people):
    with app.test_request_context():
        pages = pdf_pages(render.pdf(report))
    text = "\n".join(pages)
    for resident in three_people:
        assert f"{resident.given_name} {resident.family_name}" in text
        assert spaced(resident.nhs_number) in text
    assert "Riverside Surgery" in text
    assert "M85001" in text
    assert "871731000000106" in text
    assert "871711000000103" in text


def test_each_person_starts_on_a_new_page(app, report, three_people):
    with app.test_request_context():
        pages = pdf_pages(render.pdf(report))

    assert len(pages) >= 1 + len(three_people)
    where = [first_page_with(pages, f"{r.given_name} {r.family_name}") for r in three_people]
    # The covering page names nobody; each person then starts a page of their own, in order.
    assert where[0] >= 1
    assert where == sorted(where)
    assert len(set(where)) == len(three_people)
    for resident, page in zip(three_people, where, strict=True):
        others = [r for r in three_people if r is not resident]
        for other in others:
            assert f"{other.given_name} {other.family_name}" not in pages[page]
        assert spaced(resident.nhs_number) in pages[page]


def test_the_pdf_tells_full_content_only_where_the_person_agreed(app, report, three_people):
    with app.test_request_context():
        pages = pdf_pages(render.pdf(report))
    grace, ada, alan = (
        first_page_with(pages, name) for name in ("Grace Hopper", "Ada Lovelace", "Alan Turing")
    )
    assert "did not agree to their details being shared" in pages[grace]
    assert "Nadia Navigator" not in pages[grace]
    assert "Joined a choir" in pages[ada]
    assert "Nadia Navigator" in pages[ada]
    assert "did not agree" not in pages[ada]
    assert "Did not want help" in pages[alan]
    assert "Social prescribing declined" in pages[alan]


def test_an_empty_report_still_renders(app, practice):
    report = claimed(practice)
    assert report.status == DeliveryStatus.EMPTY
    with app.test_request_context():
        pages = pdf_pages(render.pdf(report))
        html = render.letter_html(report)
    assert len(pages) == 1
    assert "0 people" in html
    assert render.coded_csv(report).splitlines() == [",".join(render.CSV_HEADER)]
    assert json.loads(render.as_json(report))["people"] == []


# --- nothing in a name or a summary is run --------------------------------------------------


@pytest.fixture
def nasty_report(nadia, hub, practice) -> OutcomeReport:
    resident = make_resident(given_name=SCRIPT_NAME, family_name="Smith")
    closed(nadia, hub, practice, resident, ClosureReason.GOALS_MET, NASTY_SUMMARY)
    withheld = make_resident(given_name=SCRIPT_NAME, family_name="Jones")
    closed(nadia, hub, practice, withheld, consent_share_with_gp=False)
    return claimed(practice)


def test_the_letter_html_escapes_names_and_summaries(app, nasty_report):
    with app.test_request_context():
        html = render.letter_html(nasty_report)

    assert "&lt;script&gt;alert(1)&lt;/script&gt; Smith" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Jones" in html
    assert "&lt;b&gt;bold&lt;/b&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>bold" not in html
    # The letter's own markup is still there.
    assert "<section" in html


def test_the_pdf_shows_the_markup_as_text(app, nasty_report):
    with app.test_request_context():
        pages = pdf_pages(render.pdf(nasty_report))
    text = "\n".join(pages)
    assert f"{SCRIPT_NAME} Smith" in text
    assert f"{SCRIPT_NAME} Jones" in text
    assert "<b>bold</b><img src=x onerror=alert(1)>" in text


# --- the coded CSV -------------------------------------------------------------------------


def rows(report) -> list[dict]:
    text = render.coded_csv(report)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert tuple(header) == render.CSV_HEADER
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_the_csv_has_one_row_per_code_per_person(report, three_people):
    got = rows(report)
    period = this_week()
    assert [(r["family_name"], r["snomed_code"]) for r in got] == [
        ("Hopper", "871731000000106"),
        ("Lovelace", "871731000000106"),
        ("Turing", "871731000000106"),
        ("Turing", "871711000000103"),
    ]
    grace, ada, alan, alan_declined = got
    for row in got:
        assert row["practice_ods_code"] == "M85001"
        assert row["period_start"] == period.start.isoformat()
        assert row["period_end"] == period.end.isoformat()
        assert row["event"] == "closed"
    assert grace["shared_in_full"] == "no"
    assert ada["shared_in_full"] == "yes"
    by_name = {r.family_name: r for r in three_people}
    assert ada["nhs_number"] == by_name["Lovelace"].nhs_number
    assert ada["given_name"] == "Ada"
    assert ada["date_of_birth"] == "1941-12-10"
    assert ada["snomed_display"] == "Referral to social prescribing service"
    assert alan_declined["snomed_display"] == "Social prescribing declined"
    assert alan_declined["reference"] == alan["reference"]
    references = {p["reference"] for p in report.summaries}
    assert {r["reference"] for r in got} == references


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_name_a_spreadsheet_would_run_is_written_as_text(nadia, hub, practice, start):
    given = f'{start}HYPERLINK("http://evil.invalid","x")'
    resident = make_resident(given_name=given, family_name=f"{start}1+1")
    closed(nadia, hub, practice, resident)
    (row,) = rows(claimed(practice))
    assert row["given_name"] == "'" + given
    assert row["family_name"] == f"'{start}1+1"


def test_a_plain_name_is_written_as_it_is(nadia, hub, practice):
    resident = make_resident(given_name="Mary-Jane", family_name="O'Neil")
    closed(nadia, hub, practice, resident)
    (row,) = rows(claimed(practice))
    assert (row["given_name"], row["family_name"]) == ("Mary-Jane", "O'Neil")


# --- the JSON ------------------------------------------------------------------------------


def test_the_json_is_the_summaries_with_the_practice_and_period(report, three_people):
    document = json.loads(render.as_json(report))
    period = this_week()

    assert list(document) == JSON_KEYS
    assert document["schema_version"] == 1
    assert document["practice"] == {"ods_code": "M85001", "name": "Riverside Surgery"}
    assert document["period"] == {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }
    assert document["kind"] == ReportKind.SCHEDULED.value
    assert document["people"] == report.summaries
    assert [p["patient"]["family_name"] for p in document["people"]] == [
        "Hopper",
        "Lovelace",
        "Turing",
    ]
    assert all(p["schema_version"] == 1 for p in document["people"])
    # The same report always says the same thing.
    assert render.as_json(report) == render.as_json(report)


def test_the_json_keeps_the_coded_minimum_minimal(report):
    document = json.loads(render.as_json(report))
    grace = document["people"][0]
    assert grace["shared_in_full"] is False
    for key in ("referral", "what_matters", "support", "wellbeing", "navigator"):
        assert key not in grace
    assert "support" in document["people"][1]


def test_the_json_keeps_markup_as_data(nasty_report):
    text = render.as_json(nasty_report)
    document = json.loads(text)
    assert {p["patient"]["given_name"] for p in document["people"]} == {SCRIPT_NAME}
    smith = next(p for p in document["people"] if p["patient"]["family_name"] == "Smith")
    assert smith["outcome"]["summary"] == NASTY_SUMMARY


def test_file_names_say_the_practice_and_period(report):
    period = this_week()
    assert render.filename(report, "pdf") == (
        f"outcome-report-M85001-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{report.id}.pdf"
    )


# --- what the letter says ------------------------------------------------------------------


def test_the_letter_shows_wellbeing_change_and_support(app, nadia, hub, practice):
    from portal.measures.models import MeasureResponse, Scale, Stage

    resident = make_resident(given_name="Ada", family_name="Lovelace")
    referral = make_referral(
        resident=resident,
        practice=practice,
        status=S.ACTIVE,
        received_at=ago(days=20),
        first_contact_at=ago(days=19),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        triaged_at=ago(days=19),
        navigator_id=nadia.id,
        assigned_at=ago(days=10),
        referrer_name="Dr Patel",
    )
    for stage, answers, days_ago in (
        (Stage.BASELINE, [3, 3, 2], 15),
        (Stage.CLOSING, [1, 2, 1], 1),
    ):
        db.session.add(
            MeasureResponse(
                referral_id=referral.id,
                scale=Scale.UCLA3,
                stage=stage,
                answers=answers,
                recorded_by_id=nadia.id,
                recorded_at=ago(days=days_ago),
            )
        )
    db.session.commit()
    settle()
    workflow.close(referral, hub, ClosureReason.GOALS_MET, "Joined a choir")
    db.session.commit()
    report = claimed(practice)

    with app.test_request_context():
        html = render.letter_html(report)
        text = "\n".join(pdf_pages(render.pdf(report)))

    for shown in (html, text):
        assert "UCLA 3-item loneliness scale" in shown
        assert "Loneliness (UCLA-3 score)" in shown
        assert "-4 (better)" in shown
        assert "Dr Patel" in shown
        assert "Loneliness or social isolation" in shown
        assert "Joined a choir" in shown
        assert "Nadia Navigator" in shown
        assert app.config["HUB_PHONE"] in shown
    assert "1 person" in html


def test_an_unknown_nhs_number_and_birth_date_say_so(app, nadia, hub, practice):
    resident = make_resident(
        given_name="Nobody", family_name="Known", nhs_number=None, date_of_birth=None
    )
    closed(nadia, hub, practice, resident)
    report = claimed(practice)

    (person,) = report.summaries
    assert person["patient"]["nhs_number"] is None
    assert person["patient"]["date_of_birth"] is None
    with app.test_request_context():
        html = render.letter_html(report)
    assert html.count("Not known") >= 2
    (row,) = rows(report)
    assert (row["nhs_number"], row["date_of_birth"]) == ("", "")
    assert json.loads(render.as_json(report))["people"][0]["patient"]["nhs_number"] is None


def test_a_notice_of_one_closed_case_renders_as_a_notice(app, nadia, hub):
    practice = make_practice(notify_on_close=True, ods_code="M85002")
    resident = make_resident(given_name="Ada", family_name="Lovelace")
    closed(nadia, hub, practice, resident, ClosureReason.GOALS_MET, "Joined a choir")

    notice = db.session.scalar(
        sa.select(OutcomeReport).where(OutcomeReport.kind == ReportKind.NOTICE)
    )
    assert notice is not None
    assert notice.practice_id == practice.id
    assert notice.people == 1
    with app.test_request_context():
        html = render.letter_html(notice)
        pages = pdf_pages(render.pdf(notice))
    assert "Social prescribing notice" in html
    assert "Social prescribing outcome report" not in html
    assert "Date: " in html
    assert "Period: " not in html
    # Composed inside the closing transaction, it already knows the outcome.
    assert "Joined a choir" in html
    assert "Goals met" in html
    assert len(pages) >= 2
    assert first_page_with(pages, "Ada Lovelace") >= 1
    assert json.loads(render.as_json(notice))["kind"] == "notice"
