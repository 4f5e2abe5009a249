"""A navigator's case from the caseload to closure in a real browser, and a typed note that
survives the session timing out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.measures.models import MeasureResponse, Stage
from portal.referrals.models import ReferralStatus, Route
from portal.reports.models import QueuedOutcome
from tests import factories

pytestmark = pytest.mark.browser


def _log_in(page, live_server, role: Role, lands_on: str | None = None) -> None:
    account = live_server.accounts[role]
    page.goto("/login")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + (lands_on or account.start_path))


def _overdue_case(live_server, family_name: str) -> tuple[int, str]:
    """An active case on the navigator's caseload, last reached 20 days ago."""
    with live_server.app.app_context():
        navigator = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.NAVIGATOR].email)
        )
        resident = factories.make_resident(family_name=family_name, given_name="Winifred")
        referral = factories.make_referral(
            resident=resident,
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=1,
            navigator_id=navigator.id,
            received_at=utcnow() - timedelta(days=40),
            triaged_at=utcnow() - timedelta(days=35),
            assigned_at=utcnow() - timedelta(days=34),
            first_contact_at=utcnow() - timedelta(days=20),
        )
        factories.make_contact(referral, navigator, days_ago=20)
        result = referral.id, referral.reference
        db.session.remove()
    return result


def _answer(page, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()


def _record(page, scale_link: str, stage: str, answers: list[tuple[str, str]]) -> None:
    page.get_by_role("link", name=scale_link).first.click()
    expect(page.get_by_role("group", name="When is this being asked?")).to_be_visible()
    page.get_by_role("group", name="When is this being asked?").get_by_label(stage).check()
    for question, answer in answers:
        _answer(page, question, answer)
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_text(re.compile(r"\((baseline|closing)\) recorded"))).to_be_visible()


ONS4 = [
    "Overall, how satisfied are you with your life nowadays?",
    "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
    "Overall, how happy did you feel yesterday?",
    "how anxious did you feel yesterday?",
]
SWEMWBS = [
    "I've been feeling optimistic about the future",
    "I've been feeling useful",
    "I've been feeling relaxed",
    "I've been dealing with problems well",
    "I've been thinking clearly",
    "I've been feeling close to other people",
    "I've been able to make up my own mind about things",
]
UCLA3 = [
    "How often do you feel that you lack companionship?",
    "How often do you feel left out?",
    "How often do you feel isolated from others?",
]


def test_navigator_works_a_case_from_overdue_to_closed(axe_page, live_server, check_accessibility):
    page = axe_page
    referral_id, _ = _overdue_case(live_server, "Oakhampton")

    # The caseload flags the case that has gone quiet.
    _log_in(page, live_server, Role.NAVIGATOR)
    row = page.get_by_role("row").filter(has_text="Winifred Oakhampton")
    expect(row.get_by_text("Contact overdue")).to_be_visible()
    check_accessibility(page, "the caseload")

    row.get_by_role("link", name="Winifred Oakhampton").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Winifred Oakhampton")
    expect(page.locator("#case-header").get_by_text("Contact overdue")).to_be_visible()
    check_accessibility(page, "the case page")

    # A contact, logged with htmx: the page is not reloaded, and the flag goes.
    page.evaluate("window.__sameDocument = true")
    contact_form = page.locator("form[action$='/contacts']")
    contact_form.get_by_label("Phone", exact=True).check()
    contact_form.get_by_label("Spoke to the person").check()
    contact_form.get_by_label("How long it took, in minutes").fill("25")
    contact_form.get_by_label("Notes").fill("Talked about the Thursday lunch club.")
    contact_form.get_by_role("button", name="Save contact").click()
    expect(page.locator("#contacts").get_by_text("Contact logged")).to_be_visible()
    assert page.evaluate("window.__sameDocument === true")
    expect(
        page.locator("#contacts").get_by_text("Talked about the Thursday lunch club.")
    ).to_be_visible()
    expect(page.locator("#case-header").get_by_text("Contact overdue")).to_have_count(0)
    expect(
        page.locator("#timeline").get_by_text("Phone: Spoke to the person, 25 minutes")
    ).to_be_visible()

    # Baseline measures, each scale on its own page.
    _record(
        page,
        "Record the baseline ONS4",
        "Baseline",
        list(zip(ONS4, ["4", "5", "3", "7"], strict=True)),
    )
    check_accessibility(page, "the case page after a measure")
    _record(page, "Record the baseline Short", "Baseline", [(q, "Rarely") for q in SWEMWBS])
    _record(page, "Record the baseline UCLA", "Baseline", [(q, "Often") for q in UCLA3])

    # What matters to the person, in their words (htmx).
    goals = page.locator("#goals")
    goals.get_by_label("What matters to the person").fill(
        "I want to get out of the house once a week"
    )
    goals.get_by_role("button", name="Add goal").click()
    expect(goals.get_by_text("Goal added")).to_be_visible()
    goals.get_by_role("button", name=re.compile("^Achieved")).click()
    expect(goals.get_by_text("Goal marked achieved")).to_be_visible()

    # Closing measures, then the change from baseline in words and as a chart.
    _record(
        page,
        "Record the closing measure ONS4",
        "Closing",
        list(zip(ONS4, ["7", "8", "7", "3"], strict=True)),
    )
    _record(page, "Record the closing measure Short", "Closing", [(q, "Often") for q in SWEMWBS])
    _record(page, "Record the closing measure UCLA", "Closing", [(q, "Hardly ever") for q in UCLA3])
    measures = page.locator("#measures")
    expect(
        measures.get_by_text("Life satisfaction went up from 4 (low) to 7 (high): better.")
    ).to_be_visible()
    expect(
        measures.get_by_text("Anxiety went down from 7 (high) to 3 (low): better.")
    ).to_be_visible()
    expect(
        measures.get_by_text(re.compile(r"went up from 15\.32 to 25\.03: better"))
    ).to_be_visible()
    expect(
        measures.get_by_text(
            "Loneliness (UCLA-3 score) went down from 9 (lonely) to 3 (not lonely): better."
        )
    ).to_be_visible()
    expect(measures.locator("svg[role='img']")).to_have_count(6)

    # Close with an outcome: the case leaves the caseload and waits for the GP report.
    page.get_by_role("link", name="Close the case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close the case")
    check_accessibility(page, "the close page")
    page.get_by_role("button", name="Close the case").click()
    expect(page.get_by_text("Choose the outcome of the support").first).to_be_visible()
    page.get_by_label("Goals met").check()
    page.get_by_label("Summary for the GP").fill("Goes to the lunch club every Thursday.")
    page.get_by_role("button", name="Close the case").click()
    expect(page).to_have_url(re.compile(r"/caseload"))
    expect(
        page.get_by_text(re.compile("The outcome will go to .* in their next report"))
    ).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Winifred Oakhampton")).to_have_count(0)

    with live_server.app.app_context():
        queued = db.session.scalars(
            sa.select(QueuedOutcome).where(QueuedOutcome.referral_id == referral_id)
        ).all()
        closing = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MeasureResponse)
            .where(
                MeasureResponse.referral_id == referral_id, MeasureResponse.stage == Stage.CLOSING
            )
        )
        db.session.remove()
    assert [q.report_id for q in queued] == [None]
    assert closing == 3


def test_a_typed_note_survives_the_session_ending(csp_page, live_server):
    page = csp_page
    referral_id, _ = _overdue_case(live_server, "Draycott")
    _log_in(page, live_server, Role.NAVIGATOR)
    page.goto(f"/cases/{referral_id}")
    note = "She would like a lift to the knitting group; her daughter visits on Sundays."
    form = page.locator("form[action$='/contacts']")
    form.get_by_label("Notes").fill(note)

    # The session ends (as after a timeout) before the navigator saves.
    page.context.clear_cookies()
    form.get_by_role("button", name="Save contact").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_text("anything you typed but had not saved is kept")).to_be_visible()

    account = live_server.accounts[Role.NAVIGATOR]
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + f"/cases/{referral_id}")

    # The note is back, said to be unsaved, and saving it clears the draft.
    form = page.locator("form[action$='/contacts']")
    expect(form.get_by_label("Notes")).to_have_value(note)
    expect(page.get_by_text("We kept a note you had not saved")).to_be_visible()
    form.get_by_role("button", name="Save contact").click()
    expect(page.locator("#contacts").get_by_text("Contact logged")).to_be_visible()
    page.reload()
    expect(page.locator("form[action$='/contacts']").get_by_label("Notes")).to_have_value("")
