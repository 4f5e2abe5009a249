"""Information governance in a real browser: a navigator records that the person withdrew
consent; an administrator then finds who looked at the person and makes the subject
access export. Each page is checked with axe-core."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import ReferralStatus, Route
from tests import factories
from tests.browser.test_case_journey import _log_in

pytestmark = pytest.mark.browser


def _case_on_the_navigators_caseload(live_server) -> tuple[int, str]:
    with live_server.app.app_context():
        navigator = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.NAVIGATOR].email)
        )
        resident = factories.make_resident(given_name="Ottoline", family_name="Marchbank")
        referral = factories.make_referral(
            resident=resident,
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=1,
            navigator_id=navigator.id,
            received_at=utcnow() - timedelta(days=30),
            triaged_at=utcnow() - timedelta(days=29),
            assigned_at=utcnow() - timedelta(days=28),
        )
        result = referral.id, referral.reference
        db.session.remove()
    return result


def test_consent_withdrawn_then_the_admin_sees_who_looked_and_exports_the_record(
    axe_page, live_server, check_accessibility
):
    referral_id, reference = _case_on_the_navigators_caseload(live_server)

    # The navigator records it from the case.
    page = axe_page
    _log_in(page, live_server, Role.NAVIGATOR)
    page.goto(f"/cases/{referral_id}")
    page.get_by_role("link", name="The person withdraws consent to share").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Withdraw consent to share")
    check_accessibility(page, "the withdraw consent page")
    page.get_by_label("How and when did they tell you? (optional)").fill(
        "Rang the hub on Monday morning"
    )
    page.get_by_role("button", name="Withdraw consent to share").click()
    expect(page).to_have_url(live_server.url + f"/cases/{referral_id}")
    expect(page.get_by_text("Consent to share withdrawn", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="The person withdraws consent to share")).to_have_count(0)
    check_accessibility(page, "the case after consent was withdrawn")

    # The admin asks who has looked at the person, by the reference the hub quotes.
    page.locator("[data-logout] button").click()
    _log_in(page, live_server, Role.ADMIN)
    # In the admin's navigation (folded under "More" on a narrow screen).
    nav = page.locator("a.nhsuk-header__navigation-link")
    expect(nav.filter(has_text="Audit trail").first).to_have_attribute("href", "/admin/audit")
    expect(nav.filter(has_text="Subject access").first).to_have_attribute(
        "href", "/admin/subject-access"
    )
    page.goto("/admin/audit")
    check_accessibility(page, "the audit trail")
    page.get_by_label("Who the records are about").fill(reference.lower())
    page.get_by_role("button", name="Search the audit trail").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("onsent")
    expect(table).to_contain_text(live_server.accounts[Role.NAVIGATOR].email)
    # The reference was typed into a form, never carried in the address.
    assert reference.lower() not in page.url.lower()
    check_accessibility(page, "the audit trail about one person")

    # ...and makes the subject access export.
    page.goto("/admin/subject-access")
    check_accessibility(page, "the subject access page")
    page.get_by_label("Referral reference or NHS number").fill(reference)
    page.get_by_role("button", name="Find the resident").click()
    expect(page.get_by_text("Ottoline Marchbank").first).to_be_visible()
    check_accessibility(page, "the subject access person found")
    with page.expect_download() as pdf:
        page.get_by_role("link", name="Download everything we hold about them as a PDF").click()
    assert pdf.value.suggested_filename.endswith(".pdf")
    with page.expect_download() as json_file:
        page.get_by_role("link", name="Download the same as a JSON file").click()
    assert json_file.value.suggested_filename.endswith(".json")
