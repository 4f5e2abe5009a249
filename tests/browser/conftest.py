"""Fixtures for browser journeys: a live server on loopback, Chromium, and an axe-core check.

Everything here is session-scoped and independent of the `app` fixture in tests/conftest.py,
so browser tests run once, on SQLite only, not once per database backend.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from portal import create_app
from portal.auth.models import Role
from portal.auth.permissions import START_PAGES
from portal.extensions import db
from tests import factories

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The h1 each role's start page shows (from the templates). The organisation member's page
# is headed with the organisation's own name, filled in when the user is made.
EXPECTED_H1: dict[Role, str] = {
    Role.ADMIN: "Users",
    Role.COORDINATOR: "Triage queue",
    Role.NAVIGATOR: "My caseload",
    Role.VOLUNTEER: "My volunteering",
    Role.PRACTICE_USER: "Our referrals",
    Role.COMMISSIONER: "Dashboard",
}


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


@dataclass(frozen=True)
class Account:
    role: Role
    email: str
    start_path: str
    h1: str


@dataclass(frozen=True)
class LiveServer:
    url: str
    accounts: dict[Role, Account]
    # For journeys that need records in place first (an overdue case on a caseload).
    app: object = None


class _QuietHandler(WSGIRequestHandler):
    """No access log lines on stderr for every request the browser makes."""

    def log_request(self, *args, **kwargs) -> None:
        pass


def _closes_when_dropped(app):
    """Close each response even when the browser drops the connection mid-way.

    Werkzeug's development server skips `close()` on the response when the client goes
    away during the write (Chromium abandons a favicon fetch when the page moves on), so
    a static file stayed open until garbage collection, and its ResourceWarning failed
    whichever test happened to be running. A generator's `finally` runs when it is
    collected, which closes the file properly.
    """

    def wsgi(environ, start_response):
        response = app(environ, start_response)

        def stream():
            try:
                yield from response
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

        return stream()

    return wsgi


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = (
            "Debian's Chromium is not installed (no `chromium` on PATH); "
            "install it with `apt-get install chromium` or run `make system-deps`."
        )
        if _in_ci():
            pytest.fail(f"Browser tests are required in CI: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The portal on 127.0.0.1 on a free port, with one user per role, on its own SQLite file."""
    from flask import url_for
    from flask_migrate import upgrade

    tmp_path = tmp_path_factory.mktemp("browser")
    app = create_app(
        "test",
        overrides={
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/browser.db",
            "SERVER_NAME": None,
            # A real browser posts the CSRF token the forms carry, as in production.
            "WTF_CSRF_ENABLED": True,
        },
    )
    accounts: dict[Role, Account] = {}
    with app.app_context():
        upgrade()
        for role in Role:
            user = factories.make_user(role)
            h1 = user.organisation.name if role == Role.ORGANISATION_MEMBER else EXPECTED_H1[role]
            with app.test_request_context():
                start_path = url_for(START_PAGES[role])
            accounts[role] = Account(role=role, email=user.email, start_path=start_path, h1=h1)
        db.session.remove()

    server = make_server(
        "127.0.0.1", 0, _closes_when_dropped(app), threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", accounts=accounts, app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        # Debian's Chromium, never a downloaded browser.
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


def _new_context(browser, live_server: LiveServer, *, bypass_csp: bool):
    context = browser.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
    context.set_default_timeout(10_000)
    # Hermetic: the browser never reaches the internet, so nothing waits on DNS for
    # off-site assets (see test_csp_enforced_pages_load_their_scripts for what is asked for).
    context.route(_off_site, lambda route: route.abort("blockedbyclient"))
    return context


def _off_site(url: str) -> bool:
    return urlsplit(url).hostname != "127.0.0.1"


@pytest.fixture
def axe_page(browser, live_server):
    """A page in a fresh context (no cookies) that can run axe-core.

    bypass_csp=True is only so the test can inject its own axe-core script: the app's
    nonce-based Content-Security-Policy rightly blocks any inline script without the nonce.
    test_csp_enforced_pages_load_their_scripts checks the app with the policy enforced.
    """
    context = _new_context(browser, live_server, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def csp_page(browser, live_server):
    """A page in a fresh context with the Content-Security-Policy enforced as in production."""
    context = _new_context(browser, live_server, bypass_csp=False)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_PATH.exists():
        pytest.fail(f"axe-core is missing at {AXE_PATH}: run `npm ci` (or `make vendor`).")
    return AXE_PATH.read_text(encoding="utf-8")


@pytest.fixture
def check_accessibility(axe_source):
    """Run axe-core on the page and fail on any serious or critical WCAG 2.2 AA violation."""

    def check(page, where: str) -> list[dict]:
        if not page.evaluate("typeof window.axe === 'object'"):
            page.add_script_tag(content=axe_source)
        results = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        violations = results["violations"]
        for v in violations:
            if v["impact"] not in BLOCKING_IMPACTS:
                targets = [n["target"] for n in v["nodes"]]
                print(f"axe ({v['impact']}) on {where}: {v['id']}: {v['help']} {targets}")
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            lines = [f"axe found serious or critical violations on {where} ({page.url}):"]
            for v in blocking:
                lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
                for node in v["nodes"]:
                    lines.append(f"    target {node['target']}: {node['html'][:200]}")
                    if node.get("failureSummary"):
                        summary = " ".join(node["failureSummary"].split())
                        lines.append(f"      {summary[:300]}")
            pytest.fail("\n".join(lines), pytrace=False)
        return violations

    return check
