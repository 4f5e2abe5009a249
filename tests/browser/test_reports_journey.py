"""An outcome report from a closed case to the GP practice, in a real browser: a navigator
closes the case, an admin sends the practice's report by hand (it arrives by email with the
letter attached), and the practice reads it in its portal inbox and downloads the letter."""

from __future__ import annotations

import email
import email.policy
import io
import re
import socket
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import ReferralReason, ReferralStatus, Route
from portal.reports.models import DeliveryStatus, OutcomeReport, QueuedOutcome
from tests import factories

pytestmark = pytest.mark.browser

PRACTICE = "Brambleside Surgery"
MAILBOX = "brambleside.reports@example.com"
GIVEN, FAMILY = "Ottoline", "Pembridge"
PERSON = f"{GIVEN} {FAMILY}"
SUMMARY = "Goes to the Thursday lunch club and has joined the walking group."


@dataclass(frozen=True)
class Case:
    referral_id: int
    reference: str
    practice_id: int
    practice_user_email: str


class _Mailbox:
    """What the test SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


@pytest.fixture
def live_smtp(live_server):
    """A real SMTP server on loopback (aiosmtpd), with the live server's app pointed at it.

    tests/conftest.py's smtp_server is tied to the per-backend `app` fixture, not to the
    live server's app, so the journey has its own.
    """
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app = live_server.app
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_BACKEND")
    old = {k: app.config[k] for k in keys}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_BACKEND="smtp")
    try:
        yield mailbox
    finally:
        app.config.update(old)
        controller.stop()


def _log_in_as(page, live_server, email: str, lands_on: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + lands_on)


def _log_in(page, live_server, role: Role) -> None:
    account = live_server.accounts[role]
    _log_in_as(page, live_server, account.email, account.start_path)


def _log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have logged out.")).to_be_visible()


def _banner(page, text: str):
    return page.locator(".nhsuk-notification-banner", has_text=text)


def _header_link(page, name: str):
    """A link in the header's menu, opening the "More" list first if it has been moved there."""
    page.wait_for_load_state("load")
    menu = page.get_by_role("navigation", name="Menu")
    link = menu.get_by_role("link", name=name, exact=True)
    if not link.is_visible():
        menu.get_by_role("button", name=re.compile("More|Browse", re.I)).click()
    return link


def _measure(referral_id: int, author_id: int, scale: Scale, stage: Stage, answers, at) -> None:
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


def _case_ready_to_close(live_server) -> Case:
    """An active case on the navigator's caseload, referred by a practice of its own.

    The practice has a report mailbox and its own practice user: the shared practice
    account's practice also hears about the referral other journeys triage, which would
    change the counts here. Every wellbeing measure has been taken at the start and again
    at the end, so closing needs only the outcome and the summary.
    """
    with live_server.app.app_context():
        navigator = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.NAVIGATOR].email)
        )
        practice = factories.make_practice(name=PRACTICE, report_mailbox=MAILBOX)
        practice_user = factories.make_user(
            Role.PRACTICE_USER, practice_id=practice.id, full_name="Rhiannon Cadwallader"
        )
        resident = factories.make_resident(
            given_name=GIVEN, family_name=FAMILY, practice_id=practice.id
        )
        referral = factories.make_referral(
            resident=resident,
            practice=practice,
            reasons=(ReferralReason.LONELINESS, ReferralReason.BEREAVEMENT),
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            navigator_id=navigator.id,
            referrer_name="Dr Hollis",
            received_at=utcnow() - timedelta(days=90),
            triaged_at=utcnow() - timedelta(days=85),
            assigned_at=utcnow() - timedelta(days=84),
            first_contact_at=utcnow() - timedelta(days=80),
        )
        factories.make_contact(referral, navigator, days_ago=3)
        factories.make_goal(referral, navigator, description="Meet people in the afternoons")
        activity = factories.make_activity(title="Earlsdon lunch club")
        db.session.add(
            ActivityReferral(
                referral_id=referral.id,
                activity_id=activity.id,
                status=ActivityReferralStatus.ATTENDED,
                consent_confirmed=True,
                created_by_id=navigator.id,
                sent_at=utcnow() - timedelta(days=60),
            )
        )
        start, end = utcnow() - timedelta(days=80), utcnow() - timedelta(days=2)
        for stage, at, ons4, swemwbs, ucla3 in (
            (Stage.BASELINE, start, [4, 5, 3, 7], [2] * 7, [3, 3, 2]),
            (Stage.CLOSING, end, [7, 8, 7, 3], [4] * 7, [1, 1, 2]),
        ):
            _measure(referral.id, navigator.id, Scale.ONS4, stage, ons4, at)
            _measure(referral.id, navigator.id, Scale.SWEMWBS, stage, swemwbs, at)
            _measure(referral.id, navigator.id, Scale.UCLA3, stage, ucla3, at)
        db.session.commit()
        case = Case(referral.id, referral.reference, practice.id, practice_user.email)
        db.session.remove()
    return case


def _report_for(live_server, practice_id: int) -> OutcomeReport:
    with live_server.app.app_context():
        report = db.session.scalars(
            sa.select(OutcomeReport).where(OutcomeReport.practice_id == practice_id)
        ).one()
        db.session.expunge(report)
        db.session.remove()
    return report


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_closed_case_reaches_the_practice_as_an_outcome_report(
    axe_page, live_server, live_smtp, check_accessibility
):
    page = axe_page
    case = _case_ready_to_close(live_server)

    # 1. The navigator closes the case from the case page.
    _log_in(page, live_server, Role.NAVIGATOR)
    page.get_by_role("row").filter(has_text=PERSON).get_by_role("link", name=PERSON).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PERSON)
    page.get_by_role("link", name="Close the case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close the case")
    page.get_by_label("Goals met").check()
    page.get_by_label("Summary for the GP").fill(SUMMARY)
    page.get_by_role("button", name="Close the case").click()
    expect(page).to_have_url(re.compile(r"/caseload"))
    expect(
        _banner(page, f"The outcome will go to {PRACTICE} in their next report.")
    ).to_be_visible()
    with live_server.app.app_context():
        waiting = db.session.scalars(
            sa.select(QueuedOutcome.report_id).where(QueuedOutcome.referral_id == case.referral_id)
        ).all()
        db.session.remove()
    assert waiting == [None]

    # 2. An admin sends the practice's report by hand.
    _log_out(page)
    _log_in(page, live_server, Role.ADMIN)
    _header_link(page, "Outcome reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcome reports to GP practices")
    row = page.get_by_role("row").filter(has_text=PRACTICE)
    expect(row.get_by_role("cell").nth(2)).to_have_text(re.compile(r"(^|\s)1\s*$"))
    row.get_by_role("link", name=PRACTICE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Outcome reports: {PRACTICE}")
    expect(page.get_by_text("1 change is waiting for the next report")).to_be_visible()
    expect(page.get_by_label("Secure report mailbox")).to_have_value(MAILBOX)
    check_accessibility(page, "the admin's practice reports page")

    page.wait_for_load_state("load")
    page.wait_for_function("typeof htmx === 'object'")
    page.get_by_role("button", name="Send now").click()
    expect(_banner(page, f"The report about 1 person was sent to {MAILBOX}.")).to_be_visible()
    expect(page.get_by_text("0 changes are waiting for the next report")).to_be_visible()
    expect(page.locator(".nhsuk-card").filter(has_text="Sent by hand")).to_contain_text(
        "Sent · 1 person"
    )

    # The email arrived at the practice's mailbox with the letter attached.
    assert len(live_smtp.messages) == 1
    message = live_smtp.messages[0]
    assert message["To"] == MAILBOX
    assert message["Subject"].startswith(f"Social prescribing outcome report: {PRACTICE}")
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    pdfs = [p for p in attachments.values() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1, list(attachments)
    emailed_pdf = pdfs[0].get_content()
    assert emailed_pdf.startswith(b"%PDF")
    assert PERSON in _pdf_text(emailed_pdf)
    assert {p.get_content_type() for p in attachments.values()} == {
        "application/pdf",
        "text/csv",
        "application/json",
    }
    report = _report_for(live_server, case.practice_id)
    assert report.status == DeliveryStatus.SENT
    assert report.sent_to == MAILBOX
    assert report.referral_ids == [case.referral_id]

    # 3. The practice sees the new report in its header, reads it and downloads the letter.
    _log_out(page)
    _log_in_as(
        page,
        live_server,
        case.practice_user_email,
        live_server.accounts[Role.PRACTICE_USER].start_path,
    )
    _header_link(page, "Outcome reports (1 new)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcome reports")
    expect(page.get_by_text("1 new.")).to_be_visible()
    check_accessibility(page, "the practice's outcome report inbox")
    new = page.get_by_role("row").filter(has=page.get_by_text("New", exact=True))
    expect(new).to_have_count(1)
    expect(new.get_by_role("cell").nth(1)).to_have_text(re.compile(r"(^|\s)1\s*$"))
    new.get_by_role("link").click()
    expect(page).to_have_url(live_server.url + f"/reports/{report.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Social prescribing outcome report")

    person = page.get_by_role("region", name=PERSON)
    expect(person.get_by_role("heading", level=2)).to_have_text(PERSON)
    expect(person).to_contain_text(case.reference)
    expect(person).to_contain_text("Support ended")
    expect(person).to_contain_text("Goals met")
    expect(person.get_by_text(SUMMARY)).to_be_visible()
    expect(person.get_by_text("Meet people in the afternoons (open)")).to_be_visible()
    expect(person).to_contain_text("Earlsdon lunch club")
    expect(person.get_by_role("table", name="UCLA 3-item loneliness scale")).to_be_visible()
    check_accessibility(page, "the outcome report page")

    page.wait_for_load_state("load")
    page.wait_for_function("typeof htmx === 'object'")
    page.evaluate("window.__sameDocument = true")
    read_state = page.locator("#read-state")
    read_state.get_by_role("button", name="Mark as read").click()
    expect(read_state.get_by_text(re.compile(r"^Read on .+"))).to_be_visible()
    expect(read_state.get_by_role("button", name="Mark as not read")).to_be_visible()
    assert page.evaluate("window.__sameDocument === true")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the letter (PDF)").click()
    download = info.value
    assert download.suggested_filename.endswith(f"-{report.id}.pdf")
    with open(download.path(), "rb") as f:
        letter = f.read()
    assert letter.startswith(b"%PDF")
    text = _pdf_text(letter)
    assert PERSON in text
    assert PRACTICE in text

    # Read: the header no longer counts it as new.
    page.reload()
    expect(_header_link(page, "Outcome reports")).to_be_attached()
    expect(page.get_by_role("link", name=re.compile(r"Outcome reports \(\d+ new\)"))).to_have_count(
        0
    )
    read = _report_for(live_server, case.practice_id)
    assert read.read_at is not None
