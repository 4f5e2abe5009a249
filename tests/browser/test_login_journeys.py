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
