"""The activity directory in a real browser, from end to end: a group registers and lists an
activity, the hub verifies it, the public finds it, a navigator refers a person to it, and the
group accepts them and records that they came. And the directory search without JavaScript."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from contextlib import contextmanager
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import london_today, utcnow
from portal.directory.models import ActivityCategory, ActivityStatus
from portal.extensions import db
from portal.referrals.models import ReferralStatus, Route
from portal.templating import format_nhs_number
from tests import factories

pytestmark = pytest.mark.browser

ORGANISATION = "Wyken Craft Circle"
MEMBER_NAME = "Adaeze Okafor"
MEMBER_EMAIL = "adaeze.okafor@example.org"
MEMBER_PASSWORD = "plum kettle orbit lantern"
TITLE = "Tapestry and tea morning"
WORD = "tapestry"


# --- email: a real SMTP server on loopback for the live server -------------------------------


class _Mailbox:
    """What the live server sent, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"

    def to(self, address: str, subject_has: str) -> list[str]:
        return [
            m.get_content()
            for m in self.messages
            if m["To"] == address and subject_has in str(m["Subject"])
        ]


@pytest.fixture
def mailbox(live_server):
    """The browser conftest has no way to read the live server's email, so this test points
    the live server at its own SMTP server (aiosmtpd) for its duration, and follows the
    set-password link from the registration email as the organisation would."""
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    config = live_server.app.config
    old = {k: config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_BACKEND")}
    config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_BACKEND="smtp")
    try:
        yield box
    finally:
        config.update(old)
        controller.stop()


# --- people, each in their own browser ---------------------------------------------------------


@contextmanager
def _browser_for(browser, live_server, **options):
    """A fresh context (no cookies) for another person; axe-core can be injected (bypass_csp)."""
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, **options)
    context.set_default_timeout(10_000)
    context.route(
        lambda url: urlsplit(url).hostname != "127.0.0.1",
        lambda route: route.abort("blockedbyclient"),
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def _log_in(page, live_server, email_address: str, password: str, lands_on: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + lands_on)


def _open(page, summary: str) -> None:
    """Open a <details> section so what is inside it can be used."""
    details = page.locator("details", has=page.locator("summary", has_text=summary))
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(details).to_have_attribute("open", "")


def _banner(page, text: str):
    return page.locator(".nhsuk-notification-banner", has_text=text)


def _summary_row(page, key: str):
    """The row of a summary list whose key is exactly this."""
    return page.locator(".nhsuk-summary-list__row").filter(
        has=page.locator(".nhsuk-summary-list__key", has_text=re.compile(rf"^\s*{key}\s*$"))
    )


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _navigator_with_a_case() -> tuple[str, int, str, str]:
    """A new navigator and an active case on their caseload. Call inside the app context."""
    navigator = factories.make_user(Role.NAVIGATOR, full_name="Naomi Castellanos")
    resident = factories.make_resident(
        given_name="Florence",
        family_name="Pemberton",
        phone="07700 900 482",
        email="florence.pemberton@example.org",
        postcode="CV2 5DD",
    )
    referral = factories.make_referral(
        resident=resident,
        status=ReferralStatus.ACTIVE,
        route=Route.SOCIAL_NAVIGATION,
        support_level=1,
        navigator_id=navigator.id,
        received_at=utcnow() - timedelta(days=12),
        triaged_at=utcnow() - timedelta(days=10),
        assigned_at=utcnow() - timedelta(days=9),
        first_contact_at=utcnow() - timedelta(days=5),
    )
    factories.make_contact(referral, navigator, days_ago=5)
    return navigator.email, referral.id, resident.phone, resident.nhs_number


# --- the journey ---------------------------------------------------------------------------------


def test_an_organisation_lists_an_activity_and_a_navigator_refers_someone_to_it(
    browser, axe_page, live_server, check_accessibility, mailbox
):
    member = axe_page
    today = london_today()

    # 1. The group registers on the public form (the hidden honeypot stays empty).
    member.goto("/organisations/register")
    expect(member.get_by_role("heading", level=1)).to_have_text("Register your organisation")
    check_accessibility(member, "the organisation registration form")
    member.get_by_label("Organisation name").fill(ORGANISATION)
    member.get_by_label("What your organisation does").fill(
        "A friendly craft group for people of all ages in Wyken."
    )
    member.get_by_label("Registered charity number (if you have one)").fill("1123456")
    member.get_by_label("Organisation email address").fill("hello@wykencraft.example.org")
    member.get_by_label("Organisation phone number").fill("024 7661 0123")
    member.get_by_label("Website (optional)").fill("https://wykencraft.example.org")
    member.get_by_label("Address", exact=True).fill("Wyken Community Centre\nMolesworth Avenue")
    member.get_by_label("Postcode").fill("cv2 4ab")
    member.get_by_label("Your full name").fill(MEMBER_NAME)
    member.get_by_label("Your email address").fill(MEMBER_EMAIL)
    member.get_by_label(
        "I confirm the details are correct and I may list activities for this organisation"
    ).check()
    expect(member.locator("#website")).to_have_value("")
    member.get_by_role("button", name="Register").click()
    expect(member).to_have_url(live_server.url + "/organisations/register/thank-you")
    expect(member.get_by_role("heading", name="Registration received")).to_be_visible()
    check_accessibility(member, "the registration thank-you page")

    # The registration email carries a link to choose a password.
    welcome = mailbox.to(MEMBER_EMAIL, "is registered with")
    assert len(welcome) == 1, [m["Subject"] for m in mailbox.messages]
    link = re.search(r"https?://\S+/invite/\S+", welcome[0])
    assert link, welcome[0]
    member.goto(link[0])
    expect(member.get_by_role("heading", level=1)).to_have_text("Set your password")
    member.get_by_label("New password", exact=True).fill(MEMBER_PASSWORD)
    member.get_by_label("Confirm new password").fill(MEMBER_PASSWORD)
    member.get_by_role("button", name="Set password").click()
    expect(member).to_have_url(re.compile(r"/login"))
    expect(member.get_by_text("Your password is set. You can now log in.")).to_be_visible()
    _log_in(member, live_server, MEMBER_EMAIL, MEMBER_PASSWORD, "/organisation")
    expect(member.get_by_role("heading", level=1)).to_have_text(ORGANISATION)
    expect(member.get_by_text("The hub has not verified your organisation yet")).to_be_visible()
    check_accessibility(member, "the organisation's own page, unverified")

    # 2. The member adds an activity; it is saved as a draft.
    member.get_by_role("link", name="Add an activity").click()
    expect(member.get_by_role("heading", level=1)).to_have_text("Add an activity")
    check_accessibility(member, "the activity form")
    member.get_by_label("Name of the activity").fill(TITLE)
    member.get_by_label("Description", exact=True).fill(
        "Bring a project or start one with us: wool, frames and tea are provided."
    )
    helps = member.get_by_role("group", name="What needs it helps with")
    helps.get_by_label(ActivityCategory.ARTS.label).check()
    helps.get_by_label(ActivityCategory.SOCIAL_CONNECTION.label).check()
    member.get_by_role("group", name="How often it meets").get_by_label("Weekly").check()
    member.get_by_role("group", name="Which days").get_by_label("Tuesday").check()
    member.get_by_label("Start time").fill("10:00")
    member.get_by_label("End time").fill("11:30")
    member.get_by_role("group", name="Where it happens").get_by_label(
        "In person, at a venue"
    ).check()
    member.get_by_label("Venue name").fill("Wyken Community Centre")
    member.get_by_label("Venue address").fill("Molesworth Avenue, Coventry")
    member.get_by_label("Venue postcode").fill("CV2 4AB")
    expect(member.get_by_label("Cost per session, in pounds")).to_have_value("")  # free
    member.get_by_role("group", name="Accessibility").get_by_label("Step-free access").check()
    member.get_by_role("group", name="How people join").get_by_label(
        "Navigators can refer people to us, and we answer each referral"
    ).check()
    member.get_by_role("button", name="Save activity").click()
    expect(member).to_have_url(live_server.url + "/organisation")
    expect(_banner(member, f"{TITLE} is saved as a draft.")).to_be_visible()
    row = member.get_by_role("row").filter(has_text=TITLE)
    expect(row.get_by_role("cell").nth(1)).to_contain_text("Draft")

    # Publishing is refused while the hub has not verified the organisation.
    row.get_by_role("button", name=f"Publish {TITLE}").click()
    expect(
        _banner(
            member,
            "Your organisation has not been verified by the hub yet, so its activities "
            "cannot be published.",
        )
    ).to_be_visible()
    row = member.get_by_role("row").filter(has_text=TITLE)
    expect(row.get_by_role("cell").nth(1)).to_contain_text("Draft")
    expect(row.get_by_role("link", name="See it in the directory")).to_have_count(0)

    # 3. A coordinator verifies the organisation.
    with _browser_for(browser, live_server) as coordinator:
        account = live_server.accounts[Role.COORDINATOR]
        _log_in(coordinator, live_server, account.email, factories.PASSWORD, account.start_path)
        coordinator.get_by_role("link", name="Organisations", exact=True).click()
        expect(coordinator.get_by_role("heading", level=1)).to_have_text("Organisations")
        check_accessibility(coordinator, "the organisations list")
        org_row = coordinator.get_by_role("row").filter(has_text=ORGANISATION)
        expect(org_row.get_by_text("Waiting")).to_be_visible()
        org_row.get_by_role("link", name=ORGANISATION).click()
        expect(coordinator.get_by_role("heading", level=1)).to_have_text(ORGANISATION)
        expect(coordinator.get_by_text("Not verified yet.")).to_be_visible()
        check_accessibility(coordinator, "the organisation page (hub)")
        coordinator.get_by_role("button", name=f"Verify {ORGANISATION}").click()
        expect(
            _banner(coordinator, f"{ORGANISATION} is verified. Its published activities now show")
        ).to_be_visible()
        expect(coordinator.get_by_role("button", name=re.compile("^Verify"))).to_have_count(0)
    assert mailbox.to(MEMBER_EMAIL, f"{ORGANISATION} is verified")

    # 4. The member publishes the activity.
    member.reload()
    expect(member.get_by_text("The hub has not verified your organisation yet")).to_have_count(0)
    member.get_by_role("row").filter(has_text=TITLE).get_by_role(
        "button", name=f"Publish {TITLE}"
    ).click()
    expect(_banner(member, f"{TITLE} is now published.")).to_be_visible()
    row = member.get_by_role("row").filter(has_text=TITLE)
    expect(row.get_by_role("cell").nth(1)).to_contain_text("Published")
    expect(row.get_by_role("link", name="See it in the directory")).to_be_visible()
    check_accessibility(member, "the organisation's own page, with a published activity")

    # 5. The public finds it: active search (htmx) and filters, the page never reloading.
    next_tuesday = today + timedelta(days=(1 - today.weekday()) % 7)
    with _browser_for(browser, live_server) as public:
        public.goto("/directory")
        expect(public.get_by_role("heading", level=1)).to_have_text("Find an activity")
        check_accessibility(public, "the directory search")
        public.evaluate("window.__sameDocument = true")
        results = public.locator("#directory-results")
        result = results.get_by_role("link", name=TITLE)

        public.get_by_role("searchbox", name="Search").press_sequentially(WORD, delay=30)
        expect(result).to_be_visible()
        expect(results.get_by_role("heading", level=2)).to_have_text("1 activity found")
        expect(public).to_have_url(re.compile(rf"[?&]q={WORD}"))
        card = results.get_by_role("listitem").filter(has=public.get_by_role("link", name=TITLE))
        expect(card).to_contain_text(f"next on {_long_date(next_tuesday)}")
        expect(card).to_contain_text("Wyken Community Centre, CV2 4AB")
        expect(card).to_contain_text("Free")

        _open(public, "What it helps with")
        public.get_by_role("group", name="What it helps with").get_by_label(
            ActivityCategory.ARTS.label
        ).check()
        expect(public).to_have_url(re.compile(r"category=arts"))
        _open(public, "Day and time")
        public.get_by_role("group", name="Day", exact=True).get_by_label("Tuesday").check()
        expect(public).to_have_url(re.compile(r"day=1"))
        times = public.get_by_role("group", name="Time of day")
        times.get_by_label("Morning").check()
        expect(public).to_have_url(re.compile(r"time=morning"))
        _open(public, "Cost, access and place")
        public.get_by_label("Free only").check()
        expect(public).to_have_url(re.compile(r"cost=free"))
        public.get_by_role("group", name="Access").get_by_label("Step-free access").check()
        expect(public).to_have_url(re.compile(r"access=step_free"))
        district = public.get_by_label("Near postcode")
        district.fill("CV2")
        district.press("Enter")
        expect(public).to_have_url(re.compile(r"district=CV2"))
        expect(result).to_be_visible()
        expect(results.get_by_role("heading", level=2)).to_have_text("1 activity found")
        check_accessibility(public, "the directory search, filtered")

        # Times of day are either-or: adding the evening keeps the morning's activity...
        times.get_by_label("Evening").check()
        expect(public).to_have_url(re.compile(r"time=evening"))
        expect(result).to_be_visible()
        # ...but the evening alone does not match it.
        times.get_by_label("Morning").uncheck()
        expect(public).not_to_have_url(re.compile(r"time=morning"))
        expect(result).to_have_count(0)
        expect(results.get_by_text("No activities match.")).to_be_visible()
        expect(results.get_by_role("heading", level=2)).to_have_text("0 activities found")
        times.get_by_label("Morning").check()
        times.get_by_label("Evening").uncheck()
        expect(public).not_to_have_url(re.compile(r"time=evening"))
        expect(result).to_be_visible()
        assert public.evaluate("window.__sameDocument === true"), "the search reloaded the page"

        result.click()
        expect(public).to_have_url(re.compile(r"/directory/activities/[0-9a-f-]{36}$"))
        expect(public.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(public.get_by_text(ORGANISATION, exact=True)).to_be_visible()
        next_row = _summary_row(public, "Next session")
        expect(next_row).to_contain_text(_long_date(next_tuesday))
        expect(_summary_row(public, "When")).to_contain_text("Tuesday")
        expect(_summary_row(public, "Access")).to_contain_text("Step-free access")
        check_accessibility(public, "the activity page")

    # 6. A navigator refers a person on their caseload to the activity.
    with live_server.app.app_context():
        navigator_email, case_id, phone, nhs_number = _navigator_with_a_case()
        db.session.remove()
    with _browser_for(browser, live_server) as navigator:
        _log_in(navigator, live_server, navigator_email, factories.PASSWORD, "/caseload")
        navigator.get_by_role("row").filter(has_text="Florence Pemberton").get_by_role(
            "link", name="Florence Pemberton"
        ).click()
        expect(navigator).to_have_url(live_server.url + f"/cases/{case_id}")
        expect(navigator.get_by_role("heading", level=1)).to_have_text("Florence Pemberton")
        activities = navigator.locator("#activities")
        expect(activities.get_by_text("No activities yet.")).to_be_visible()

        activities.get_by_role("link", name="Find an activity for Florence").click()
        expect(navigator).to_have_url(re.compile(rf"/directory\?case={case_id}$"))
        expect(navigator.get_by_text("For Florence Pemberton")).to_be_visible()
        check_accessibility(navigator, "the directory search for a case")
        navigator.get_by_role("searchbox", name="Search").fill(WORD)
        # The search has answered (it pushes its address first) before a link is clicked.
        expect(navigator).to_have_url(re.compile(rf"[?&]q={WORD}(&|$)"))
        refer_link = navigator.get_by_role("link", name=f"Refer Florence to {TITLE}")
        expect(refer_link).to_be_visible()
        refer_link.click()

        expect(navigator.get_by_role("heading", level=1)).to_have_text(f"Refer to {TITLE}")
        check_accessibility(navigator, "the refer page")
        navigator.get_by_label("Their phone number").check()
        navigator.get_by_label(
            "The person has agreed that we share these details with this organisation"
        ).check()
        navigator.get_by_role("button", name="Send the referral").click()
        expect(navigator).to_have_url(live_server.url + f"/cases/{case_id}#activities")
        expect(
            _banner(navigator, f"Referred to {TITLE}. {ORGANISATION} will answer by")
        ).to_be_visible()
        link_item = navigator.locator("#activities").get_by_role("listitem").filter(has_text=TITLE)
        expect(link_item).to_contain_text(f"{TITLE} ({ORGANISATION}) · Sent to organisation")
        check_accessibility(navigator, "the case page with an activity referral")

        # The organisation is told by email, without the person's details.
        told = mailbox.to(MEMBER_EMAIL, f"New referral for {TITLE}")
        assert len(told) == 1
        assert "Florence" not in told[0] and "Pemberton" not in told[0]
        assert phone not in told[0]

        # 7. The member answers: only what was shared is shown; accept; then attendance.
        member.get_by_role("link", name="Referrals to us").click()
        expect(member.get_by_role("heading", level=1)).to_have_text("Referrals to us")
        check_accessibility(member, "the organisation's referrals list")
        incoming_row = member.get_by_role("row").filter(has_text="Florence Pemberton")
        expect(incoming_row).to_contain_text(TITLE)
        expect(incoming_row).to_contain_text("Sent to organisation")
        incoming_row.get_by_role("link", name="Florence Pemberton").click()
        expect(member.get_by_role("heading", level=1)).to_have_text("Florence Pemberton")
        expect(_summary_row(member, "Phone")).to_contain_text(phone)
        expect(_summary_row(member, "Email")).to_contain_text("Not shared")
        expect(_summary_row(member, "Age")).to_contain_text("Not shared")
        body = member.locator("body")
        expect(body).not_to_contain_text(nhs_number)
        expect(body).not_to_contain_text(format_nhs_number(nhs_number))
        expect(body).not_to_contain_text("florence.pemberton@example.org")
        expect(body).not_to_contain_text("CV2 5DD")
        check_accessibility(member, "the incoming referral page")

        member.get_by_role("button", name="Accept Florence Pemberton").click()
        expect(
            _banner(member, "You accepted Florence Pemberton. The navigator has been told.")
        ).to_be_visible()
        expect(member.get_by_text("Status: Accepted")).to_be_visible()
        session_date = member.get_by_role("group", name="Date of the session")
        session_date.get_by_label("Day").fill(str(today.day))
        session_date.get_by_label("Month").fill(str(today.month))
        session_date.get_by_label("Year").fill(str(today.year))
        member.get_by_role("group", name="Did they come?").get_by_label("Yes, they came").check()
        check_accessibility(member, "the incoming referral page, accepted")
        member.get_by_role("button", name="Save attendance").click()
        expect(_banner(member, "Attendance saved.")).to_be_visible()
        expect(member.get_by_text("Status: Attended")).to_be_visible()
        sessions = member.get_by_role("table", name="Sessions recorded")
        expect(sessions.get_by_role("row").nth(1)).to_have_text(
            re.compile(rf"{re.escape(_long_date(today))}\s*Yes")
        )

        # 8. The navigator sees the answer and the attendance on the case.
        navigator.reload()
        link_item = navigator.locator("#activities").get_by_role("listitem").filter(has_text=TITLE)
        expect(link_item).to_contain_text(f"{TITLE} ({ORGANISATION}) · Attended")
        expect(link_item).to_contain_text(f"came to 1 session, last on {_long_date(today)}")
        timeline = navigator.locator("#timeline")
        expect(
            timeline.get_by_text(f"{ORGANISATION} accepted the referral to {TITLE}")
        ).to_be_visible()
        expect(
            timeline.get_by_text(f"Florence Pemberton came to {TITLE} on {_long_date(today)}")
        ).to_be_visible()
        expect(timeline.get_by_text(f"Referred to {TITLE} ({ORGANISATION})")).to_be_visible()

    with live_server.app.app_context():
        member_user = db.session.scalar(sa.select(User).where(User.email == MEMBER_EMAIL))
        assert member_user.role == Role.ORGANISATION_MEMBER
        assert member_user.organisation.is_verified
        (activity,) = member_user.organisation.activities
        assert activity.status == ActivityStatus.PUBLISHED
        assert activity.days == [1] and activity.postcode == "CV2 4AB"
        assert activity.step_free and activity.accepts_referrals and activity.is_free
        db.session.remove()


# --- without JavaScript ------------------------------------------------------------------------


def test_directory_search_works_without_javascript(browser, live_server):
    with live_server.app.app_context():
        organisation = factories.make_organisation(name="Stoke Allotment Society")
        for title, cost in [("Allotment taster mornings", None), ("Allotment pruning course", 400)]:
            factories.make_activity(
                organisation,
                title=title,
                description="Growing vegetables together.",
                categories=["nature"],
                days=[5],
                venue_name="Stoke allotments",
                postcode="CV3 1AA",
                cost_pence=cost,
            )
        db.session.remove()

    with _browser_for(browser, live_server, java_script_enabled=False) as page:
        page.goto("/directory")
        expect(page.get_by_role("heading", level=1)).to_have_text("Find an activity")
        page.get_by_role("searchbox", name="Search").fill("allotment")
        _open(page, "Cost, access and place")
        page.get_by_label("Free only").check()
        page.get_by_role("button", name="Search", exact=True).click()

        expect(page).to_have_url(re.compile(r"/directory\?q=allotment&.*\bcost=free\b"))
        results = page.locator("#directory-results")
        expect(results.get_by_role("heading", level=2)).to_have_text("1 activity found")
        expect(results.get_by_role("link", name="Allotment taster mornings")).to_be_visible()
        expect(results.get_by_role("link", name="Allotment pruning course")).to_have_count(0)
        # The form keeps what was asked for, so the search can be changed and sent again.
        expect(page.get_by_role("searchbox", name="Search")).to_have_value("allotment")
        expect(page.get_by_label("Free only")).to_be_checked()
