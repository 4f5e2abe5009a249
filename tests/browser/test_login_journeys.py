"""Logging in and out as each role, as a person would, in a real browser, with axe-core checks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.auth.models import Role
from tests import factories

pytestmark = pytest.mark.browser


def _login_url(live_server) -> re.Pattern[str]:
    """The login page, with or without a ?next= back to where the person was going."""
    return re.compile(rf"^{re.escape(live_server.url)}/login(\?.*)?$")


def _log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_page_is_accessible(axe_page, live_server, check_accessibility):
    page = axe_page
    page.goto("/login")
    expect(page).to_have_url(_login_url(live_server))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    check_accessibility(page, "the login page")


def test_wrong_password_shows_the_error_summary(axe_page, live_server, check_accessibility):
    page = axe_page
    account = live_server.accounts[Role.COORDINATOR]
    _log_in(page, account.email, "not " + factories.PASSWORD)

    expect(page).to_have_url(_login_url(live_server))
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(
        summary.get_by_role("link", name="The email address or password is not right")
    ).to_be_visible()
    check_accessibility(page, "the login page after a wrong password")


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_logs_in_to_its_start_page_and_out(
    axe_page, live_server, check_accessibility, role
):
    page = axe_page
    account = live_server.accounts[role]

    _log_in(page, account.email, factories.PASSWORD)
    expect(page).to_have_url(live_server.url + account.start_path)
    expect(page.get_by_role("heading", level=1)).to_have_text(account.h1)
    check_accessibility(page, f"the {role.value} start page")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(_login_url(live_server))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_text("You have logged out.")).to_be_visible()

    # The start page is no longer open to this browser: it is sent to log in.
    page.goto(account.start_path)
    expect(page).to_have_url(_login_url(live_server))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")


_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def test_csp_enforced_pages_load_their_scripts(csp_page, live_server):
    """With the real Content-Security-Policy: no violations, and htmx is loaded."""
    page = csp_page
    console_errors: list[str] = []
    page_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.add_init_script(_RECORD_CSP_VIOLATIONS)
    account = live_server.accounts[Role.COORDINATOR]

    def assert_clean(where: str) -> None:
        # Deferred scripts (htmx) run before "load"; the heading can show earlier.
        page.wait_for_load_state("load")
        csp_errors = [m for m in console_errors if "Content Security Policy" in m]
        assert not csp_errors, f"CSP violations on {where}: {csp_errors}"
        violations = page.evaluate("window.__cspViolations")
        assert not violations, f"CSP violations on {where}: {violations}"
        assert not page_errors, f"JavaScript errors on {where}: {page_errors}"
        assert page.evaluate("typeof htmx") == "object", f"htmx did not load on {where}"

    page.goto("/login")
    assert_clean("the login page")

    _log_in(page, account.email, factories.PASSWORD)
    expect(page).to_have_url(live_server.url + account.start_path)
    expect(page.get_by_role("heading", level=1)).to_have_text(account.h1)
    assert_clean("the coordinator start page")


def test_a_coordinator_sets_up_two_step_login_then_logs_in_with_a_code(
    axe_page, live_server, check_accessibility
):
    """The production rule, in a real browser: set up from the QR page's key, then log in."""
    from datetime import timedelta

    import pyotp

    from portal.db_types import utcnow
    from portal.extensions import db

    app = live_server.app
    with app.app_context():
        email = factories.make_user(Role.COORDINATOR).email
        db.session.remove()
    before = app.config["MFA_REQUIRED_ROLES"]
    app.config["MFA_REQUIRED_ROLES"] = ("admin", "coordinator")
    try:
        page = axe_page
        _log_in(page, email, factories.PASSWORD)
        expect(page).to_have_url(live_server.url + "/account/two-step-login")
        expect(page.get_by_text("Your role needs two-step login")).to_be_visible()
        check_accessibility(page, "the two-step login introduction")

        page.get_by_role("button", name="Set up two-step login").click()
        expect(page.locator("figure svg")).to_be_visible()
        check_accessibility(page, "the two-step login QR code page")
        key = page.locator("#setup-key").inner_text().replace(" ", "")
        totp = pyotp.TOTP(key)
        page.get_by_label("Code shown in your app").fill("000000")
        page.get_by_role("button", name="Turn on two-step login").click()
        expect(page.get_by_role("alert")).to_contain_text("The code is not right")
        check_accessibility(page, "the two-step login setup with a wrong code")
        page.get_by_label("Code shown in your app").fill(totp.now())
        page.get_by_role("button", name="Turn on two-step login").click()
        expect(page.get_by_role("heading", name="Two-step login is on")).to_be_visible()
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        check_accessibility(page, "the recovery codes page")
        page.get_by_role("link", name="I have kept my codes safe, continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            live_server.accounts[Role.COORDINATOR].h1
        )

        page.locator("[data-logout] button").click()
        _log_in(page, email, factories.PASSWORD)
        expect(page).to_have_url(live_server.url + "/login/code")
        check_accessibility(page, "the login code page")
        # The code just used cannot be used again; the next one (allowed for clock drift) can.
        page.get_by_label("Code from your authenticator app").fill(
            totp.at(utcnow() + timedelta(seconds=30))
        )
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(live_server.url + "/hub")
    finally:
        app.config["MFA_REQUIRED_ROLES"] = before
