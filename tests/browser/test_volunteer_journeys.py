"""Volunteering in a real browser: a person applies on the public form and the hub vets them
until they can be matched; and a buddy, on a phone, says yes to a proposal and raises a
concern that reaches the navigator."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import ReferralStatus, Route
from portal.volunteers.models import (
    BuddyMatchStatus,
    DbsLevel,
    TrainingModule,
    Volunteer,
    VolunteerStatus,
)
from tests import factories

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _log_in(page, live_server, role: Role) -> None:
    account = live_server.accounts[role]
    page.goto("/login")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + account.start_path)


def _fill_date(page, legend: str, day: date) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def _open(page, summary: str) -> None:
    """Open a <details> section so the form inside it can be filled."""
    details = page.locator("details", has=page.locator("summary", has_text=summary))
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(details).to_have_attribute("open", "")


def _mandatory_buddy_courses(live_server) -> list[str]:
    with live_server.app.app_context():
        names = list(
            db.session.scalars(
                sa.select(TrainingModule.name)
                .where(TrainingModule.is_active, TrainingModule.required_for_buddy)
                .order_by(TrainingModule.name)
            )
        )
        db.session.remove()
    return names


def test_applicant_is_vetted_until_they_can_be_matched(axe_page, live_server, check_accessibility):
    page = axe_page
    with live_server.app.app_context():
        factories.make_training_module(name="Safeguarding adults", required_for_buddy=True)
        db.session.remove()

    # A person finds the public form from the home page and applies, no login needed.
    page.goto("/")
    page.get_by_role("link", name="Apply to volunteer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Volunteer with us")
    check_accessibility(page, "the volunteer sign-up form")
    page.get_by_label("Full name").fill("Maeve Lindqvist")
    page.get_by_label("Email address", exact=True).fill("maeve.lindqvist@example.org")
    page.get_by_label("Phone number", exact=True).fill("07700 900 318")
    page.get_by_label("Postcode").fill("cv3 5fj")
    page.get_by_label("Languages you speak").fill("English, Swedish")
    page.get_by_role("group", name="Tuesday", exact=True).get_by_label("Afternoon").check()
    page.get_by_role("group", name="Saturday", exact=True).get_by_label("Morning").check()
    page.get_by_label("Public transport").check()
    page.get_by_label("Buddy", exact=True).check()
    first = page.get_by_role("group", name="First referee")
    first.get_by_label("Name", exact=True).fill("Priya Raman")
    first.get_by_label("Email address or phone number").fill("priya.raman@example.org")
    second = page.get_by_role("group", name="Second referee")
    second.get_by_label("Name", exact=True).fill("Tom Bellamy")
    second.get_by_label("Email address or phone number").fill("024 7655 0100")
    page.get_by_label("Why would you like to volunteer?").fill(
        "I retired last year and would like to help people in my neighbourhood."
    )
    page.get_by_label("I have read the volunteer privacy notice").check()
    page.get_by_role("button", name="Send my application").click()
    expect(page).to_have_url(live_server.url + "/volunteer/thank-you")
    expect(page.get_by_role("heading", name="Thank you for applying")).to_be_visible()
    check_accessibility(page, "the sign-up thank-you page")

    # The coordinator finds the applicant on the volunteer board.
    _log_in(page, live_server, Role.COORDINATOR)
    page.get_by_role("link", name="Volunteers", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Volunteers")
    check_accessibility(page, "the volunteer board")
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Status", exact=True).select_option("applied")
    expect(page.locator("#volunteer-board caption")).to_contain_text("applied")
    page.get_by_label("Search by name or email").fill("Lindqvist")
    board = page.locator("#volunteer-board")
    expect(board.locator("caption")).to_have_text(
        re.compile(r"^1 volunteer, applied, matching “Lindqvist”")
    )
    assert page.evaluate("window.__sameDocument === true")
    row = board.get_by_role("row").filter(has_text="Maeve Lindqvist")
    expect(row.locator(".nhsuk-tag", has_text="Applied")).to_be_visible()
    expect(row.locator(".nhsuk-tag", has_text="Cannot be matched")).to_be_visible()
    check_accessibility(page, "the volunteer board, searched")
    row.get_by_role("link", name="Maeve Lindqvist").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Maeve Lindqvist")
    card = page.locator("#compliance")
    expect(card.get_by_text("Their status is applied, not active")).to_be_visible()
    expect(card.get_by_text("No DBS check recorded: an enhanced check is needed")).to_be_visible()
    expect(card.get_by_text("Training not done: Safeguarding adults")).to_be_visible()
    check_accessibility(page, "the applicant's page")

    # Applied -> vetting.
    _open(page, "Change status")
    status_form = page.locator("form[action$='/status']")
    status_form.get_by_label("Vetting", exact=True).check()
    status_form.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("Maeve Lindqvist is now vetting")).to_be_visible()
    expect(page.get_by_text("Both references must be received")).to_be_visible()
    expect(page.get_by_text("Record their enhanced DBS check")).to_be_visible()
    check_accessibility(page, "the volunteer's page in vetting")

    # Both references back. She applied today, so nothing can be dated before today.
    today = date.today()
    _open(page, "Record references")
    _fill_date(page, "References asked for on", today)
    _fill_date(page, "First reference received on", today)
    _fill_date(page, "Second reference received on", today)
    page.get_by_role("button", name="Save references").click()
    expect(page.get_by_text("References saved")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Priya Raman, priya\.raman@example\.org · received"))
    ).to_be_visible()
    expect(page.get_by_text("Both references must be received")).to_have_count(0)

    # An enhanced DBS check, issued last month.
    _open(page, "Record the DBS check")
    dbs_form = page.locator("form[action$='/dbs']")
    dbs_form.get_by_label("Enhanced").check()
    dbs_form.get_by_label("Certificate number").fill("0012 3456 7890")
    _fill_date(page, "Date of issue", today - timedelta(days=30))
    dbs_form.get_by_role("button", name="Save DBS check").click()
    expect(page.get_by_text("DBS check recorded")).to_be_visible()
    expect(page.get_by_text("001234567890")).to_be_visible()
    expect(page.get_by_text("Record their enhanced DBS check")).to_have_count(0)
    check_accessibility(page, "the volunteer's page with references and DBS")

    # Vetting -> active: she still cannot be matched until her training is done.
    _open(page, "Change status")
    status_form = page.locator("form[action$='/status']")
    status_form.get_by_label("Active", exact=True).check()
    status_form.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("Maeve Lindqvist is now active")).to_be_visible()
    card = page.locator("#compliance")
    courses = _mandatory_buddy_courses(live_server)
    assert "Safeguarding adults" in courses
    expect(card.get_by_role("listitem")).to_have_text([f"Training not done: {c}" for c in courses])
    expect(page.get_by_text("Cannot be matched", exact=True)).to_be_visible()
    check_accessibility(page, "the active volunteer's page before training")

    # Every mandatory course recorded.
    for course in courses:
        _open(page, "Record a completed course")
        training_form = page.locator("form[action$='/training']")
        training_form.get_by_label("Course").select_option(label=course)
        _fill_date(page, "Date completed", today)
        training_form.get_by_label("Trainer or provider").fill("Coventry Hub")
        training_form.get_by_role("button", name="Save training").click()
        expect(page.get_by_text(f"{course} recorded")).to_be_visible()

    card = page.locator("#compliance")
    expect(page.get_by_text("Can be matched", exact=True)).to_be_visible()
    expect(page.get_by_text("Cannot be matched", exact=True)).to_have_count(0)
    expect(card.get_by_text(re.compile(r"^Yes: active"))).to_be_visible()
    expect(card.get_by_role("listitem")).to_have_count(0)
    expect(card.get_by_text("Not yet, because")).to_have_count(0)
    check_accessibility(page, "the volunteer's page once they can be matched")

    with live_server.app.app_context():
        volunteer = db.session.scalar(
            sa.select(Volunteer)
            .join(User, Volunteer.user_id == User.id)
            .where(User.email == "maeve.lindqvist@example.org")
        )
        assert volunteer.status == VolunteerStatus.ACTIVE
        assert volunteer.role_buddy and not volunteer.role_navigator
        assert volunteer.availability == ["tue_afternoon", "sat_morning"]
        assert volunteer.transport == "Public transport"
        assert volunteer.postcode == "CV3 5FJ"
        assert volunteer.languages == ["English", "Swedish"]
        assert volunteer.dbs_level == DbsLevel.ENHANCED
        assert len(volunteer.training_records) == len(courses)
        db.session.remove()


def _proposal_for_the_volunteer_account(live_server, family_name: str) -> int:
    """The live server's volunteer made compliant, and proposed as buddy for a navigator's case."""
    with live_server.app.app_context():
        navigator = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.NAVIGATOR].email)
        )
        user = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.VOLUNTEER].email)
        )
        volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == user.id))
        volunteer.status = VolunteerStatus.ACTIVE
        volunteer.role_buddy = True
        volunteer.dbs_level = DbsLevel.ENHANCED
        volunteer.dbs_certificate_number = "001234567890"
        volunteer.dbs_issue_date = date.today() - timedelta(days=200)
        volunteer.referee_1_name = "Ruth Acheson"
        volunteer.referee_2_name = "Kwame Boateng"
        volunteer.referee_1_received_on = date.today() - timedelta(days=230)
        volunteer.referee_2_received_on = date.today() - timedelta(days=230)
        volunteer.applied_at = utcnow() - timedelta(days=260)
        volunteer.joined_on = date.today() - timedelta(days=220)
        db.session.commit()
        modules = db.session.scalars(
            sa.select(TrainingModule).where(
                TrainingModule.is_active, TrainingModule.required_for_buddy
            )
        ).all()
        if not modules:
            modules = [factories.make_training_module(name="Buddy induction")]
        held = {r.module_id for r in volunteer.training_records}
        for module in modules:
            if module.id not in held:
                factories.make_training_record(volunteer, module)

        resident = factories.make_resident(
            given_name="Dorothy", family_name=family_name, postcode="CV2 4GQ"
        )
        referral = factories.make_referral(
            resident=resident,
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            navigator_id=navigator.id,
            received_at=utcnow() - timedelta(days=12),
            triaged_at=utcnow() - timedelta(days=10),
            assigned_at=utcnow() - timedelta(days=9),
            first_contact_at=utcnow() - timedelta(days=7),
        )
        factories.make_contact(referral, navigator, days_ago=7)
        factories.make_goal(referral, navigator, description="Go back to the allotment society")
        match = factories.make_buddy_match(
            referral,
            volunteer,
            navigator,
            status=BuddyMatchStatus.PROPOSED,
            responded_at=None,
            proposed_at=utcnow() - timedelta(days=1),
        )
        match_id = match.id
        db.session.remove()
    return match_id


def _assert_no_sideways_scroll(page, where: str) -> None:
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], (
        f"{where} scrolls sideways on a phone: {widths['scroll']}px wide "
        f"in a {widths['inner']}px window"
    )


def test_buddy_accepts_on_a_phone_and_a_concern_reaches_the_navigator(
    browser, axe_page, live_server, check_accessibility
):
    match_id = _proposal_for_the_volunteer_account(live_server, "Fairweather")
    concern = "Dorothy had not eaten and the flat was very cold; she seemed confused."

    context = browser.new_context(
        base_url=live_server.url, bypass_csp=True, viewport=PHONE, is_mobile=True
    )
    context.set_default_timeout(10_000)
    context.route(
        lambda url: urlsplit(url).hostname != "127.0.0.1",
        lambda route: route.abort("blockedbyclient"),
    )
    page = context.new_page()
    try:
        # The volunteer sees the proposal on their start page.
        _log_in(page, live_server, Role.VOLUNTEER)
        expect(page.get_by_role("heading", level=1)).to_have_text("My volunteering")
        expect(page.get_by_role("heading", name="Waiting for your answer")).to_be_visible()
        expect(page.get_by_text("Before we can introduce you to anyone new")).to_have_count(0)
        _assert_no_sideways_scroll(page, "My volunteering")
        check_accessibility(page, "My volunteering, with a proposal")

        page.get_by_role("link", name="Would you buddy Dorothy?").click()
        expect(page).to_have_url(live_server.url + f"/volunteering/buddies/{match_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Would you buddy Dorothy?")
        expect(page.get_by_text("Go back to the allotment society")).to_be_visible()
        expect(page.get_by_text("Dorothy lives in CV2")).to_be_visible()
        # Nothing to reach her by until the volunteer says yes.
        expect(page.get_by_role("heading", name="How to reach Dorothy")).to_have_count(0)
        _assert_no_sideways_scroll(page, "the proposal")
        check_accessibility(page, "the buddy proposal")

        page.get_by_role("button", name="Yes, I will be Dorothy's buddy").click()
        expect(page.get_by_text("Thank you. You are now Dorothy's buddy.")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dorothy")
        expect(page.get_by_role("heading", name="How to reach Dorothy")).to_be_visible()
        _assert_no_sideways_scroll(page, "the buddy page")
        check_accessibility(page, "the buddy page")

        # A visit that worried them.
        form = page.locator("form[action$='/contacts']")
        form.get_by_label("Home visit").check()
        form.get_by_label("How long, in minutes").fill("50")
        form.get_by_label("How did it go?").fill("We talked about her garden.")
        form.get_by_label("I am worried about this person's safety or wellbeing").check()
        form.get_by_label("What worries you?").fill(concern)
        form.get_by_role("button", name="Save this contact").click()
        expect(
            page.get_by_text(
                "Contact saved. The navigator and the hub coordinators have been told "
                "about your concern"
            )
        ).to_be_visible()
        contacts = page.locator("ul", has=page.get_by_text("We talked about her garden."))
        expect(contacts.get_by_text("Concern raised")).to_be_visible()
        expect(contacts.get_by_text(re.compile(r"Home visit · 50 min"))).to_be_visible()
        _assert_no_sideways_scroll(page, "the buddy page after a contact")
        check_accessibility(page, "the buddy page after a contact")

        page.get_by_role("link", name="My volunteering").first.click()
        expect(page.get_by_role("heading", name="Waiting for your answer")).to_have_count(0)
        expect(page.get_by_role("link", name="Dorothy", exact=True)).to_be_visible()
        _assert_no_sideways_scroll(page, "My volunteering, buddying")
    finally:
        context.close()

    # The navigator, in a fresh session, sees the alerts on the caseload and the case.
    page = axe_page
    _log_in(page, live_server, Role.NAVIGATOR)
    row = page.get_by_role("row").filter(has_text="Dorothy Fairweather")
    expect(row.get_by_text("2 unread")).to_be_visible()
    check_accessibility(page, "the caseload with buddy alerts")

    row.get_by_role("link", name="Dorothy Fairweather").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dorothy Fairweather")
    alerts = page.locator("#alerts")
    expect(alerts.get_by_text("2 unread alerts")).to_be_visible()
    concern_alert = alerts.get_by_role("listitem").filter(has_text="A buddy raised a concern")
    expect(concern_alert).to_contain_text(concern)
    expect(alerts.get_by_role("listitem").filter(has_text="agreed to buddy")).to_have_count(1)
    expect(page.locator("#buddies").get_by_text("Active")).to_be_visible()
    check_accessibility(page, "the case page with the buddy's concern")
