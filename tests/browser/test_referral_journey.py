"""A referral from end to end in a real browser: the GP refers, the hub reaches the person and
triages them to a navigator and the INT; and a resident refers themself on the public form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.auth.models import Role
from tests import factories

pytestmark = pytest.mark.browser


def _log_in(page, live_server, role: Role) -> None:
    account = live_server.accounts[role]
    page.goto("/login")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + account.start_path)


def _log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have logged out.")).to_be_visible()


def _fill_date_of_birth(page, day: str, month: str, year: str) -> None:
    group = page.get_by_role("group", name="Date of birth")
    group.get_by_label("Day").fill(day)
    group.get_by_label("Month").fill(month)
    group.get_by_label("Year").fill(year)


def _record_attempt(page, result: str) -> None:
    summary = page.locator("summary", has_text="Record a contact attempt")
    if (
        page.locator("details:has(summary:has-text('Record a contact attempt'))").get_attribute(
            "open"
        )
        is None
    ):
        summary.click()
    attempt_form = page.locator("form[action$='/attempts']")
    attempt_form.get_by_label(result).check()
    attempt_form.get_by_role("button", name="Save attempt").click()
    expect(page.get_by_text(f"Contact attempt recorded: {result}")).to_be_visible()


def test_gp_referral_is_triaged_to_a_navigator_and_the_int(
    axe_page, live_server, check_accessibility
):
    page = axe_page

    # The GP practice refers, and a missing consent is explained first.
    _log_in(page, live_server, Role.PRACTICE_USER)
    page.get_by_role("link", name="Refer someone").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Refer someone for social prescribing"
    )
    check_accessibility(page, "the GP referral form")
    page.get_by_label("NHS number").fill("401 023 2137")
    page.get_by_label("First name").fill("Edith")
    page.get_by_label("Last name").fill("Marsh")
    _fill_date_of_birth(page, "14", "2", "1941")
    page.get_by_label("Postcode").fill("cv2 4gq")
    page.get_by_label("Phone number").fill("07700 900 461")
    page.get_by_label("Loneliness or social isolation").check()
    page.get_by_label("What would help, in more detail").fill(
        "Lives alone since her husband died; would like company."
    )
    page.get_by_label("Referrer's name").fill("Dr Amir Shah")
    page.get_by_label("Referrer's role").fill("GP")
    page.get_by_role("button", name="Send referral").click()
    expect(
        page.get_by_role("alert").get_by_role("link", name=re.compile("agreement"))
    ).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Edith")
    check_accessibility(page, "the GP referral form with an error")

    page.get_by_label("The person agrees to this referral").check()
    page.get_by_role("button", name="Send referral").click()
    banner = page.get_by_text(re.compile(r"Referral SP-[0-9A-Z]{6} sent to the hub"))
    expect(banner).to_be_visible()
    reference = re.search(r"SP-[0-9A-Z]{6}", banner.inner_text()).group(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("Edith Marsh")
    _log_out(page)

    # The hub finds it at the top of the queue and tries to reach Edith.
    _log_in(page, live_server, Role.COORDINATOR)
    page.get_by_label("Search by name or reference").fill(reference)
    page.get_by_role("button", name="Apply filters").click()
    # The filtered list has answered (it pushes its address first) before a link is clicked;
    # the address carries the search's key, never what was typed.
    expect(page).to_have_url(re.compile(r"/hub\?search=[\w-]+$"))
    assert reference not in page.url
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edith Marsh")
    expect(page.get_by_text("401 023 2137")).to_be_visible()
    check_accessibility(page, "the hub's referral page")

    _record_attempt(page, "No answer")
    expect(page.get_by_text("Contacting", exact=True).first).to_be_visible()
    _record_attempt(page, "Spoke to the person")

    # Triage: social navigation and the INT, level 2, to a named navigator.
    triage = page.locator("form[action$='/triage']")
    triage.get_by_label("Social navigation and INT").check()
    triage.get_by_label("Level 2:").check()
    option = triage.get_by_label("Navigator").locator("option", has_text="Navigator")
    triage.get_by_label("Navigator").select_option(option.first.get_attribute("value"))
    navigator_name = option.first.inner_text().split(":")[0]
    triage.get_by_role("button", name="Save triage decision").click()
    expect(page.get_by_text("Triage decision recorded: Social navigation and INT")).to_be_visible()
    expect(page.get_by_text("Assigned", exact=True).first).to_be_visible()
    team_row = page.locator(".nhsuk-summary-list__row", has_text="Neighbourhood team")
    team_name = team_row.locator(".nhsuk-summary-list__value").inner_text().split(", sent")[0]
    check_accessibility(page, "the referral page after triage")

    # It is on the INT's list.
    page.get_by_role("link", name="INT referrals").first.click()
    page.get_by_label("Team").select_option(label=team_name)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    check_accessibility(page, "the INT list")
    _log_out(page)

    # And on the navigator's caseload.
    _log_in(page, live_server, Role.NAVIGATOR)
    expect(page.get_by_text("Edith Marsh")).to_be_visible()
    assert navigator_name.strip() in page.locator("header").inner_text()
    _log_out(page)

    # The practice sees where it has got to.
    _log_in(page, live_server, Role.PRACTICE_USER)
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_text("Navigator assigned")).to_be_visible()


def test_resident_refers_themself_on_a_phone(browser, live_server, check_accessibility):
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        viewport={"width": 375, "height": 740},
        is_mobile=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_role("link", name="Ask for support for yourself").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ask for support")
        check_accessibility(page, "the self-referral form")

        page.get_by_label("Feeling lonely or cut off from people").check()
        page.get_by_label("First name").fill("Stanley")
        page.get_by_label("Last name").fill("Okafor")
        _fill_date_of_birth(page, "3", "9", "1946")
        page.get_by_label("Postcode").fill("CV6 1AB")
        page.get_by_label("Phone number").fill("024 7600 1234")
        page.get_by_role("button", name="Send").click()
        expect(
            page.get_by_role("alert").get_by_role("link", name=re.compile("agree"))
        ).to_be_visible()
        check_accessibility(page, "the self-referral form with an error")

        page.get_by_label("I agree to the hub using these details").check()
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("heading", name="We have your request")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^SP-[0-9A-Z]{6}$"))).to_be_visible()
        check_accessibility(page, "the self-referral confirmation")
    finally:
        context.close()
