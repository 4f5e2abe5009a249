"""Sessions that really end, cookie flags, caching, open redirects, GETs that change nothing.

QUALITY.md Security items 3, 4, 7, 9, 10 and 12; issue 10, "Sessions and accounts".
This file adds what tests/auth/test_login.py and tests/test_web_shell.py leave out:

- a session cookie captured from one browser and replayed in another is refused after
  logout, a password change, a password reset by link, an account being disabled (and
  enabled again) and an idle timeout, for full pages and for htmx partials alike;
- every Set-Cookie the app sends (login page, login success and failure, logout, 404,
  403, 429, CSRF failure) is HttpOnly and SameSite=Lax, and Secure in production; no
  remember-me cookie is ever set, and the remember-me settings would be safe if it were;
- HSTS on every response in production; `Cache-Control: no-store` on personal pages and
  their htmx partials;
- `next=` accepts only local paths (a hypothesis property), and a login with a hostile
  `next=` lands on a local page;
- no GET, by any role, with or without htmx, changes the database, and no URL the app
  writes into a page carries a resident's NHS number;
- an exception in a view gives the generic 500 page, with no traceback, exception text
  or SQL, with debug off as in production.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.auth import service
from portal.auth.models import Role, User
from portal.db_types import london_today, utcnow
from portal.directory import activity_referrals
from portal.directory.models import Activity, ActivityReferral
from portal.extensions import db as _db
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Practice,
    ReferralStatus,
    Resident,
)
from portal.reports import delivery
from portal.reports.models import OutcomeReport
from portal.reports.periods import Period, london_date
from portal.volunteers.models import Volunteer
from portal.web import is_safe_next
from tests.factories import (
    PASSWORD,
    make_buddy_match,
    make_contact,
    make_goal,
    make_training_module,
    make_user,
    valid_nhs_number,
)

# The objects the object-level access tests use: a case about a resident with a findable
# name, and a listed activity.
from tests.test_object_access import SECRET_GIVEN, a_case, a_listed_activity

HTMX = {"HX-Request": "true"}
NEW_PASSWORD = "a brand new long passphrase"


# --- objects ------------------------------------------------------------------------------------


def an_accepted_referral(activity: Activity, member: User) -> ActivityReferral:
    """A resident referred to `activity` by a navigator, and accepted by its organisation."""
    navigator = make_user(Role.NAVIGATOR)
    link = activity_referrals.refer(
        a_case(navigator),
        activity,
        navigator,
        activity_referrals.SharedDetails(phone=True, email=False, age=True, note="Likes tea"),
        london_today(),
    )
    _db.session.commit()
    activity_referrals.accept(link, member)
    _db.session.commit()
    return link


def a_report(practice_user: User) -> OutcomeReport:
    """An outcome report for the user's practice, made the way the scheduler makes one."""
    practice = _db.session.get(Practice, practice_user.practice_id)
    referral = a_case(make_user(Role.NAVIGATOR), practice=practice)
    coordinator = make_user(Role.COORDINATOR)
    workflow.close(referral, workflow.Actor.of(coordinator), ClosureReason.MOVED_AWAY, None)
    _db.session.commit()
    today = london_date(utcnow())
    report = delivery.claim(
        practice, Period(today - timedelta(days=7), today), now=utcnow() + timedelta(seconds=1)
    )
    assert report is not None and report.people == 1
    return report


def volunteer_of(user: User) -> Volunteer:
    return _db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == user.id))


# --- helpers ----------------------------------------------------------------------------------


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def logged_in(app: Flask, user: User, password: str = PASSWORD):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, "test login failed"
    return client


def session_cookie(app: Flask, client) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def replayed(app: Flask, cookie: str):
    """A second browser holding nothing but a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return thief


def assert_cookie_works(app: Flask, cookie: str, page: str, partial: str, secret: str) -> None:
    """The copy of the cookie opens the page and its partial: the capture itself is real."""
    response = replayed(app, cookie).get(page)
    assert response.status_code == 200 and secret in response.text
    response = replayed(app, cookie).get(partial, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert secret in response.text


def assert_cookie_refused(app: Flask, cookie: str, page: str, partial: str, secret: str) -> None:
    """A page is redirected to login; an htmx partial gets 401 and HX-Redirect to login.

    Each request uses a fresh browser: after one refusal the jar holds a new, anonymous
    session, so a second request from it would prove nothing about the captured cookie.
    """
    response = replayed(app, cookie).get(page)
    assert response.status_code == 302, (page, response.status_code)
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert secret not in response.text
    response = replayed(app, cookie).get(partial, headers=HTMX)
    assert response.status_code == 401, (partial, response.status_code)
    assert urlsplit(response.headers["HX-Redirect"]).path == "/login"
    assert secret not in response.text


def navigator_with_case(app: Flask):
    """A navigator and the address of their case, which names the resident."""
    navigator = make_user(Role.NAVIGATOR)
    referral = a_case(navigator)
    return navigator, f"/cases/{referral.id}"


# --- 1. a captured cookie is refused once the session has ended --------------------------------

# The caseload's htmx partial lists the resident's name, as the case page does.
PARTIAL = "/caseload"


def test_cookie_replayed_after_logout_is_refused_for_pages_and_partials(app):
    navigator, page = navigator_with_case(app)
    client = logged_in(app, navigator)
    captured = session_cookie(app, client)
    assert_cookie_works(app, captured, page, PARTIAL, SECRET_GIVEN)

    assert client.post("/logout").status_code == 302
    assert_cookie_refused(app, captured, page, PARTIAL, SECRET_GIVEN)


def test_password_change_ends_other_sessions_and_this_one_carries_on(app):
    navigator, page = navigator_with_case(app)
    changer = logged_in(app, navigator)
    other = logged_in(app, navigator)
    other_cookie = session_cookie(app, other)
    changer_cookie_before = session_cookie(app, changer)
    assert_cookie_works(app, other_cookie, page, PARTIAL, SECRET_GIVEN)

    response = changer.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302

    # The other browser's session has ended, page and partial alike...
    assert_cookie_refused(app, other_cookie, page, PARTIAL, SECRET_GIVEN)
    assert other.get(page).status_code == 302
    # ...and so has a copy of the changing browser's own cookie taken before the change.
    assert_cookie_refused(app, changer_cookie_before, page, PARTIAL, SECRET_GIVEN)
    # The browser that changed the password carries on with its new cookie.
    assert changer.get(page).status_code == 200
    partial = changer.get(PARTIAL, headers=HTMX)
    assert partial.status_code == 200 and SECRET_GIVEN in partial.text
    assert_cookie_works(app, session_cookie(app, changer), page, PARTIAL, SECRET_GIVEN)


def test_password_reset_by_link_ends_every_session(app):
    navigator, page = navigator_with_case(app)
    client = logged_in(app, navigator)
    captured = session_cookie(app, client)
    assert_cookie_works(app, captured, page, PARTIAL, SECRET_GIVEN)

    token = service.make_token(navigator, service.RESET)
    response = app.test_client().post(
        f"/password-reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert_cookie_refused(app, captured, page, PARTIAL, SECRET_GIVEN)
    assert client.get(page).status_code == 302


def test_disabled_account_cookie_is_refused_and_stays_refused_when_enabled_again(app):
    navigator, page = navigator_with_case(app)
    admin = logged_in(app, make_user(Role.ADMIN))
    victim = logged_in(app, navigator)
    captured = session_cookie(app, victim)
    assert_cookie_works(app, captured, page, PARTIAL, SECRET_GIVEN)

    assert (
        admin.post(f"/admin/users/{navigator.id}/active", data={"active": "0"}).status_code == 302
    )
    assert_cookie_refused(app, captured, page, PARTIAL, SECRET_GIVEN)
    assert victim.get(PARTIAL, headers=HTMX).status_code == 401

    # Enabling the account again lets the person log in afresh, never revives old cookies.
    assert (
        admin.post(f"/admin/users/{navigator.id}/active", data={"active": "1"}).status_code == 302
    )
    assert_cookie_refused(app, captured, page, PARTIAL, SECRET_GIVEN)
    assert logged_in(app, navigator).get(page).status_code == 200


def test_idle_timeout_ends_the_session_for_every_copy_of_the_cookie(app):
    """The timeout ends the session on the server, not only in the browser that idled.

    A copy taken while the session was still fresh (its own idle clock not run out) is
    refused once the timeout has been noticed.
    """
    navigator, page = navigator_with_case(app)
    client = logged_in(app, navigator)
    assert client.get(page).status_code == 200
    fresh_copy = session_cookie(app, client)
    with client.session_transaction() as s:
        s["seen_at"] -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1).total_seconds()
    assert client.get(page).status_code == 302
    assert_cookie_refused(app, fresh_copy, page, PARTIAL, SECRET_GIVEN)


# --- 2. cookie flags on every Set-Cookie --------------------------------------------------------


@pytest.fixture
def production_app(app, monkeypatch):
    """The app as deployed (PORTAL_ENV=production), on this test's database.

    Production has CSRF on, debug and testing off, and Secure cookies by default.
    """
    from portal import create_app

    monkeypatch.setenv("SECRET_KEY", "p" * 64)
    prod = create_app(
        "production",
        overrides={"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]},
    )
    prod.test_client_class = app.test_client_class
    assert prod.config["ENV_NAME"] == "production"
    assert not prod.debug and not prod.testing
    yield prod
    with prod.app_context():
        _db.engine.dispose()


def _set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def _cookie_journey(app: Flask, base_url: str) -> dict[str, list[str]]:
    """Each kind of response that may set a cookie, with CSRF on; the Set-Cookie headers of each.

    POSTs carry a same-site Referer as a browser does: on HTTPS, Flask-WTF refuses a form
    without one.
    """
    navigator = make_user(Role.NAVIGATOR)
    limited = make_user(Role.NAVIGATOR)
    client = app.test_client()
    seen: dict[str, list[str]] = {}

    def get(path: str, **kw):
        return client.get(path, base_url=base_url, **kw)

    def post(path: str, data: dict):
        return client.post(
            path, data=data, base_url=base_url, headers={"Referer": f"{base_url}/login"}
        )

    def keep(label: str, response, status: int):
        assert response.status_code == status, (label, response.status_code)
        seen[label] = _set_cookies(response)
        return response

    page = keep("GET /login", get("/login"), 200)
    assert 'name="remember' not in page.text, "remember-me is offered on the login form"
    token = _csrf_token(page.text)
    keep(
        "POST /login without CSRF token",
        post("/login", {"email": navigator.email, "password": PASSWORD}),
        400,
    )
    keep(
        "POST /login wrong password",
        post("/login", {"email": navigator.email, "password": "not it", "csrf_token": token}),
        200,
    )
    for i in range(int(app.config["LOGIN_RATE_LIMIT"].split()[0])):
        post("/login", {"email": limited.email, "password": f"guess {i}", "csrf_token": token})
    keep(
        "POST /login rate limited",
        post("/login", {"email": limited.email, "password": "guess", "csrf_token": token}),
        429,
    )
    keep(
        "POST /login success (remember=y posted)",
        post(
            "/login",
            {
                "email": navigator.email,
                "password": PASSWORD,
                "csrf_token": token,
                "remember": "y",
                "remember_me": "y",
            },
        ),
        302,
    )
    token = _csrf_token(get("/account/password").text)
    keep("GET 404", get("/no-such-page"), 404)
    keep("GET 403", get("/hub"), 403)
    keep("GET htmx partial", get("/caseload", headers=HTMX), 200)
    keep("POST /logout", post("/logout", {"csrf_token": token}), 302)
    return seen


def _assert_cookie_flags(seen: dict[str, list[str]], app: Flask, secure: bool) -> None:
    session_name = app.config["SESSION_COOKIE_NAME"]
    remember_name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    for label, headers in seen.items():
        for header in headers:
            name = header.split("=", 1)[0]
            attributes = {a.strip().lower() for a in header.split(";")[1:]}
            where = f"{label}: {header}"
            assert name == session_name, f"unexpected cookie {where}"
            assert name != remember_name, f"remember-me cookie set: {where}"
            assert "httponly" in attributes, where
            assert "samesite=lax" in attributes, where
            if secure:
                assert "secure" in attributes, where
    # The journey really exercised cookies: login and logout always set the session cookie.
    for label in ("POST /login success (remember=y posted)", "POST /logout"):
        assert seen[label], f"{label} set no cookie"


def _assert_remember_settings_safe(app: Flask, secure: bool) -> None:
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    if secure:
        assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_every_cookie_is_httponly_and_samesite_lax(csrf_app):
    seen = _cookie_journey(csrf_app, "http://localhost")
    _assert_cookie_flags(seen, csrf_app, secure=False)
    _assert_remember_settings_safe(csrf_app, secure=False)


def test_every_cookie_is_also_secure_in_production(production_app):
    seen = _cookie_journey(production_app, "https://localhost")
    _assert_cookie_flags(seen, production_app, secure=True)
    _assert_remember_settings_safe(production_app, secure=True)


def test_remember_cookie_would_carry_the_same_flags_if_it_were_ever_set(production_app):
    """Remember-me is not offered; if a view ever asked Flask-Login for it, it would be safe."""
    from flask_login import login_user

    # Read the id here: inside the view, the test's own session would refresh the expired
    # object through the production app's engine.
    user_id = make_user(Role.NAVIGATOR).id

    @production_app.route("/remember-for-test")
    def remember_for_test():
        login_user(_db.session.get(User, user_id), remember=True)
        return "ok"

    response = production_app.test_client().get("/remember-for-test", base_url="https://localhost")
    remember_name = production_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    (header,) = [h for h in _set_cookies(response) if h.startswith(f"{remember_name}=")]
    attributes = {a.strip().lower() for a in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax"} <= attributes, header
    # A day at most, so a lost device is not logged in for long.
    assert production_app.config["REMEMBER_COOKIE_DURATION"] <= timedelta(days=1)


# --- 3. HSTS in production; no-store on personal pages -----------------------------------------


def test_hsts_on_every_response_in_production(production_app):
    navigator = make_user(Role.NAVIGATOR)
    referral = a_case(navigator)
    client = production_app.test_client()
    https = "https://localhost"
    responses = [client.get(p, base_url=https) for p in ("/", "/login", "/directory", "/nope")]
    responses.append(client.post("/login", data={}, base_url=https))  # CSRF failure, 400
    token = _csrf_token(client.get("/login", base_url=https).text)
    responses.append(
        client.post(
            "/login",
            data={"email": navigator.email, "password": PASSWORD, "csrf_token": token},
            base_url=https,
            headers={"Referer": f"{https}/login"},
        )
    )
    for path in (f"/cases/{referral.id}", "/hub"):
        responses.append(client.get(path, base_url=https))
    responses.append(client.get("/caseload", headers=HTMX, base_url=https))
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 400, 302, 200, 403, 200]
    for response in responses:
        hsts = response.headers.get("Strict-Transport-Security", "")
        match = re.fullmatch(r"max-age=(\d+)(; includeSubDomains)?(; preload)?", hsts)
        assert match and int(match.group(1)) >= 31536000, (response.request.path, hsts)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_personal_pages_and_their_partials_are_never_cached(app, htmx):
    coordinator = make_user(Role.COORDINATOR)
    navigator = make_user(Role.NAVIGATOR)
    referral = a_case(navigator)
    triage = a_case(navigator, status=ReferralStatus.RECEIVED)
    headers = HTMX if htmx else {}
    pages = {
        navigator: [f"/cases/{referral.id}", "/caseload", f"/cases/{referral.id}/plan"],
        coordinator: ["/hub", f"/referrals/{triage.id}", "/caseload", "/int", "/volunteers"],
    }
    for user, paths in pages.items():
        client = logged_in(app, user)
        for path in paths:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, path
            if htmx and path in ("/hub", "/caseload"):
                assert "<html" not in response.text, f"{path} did not answer with its partial"
            assert response.headers.get("Cache-Control") == "no-store", path
            assert response.headers.get("Pragma") == "no-cache", path


def test_self_referral_form_shown_again_with_the_persons_details_is_not_cached(app):
    """The public form re-shown after a mistake holds what the person typed about themselves.

    No one is logged in, so the "logged in means no-store" rule does not reach it; the page
    still carries the person's name and NHS number, and on a shared computer Back would
    show it to the next person.
    """
    nhs_number = valid_nhs_number(4242)
    response = app.test_client().post(
        "/refer-yourself",
        data={
            "given_name": "Ottoline",
            "family_name": "Quarrender",
            "nhs_number": nhs_number,
            "details": "Feeling very low since my husband died",
        },
    )
    assert response.status_code == 400
    assert "Quarrender" in response.text and nhs_number in response.text
    assert "no-store" in response.headers.get("Cache-Control", "")


# --- 4. open redirects --------------------------------------------------------------------------

HOSTS = st.sampled_from(["evil.example", "evil.example:443", "user@evil.example", "1.2.3.4"])
LOCAL_SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~",
    min_size=1,
    max_size=12,
)
TAILS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/?=&.-", max_size=20)
# Characters that look like, or normalise (NFKC) to, a slash or a backslash.
SLASH_LOOKALIKES = st.sampled_from(
    ["\uff0f", "\u2215", "\u2044", "\u29f8", "\u2571", "\uff3c", "\ufe68", "\u2216", "\u29f5"]
)
WHITESPACE = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x00", "\u00a0", "\u3000"])


@st.composite
def local_paths(draw) -> str:
    segments = draw(st.lists(LOCAL_SEGMENT, min_size=1, max_size=4))
    path = "/" + "/".join(segments)
    if draw(st.booleans()):
        pairs = draw(st.lists(st.tuples(LOCAL_SEGMENT, LOCAL_SEGMENT), min_size=1, max_size=3))
        path += "?" + "&".join(f"{k}={v}" for k, v in pairs)
    return path


OFF_SITE_KINDS = [
    "double-slash",
    "backslash",
    "slash-backslash",
    "scheme",
    "leading-whitespace",
    "embedded-tab-newline",
    "percent-encoded-slash",
    "unicode-lookalike",
]


@st.composite
def off_site_targets(draw, kind: str) -> str:
    """Forms a browser, or a proxy or second redirect that decodes once, may take off-site."""
    host = draw(HOSTS)
    tail = draw(TAILS)
    slash = draw(st.sampled_from(["/", "\\"]))
    if kind == "double-slash":
        return draw(st.sampled_from(["//", "///", "////"])) + f"{host}{tail}"
    if kind == "backslash":
        return draw(st.sampled_from(["\\\\", "\\/", "\\"])) + f"{host}{tail}"
    if kind == "slash-backslash":
        return draw(st.sampled_from(["/\\", "/\\\\", "//\\"])) + f"{host}{tail}"
    if kind == "scheme":
        scheme = draw(
            st.sampled_from(["http", "https", "HTTPS", "javascript", "data", "ftp", "file"])
        )
        return f"{scheme}:{slash}{slash}{host}{tail}"
    if kind == "leading-whitespace":
        return draw(WHITESPACE) + f"/{slash}{host}{tail}"
    if kind == "embedded-tab-newline":
        # Browsers drop tabs and newlines anywhere in a URL: "/\t/evil" is "//evil".
        return "/" + draw(st.sampled_from(["\t", "\n", "\r"])) + f"/{host}{tail}"
    if kind == "percent-encoded-slash":
        # One round of decoding turns these into //host or /\host.
        encoded = draw(st.sampled_from(["%2F", "%2f", "%5C", "%5c"]))
        prefix = draw(st.sampled_from(["/", "/%2F", "/%2f", "%2F", "%2f"]))
        return f"{prefix}{encoded}{host}{tail}"
    assert kind == "unicode-lookalike"
    # NFKC turns the fullwidth solidus into "/"; other software normalises before use.
    lookalike = draw(SLASH_LOOKALIKES)
    prefix = draw(st.sampled_from(["/", lookalike]))
    return f"{prefix}{lookalike}{host}{tail}"


@given(local_paths())
def test_local_paths_are_accepted(target):
    assert is_safe_next(target)


def test_plain_local_path_with_a_query_is_accepted():
    assert is_safe_next("/cases/1?x=y")


@pytest.mark.parametrize("kind", OFF_SITE_KINDS)
@given(data=st.data())
@settings(max_examples=150)
def test_anything_that_could_leave_the_site_is_refused(kind, data):
    target = data.draw(off_site_targets(kind), label="target")
    assert not is_safe_next(target), repr(target)


HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    " /\\evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\uff0fevil.example",
    "\uff0f\uff0fevil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_with_a_hostile_next_lands_on_the_start_page(app, target):
    user = make_user(Role.COORDINATOR)
    response = app.test_client().post(
        f"/login?next={quote(target, safe='')}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/hub", repr(target)


def test_htmx_login_redirect_never_carries_an_off_site_next(app):
    """An htmx request that needs a login is sent to /login with the page it came from only
    when that page is on this site."""
    client = app.test_client()
    for current in ("http://localhost//evil.example/x", "http://localhost/\\evil.example"):
        response = client.get("/hub", headers={**HTMX, "HX-Current-URL": current})
        assert response.status_code == 401
        assert response.headers["HX-Redirect"] == "/login", current


# --- 5. no GET changes state; no NHS number in the app's URLs ----------------------------------

# Rows a GET may add. The audit trail records views and 403s; the rate limiter counts.
# The dashboard summary tables are a cache the dashboards bring up to date when they are
# read (portal/dashboard/facts.py), and the version of the figures kept from them changes
# with a refresh: refreshing them on a GET changes no one's records.
MAY_CHANGE_ON_GET = {
    "audit_events",
    "rate_limit_counters",
    "referral_facts",
    "activity_referral_facts",
    "referral_months",
    "volunteer_time_months",
    "stale_referrals",
    "stale_volunteer_months",
    "dashboard_figures_version",
}
# Values for URL arguments that are not object ids.
FIXED_ARGS = {"scale": "ucla3", "token": "not-a-real-token"}
# The commissioner's tables and the hub's have different keys ("caseloads" is the hub's).
ENDPOINT_ARGS = {"dashboard.table_csv": {"key": "by_reason"}}
DOWNLOAD = re.compile(r"\.(pdf|csv|json)$")
# Attributes that hold an address the browser will request or show.
URL_ATTRIBUTE = re.compile(
    r"""\s(href|src|action|formaction|hx-get|hx-post|hx-put|hx-patch|hx-delete|hx-push-url|"""
    r"""hx-replace-url|hx-vals|data-[\w-]*(?:url|href))\s*=\s*("[^"]*"|'[^']*')""",
    re.IGNORECASE,
)
URL_HEADERS = ("Location", "HX-Redirect", "HX-Location", "HX-Push-Url", "HX-Replace-Url")


def _world() -> tuple[dict[Role, User], dict[str, str]]:
    """One user per role, each owning something, and the URL argument naming each object."""
    users = {role: make_user(role) for role in Role}
    practice_user = users[Role.PRACTICE_USER]
    referral = a_case(users[Role.NAVIGATOR], practice_id=practice_user.practice_id)
    contact = make_contact(referral, users[Role.NAVIGATOR], days_ago=0)
    goal = make_goal(referral, users[Role.NAVIGATOR])
    volunteer = volunteer_of(users[Role.VOLUNTEER])
    match = make_buddy_match(referral, volunteer, users[Role.NAVIGATOR])
    member = users[Role.ORGANISATION_MEMBER]
    activity = a_listed_activity(member.organisation)
    link = an_accepted_referral(activity, member)
    report = a_report(practice_user)
    module = make_training_module()
    args = {
        "referral_id": referral.id,
        "resident_id": referral.resident_id,
        "contact_id": contact.id,
        "goal_id": goal.id,
        "match_id": match.id,
        "volunteer_id": volunteer.id,
        "module_id": module.id,
        "activity_id": activity.id,
        "activity_uuid": activity.uuid,
        "service_id": activity.uuid,
        "organisation_id": member.organisation_id,
        "link_id": link.id,
        "report_id": report.id,
        "practice_id": practice_user.practice_id,
        "user_id": users[Role.NAVIGATOR].id,
        "key": "caseloads",
        **FIXED_ARGS,
    }
    return users, {k: str(v) for k, v in args.items()}


def _get_urls(app: Flask, args: dict[str, str]) -> Iterator[tuple[str, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {**args, **ENDPOINT_ARGS.get(rule.endpoint, {})}
        missing = rule.arguments - values.keys()
        assert not missing, f"{rule.rule}: add a value for {missing} to _world()"
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", values[name], path)
        yield rule.endpoint, path


def _table_contents() -> dict[str, list]:
    with _db.engine.connect() as conn:
        return {
            table.name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
            for table in _db.metadata.sorted_tables
            if table.name not in MAY_CHANGE_ON_GET
        }


def _row_counts() -> dict[str, int]:
    """Rows in every table a GET must leave alone, in one statement."""
    tables = [t for t in _db.metadata.sorted_tables if t.name not in MAY_CHANGE_ON_GET]
    query = sa.union_all(
        *(
            sa.select(sa.literal(t.name).label("name"), sa.func.count().label("rows")).select_from(
                t
            )
            for t in tables
        )
    )
    with _db.engine.connect() as conn:
        return {name: rows for name, rows in conn.execute(query)}


def _addresses_in(response) -> list[str]:
    found = [response.headers[h] for h in URL_HEADERS if h in response.headers]
    if response.mimetype == "text/html":
        found += [html.unescape(v[1:-1]) for _, v in URL_ATTRIBUTE.findall(response.text)]
    return found


def _digits(address: str) -> str:
    """The address with every separator a number could be written with taken out."""
    return re.sub(r"(%20|%2D|[\s+\-.])", "", address, flags=re.IGNORECASE)


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_no_get_changes_anything_and_no_url_carries_an_nhs_number(app, role):
    """Every GET route, by each role, with real ids, with and without htmx.

    A route the role may not use is refused by the permission decorator before its view
    runs (tests/test_access.py walks those); it is asked once here, without htmx. htmx never
    asks for a download, so those are asked once too, and only the admin, who may have
    every PDF, renders them: a PDF takes about a second.
    """
    users, args = _world()
    nhs_numbers = set(_db.session.scalars(sa.select(Resident.nhs_number)))
    assert len(nhs_numbers) >= 3
    client = logged_in(app, users[role])
    counts, contents = _row_counts(), _table_contents()

    answered: dict[str, int] = {}
    for endpoint, path in _get_urls(app, args):
        allowed = getattr(app.view_functions[endpoint], "allowed_roles", None)
        refused = allowed is not None and role not in allowed
        if not refused and path.endswith(".pdf") and role != Role.ADMIN:
            continue
        for headers in ({},) if refused or DOWNLOAD.search(path) else ({}, HTMX):
            response = client.get(path, headers=headers)
            where = f"{role.value} GET {path}{' (htmx)' if headers else ''}"
            answered[where] = response.status_code
            assert response.status_code < 500, f"{where} -> {response.status_code}"
            if refused:
                assert response.status_code == 403, f"{where} -> {response.status_code}"
            for address in _addresses_in(response):
                for number in nhs_numbers:
                    assert number not in _digits(address), f"{where}: NHS number in {address!r}"
            response.close()
            if not refused:
                # Counted after each request that reached its view, to name the culprit;
                # the check after the walk covers the refused ones and every changed value.
                assert _row_counts() == counts, f"{where} added or removed rows"

    assert _row_counts() == counts, "a refused GET added or removed rows"
    assert _table_contents() == contents, "a GET changed what a table holds"
    # The walk reached the role's own pages, not only refusals.
    assert sum(status == 200 for status in answered.values()) >= 15, answered
    # No GET logged the client out.
    home = client.get("/home")
    assert home.status_code == 302 and "/login" not in home.headers["Location"]


# --- 6. the 500 page -----------------------------------------------------------------------------


def test_an_exception_in_a_view_gives_the_generic_page_without_detail(production_app):
    """With debug off, as deployed: no traceback, no exception text, no SQL, no NHS number."""
    nhs_number = valid_nhs_number(31337)

    @production_app.route("/explode-for-test")
    def explode():
        raise RuntimeError(f"resident {nhs_number} broke /srv/portal/secret.py line 42")

    @production_app.route("/sql-explode-for-test")
    def sql_explode():
        # A primary key used twice: an IntegrityError on SQLite and PostgreSQL alike,
        # whose message quotes the statement and the table.
        _db.session.execute(
            sa.text(
                "INSERT INTO neighbourhoods (id, name) "
                "VALUES (424242, 'Leaky street'), (424242, 'Leaky street')"
            )
        )
        _db.session.commit()
        return "unreachable"

    assert production_app.debug is False
    assert production_app.config["PROPAGATE_EXCEPTIONS"] is not True
    client = production_app.test_client()
    leaks = [
        "Traceback",
        "RuntimeError",
        "IntegrityError",
        "sqlalchemy",
        "INSERT",
        "neighbourhoods",
        "Leaky street",
        "424242",
        "UNIQUE",
        "duplicate key",
        nhs_number,
        "secret.py",
        "/srv/portal",
        'File "',
    ]
    for path in ("/explode-for-test", "/sql-explode-for-test"):
        for headers in ({}, HTMX):
            response = client.get(path, headers=headers, base_url="https://localhost")
            assert response.status_code == 500, path
            assert "Sorry, there is a problem with the service" in response.text
            for leak in leaks:
                assert leak.lower() not in response.text.lower(), (path, leak)
            assert "Content-Security-Policy" in response.headers
            assert "Strict-Transport-Security" in response.headers
