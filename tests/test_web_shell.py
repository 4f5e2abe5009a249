"""The shell every page shares: security headers, CSRF, htmx partials, friendly errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from portal.auth.models import Role
from tests.factories import PASSWORD, make_referral


def test_security_headers_on_every_html_response(client):
    for path in ("/", "/login", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert re.search(r"script-src 'self' 'nonce-[\w-]{20,}'", csp)
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_inline_script_carries_the_nonce(client):
    response = client.get("/login")
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(rb"<script[^>]*>", response.data)
    assert scripts
    for tag in scripts:
        assert f'nonce="{nonce}"'.encode() in tag


def test_nonce_changes_per_response(client):
    first = client.get("/login").headers["Content-Security-Policy"]
    second = client.get("/login").headers["Content-Security-Policy"]
    assert first != second


def test_pages_with_personal_data_are_not_cached(client, login, make_user):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login(make_user(Role.COORDINATOR))
    assert client.get("/hub").headers["Cache-Control"] == "no-store"


def test_htmx_is_configured_to_stay_inside_the_csp(client):
    page = client.get("/login").data.decode()
    config = re.search(r'name="htmx-config" content="([^"]+)"', page).group(1)
    config = config.replace("&#34;", '"')
    for setting in (
        '"selfRequestsOnly": true',
        '"allowEval": false',
        '"allowScriptTags": false',
        '"includeIndicatorStyles": false',
        '"historyCacheSize": 0',
    ):
        assert setting in config


def test_csrf_token_is_sent_by_htmx_through_hx_headers(client, login, make_user):
    login(make_user(Role.COORDINATOR))
    body = client.get("/hub").data.decode()
    assert re.search(r'<body[^>]*hx-headers="\{&#34;X-CSRFToken&#34;: &#34;[^&]+&#34;\}"', body)


def test_post_without_csrf_token_is_refused(csrf_app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert b"Your form has expired" in response.data


def test_post_with_csrf_token_in_header_is_accepted(csrf_app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 302


def test_logout_without_csrf_token_is_refused(csrf_app, client, make_user, login):
    user = make_user(Role.NAVIGATOR)
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert client.post("/logout").status_code == 400
    assert client.get("/caseload").status_code == 200


@pytest.mark.parametrize(
    ("headers", "partial"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "true", "HX-Boosted": "true"}, False),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ],
)
def test_one_helper_decides_full_page_or_partial(client, login, make_user, headers, partial):
    login(make_user(Role.COORDINATOR))
    make_referral()
    response = client.get("/hub", headers=headers)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.data.decode()
    assert ("<html" not in body) is partial
    assert 'id="hub-table"' in body


def test_friendly_404_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Page not found" in response.data and b"Traceback" not in response.data


def test_unexpected_error_shows_a_generic_page(backend, tmp_path):
    from portal import create_app

    fresh = create_app(
        "test",
        overrides={
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "PROPAGATE_EXCEPTIONS": False,
        },
    )

    @fresh.route("/boom-for-test")
    def boom():
        raise RuntimeError("secret internal detail")

    response = fresh.test_client().get("/boom-for-test")
    assert response.status_code == 500
    assert b"Sorry, there is a problem with the service" in response.data
    assert b"secret internal detail" not in response.data


def test_unreachable_database_gets_a_friendly_503(backend):
    from portal import create_app

    broken = create_app(
        "test",
        overrides={"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert b"Sorry, the service is unavailable" in response.data
    assert b"OperationalError" not in response.data and b"127.0.0.1" not in response.data


def test_check_db_says_so_in_one_line_when_the_database_is_unreachable(backend, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "FLASK_APP": "wsgi",
        "PORTAL_INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://someone:secretpw@127.0.0.1:1/portal",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "check-db"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Cannot reach the database at")
    assert "secretpw" not in result.stderr and "Traceback" not in result.stderr


def test_production_refuses_to_start_without_secret_key(backend, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTAL_ENV": "production",
        "PORTAL_INSTANCE_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "SECRET_KEY is not set" in lines[0]


def test_production_starts_with_a_secret_key_and_secure_cookies(backend, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTAL_ENV": "production",
        "SECRET_KEY": "x" * 64,
        "PORTAL_INSTANCE_DIR": str(tmp_path),
    }
    code = (
        "import wsgi; c = wsgi.app.config; "
        "print(c['SESSION_COOKIE_SECURE'], c['REMEMBER_COOKIE_SECURE'], c['DEBUG'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False"]


def test_session_cookie_flags(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("portal_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
