"""Logging in and out: start pages, one message for every failure, sessions that really end."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.auth.permissions import START_PAGES
from tests.factories import PASSWORD

FAILED = b"The email address or password is not right"


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_start_page(app, client, make_user, role):
    user = make_user(role)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    with app.test_request_context():
        from flask import url_for

        assert response.headers["Location"] == url_for(START_PAGES[role])
    assert client.get(response.headers["Location"]).status_code == 200


def test_email_is_case_and_space_insensitive(client, make_user):
    user = make_user(Role.NAVIGATOR)
    response = client.post(
        "/login", data={"email": f"  {user.email.upper()} ", "password": PASSWORD}
    )
    assert response.status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_answer(client, make_user, db):
    user = make_user(Role.NAVIGATOR)
    wrong = client.post("/login", data={"email": user.email, "password": "not the password"})
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 200
    assert FAILED in wrong.data and FAILED in unknown.data
    # The typed email is kept; the password never is.
    assert user.email.encode() in wrong.data
    assert b"not the password" not in wrong.data
    failures = db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "login_failed")
    )
    assert failures == 2


def test_disabled_account_cannot_log_in(client, make_user):
    user = make_user(Role.NAVIGATOR, is_active=False)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200 and FAILED in response.data


def test_empty_form_names_each_field(client):
    response = client.post("/login", data={})
    assert b"Enter your email address" in response.data
    assert b"Enter your password" in response.data


def test_login_clears_anything_in_the_session_before_it(client, make_user):
    user = make_user(Role.NAVIGATOR)
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as s:
        assert "planted" not in s
        assert "_user_id" in s


def test_cookie_replayed_after_logout_is_refused(app, client, make_user):
    user = make_user(Role.COORDINATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    captured = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert client.get("/hub").status_code == 200
    client.post("/logout")

    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], captured)
    response = thief.get("/hub")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions_but_not_this_one(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    other = app.test_client()
    for c in (client, other):
        c.post("/login", data={"email": user.email, "password": PASSWORD})
    new = "a brand new long passphrase"
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": new, "confirm": new},
    )
    assert response.status_code == 302
    assert client.get("/caseload").status_code == 200
    assert other.get("/caseload").status_code == 302
    assert client.post("/logout").status_code == 302
    again = app.test_client().post("/login", data={"email": user.email, "password": new})
    assert again.status_code == 302


def test_wrong_current_password_changes_nothing(client, make_user, login):
    user = make_user(Role.NAVIGATOR)
    login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong one",
            "password": "another long phrase",
            "confirm": "another long phrase",
        },
    )
    assert b"Your current password is not right" in response.data


def test_disabling_an_account_ends_its_sessions(app, client, make_user, login):
    admin = make_user(Role.ADMIN)
    victim = make_user(Role.NAVIGATOR)
    victim_client = app.test_client()
    victim_client.post("/login", data={"email": victim.email, "password": PASSWORD})
    login(admin)
    client.post(f"/admin/users/{victim.id}/active", data={"active": "0"})
    assert victim_client.get("/caseload").status_code == 302


def test_repeated_bad_logins_are_limited_but_another_account_still_logs_in(client, make_user):
    victim = make_user(Role.NAVIGATOR)
    other = make_user(Role.NAVIGATOR)
    statuses = [
        client.post("/login", data={"email": victim.email, "password": f"guess {i}"}).status_code
        for i in range(6)
    ]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    # Even the right password is refused while the account is limited.
    limited = client.post("/login", data={"email": victim.email, "password": PASSWORD})
    assert limited.status_code == 429
    assert b"Too many attempts" in limited.data
    assert (
        client.post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 302
    )


def test_rate_limit_is_shared_between_workers(app, make_user):
    """Two app instances on one database stand for two gunicorn workers."""
    from portal import create_app

    user = make_user(Role.NAVIGATOR)
    second_worker = create_app(
        "test", overrides={"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    )
    second_worker.test_client_class = app.test_client_class
    first, second = app.test_client(), second_worker.test_client()
    for i in range(5):
        worker = first if i % 2 else second
        assert (
            worker.post("/login", data={"email": user.email, "password": f"x{i}"}).status_code
            == 200
        )
    assert first.post("/login", data={"email": user.email, "password": "x"}).status_code == 429
    assert second.post("/login", data={"email": user.email, "password": "x"}).status_code == 429
    with second_worker.app_context():
        from portal.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "\t//evil.example",
        "/%09/evil.example".replace("%09", "\t"),
        "javascript:alert(1)",
    ],
)
def test_next_only_accepts_local_paths(client, make_user, target):
    user = make_user(Role.COORDINATOR)
    response = client.post(
        f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/hub"


def test_next_local_path_is_followed(client, make_user):
    user = make_user(Role.COORDINATOR)
    response = client.post(
        "/login?next=/dashboard", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/dashboard"


def test_idle_session_is_ended(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as s:
        s["seen_at"] -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1).total_seconds()
    response = client.get("/caseload")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_activity_keeps_a_session_alive_and_rewrites_its_cookie_at_most_once_a_minute(
    app, client, make_user
):
    user = make_user(Role.NAVIGATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = app.config["SESSION_COOKIE_NAME"]

    assert client.get("/caseload").status_code == 200  # the first page adds the CSRF token
    # Within the minute: the page answers without a new session cookie.
    response = client.get("/caseload")
    assert response.status_code == 200
    assert not any(c.startswith(cookie + "=") for c in response.headers.getlist("Set-Cookie"))

    # Later (but not idle): seen_at moves on, so the session lives on from now.
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]).total_seconds()
    with client.session_transaction() as s:
        s["seen_at"] -= idle - 30
    response = client.get("/caseload")
    assert response.status_code == 200
    assert any(c.startswith(cookie + "=") for c in response.headers.getlist("Set-Cookie"))
    with client.session_transaction() as s:
        s["seen_at"] -= idle - 30
    assert client.get("/caseload").status_code == 200


def test_session_older_than_the_absolute_limit_is_ended(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as s:
        s["auth_at"] -= timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"] + 1).total_seconds()
    assert client.get("/caseload").status_code == 302


def test_logout_needs_post(client, make_user, login):
    login(make_user(Role.NAVIGATOR))
    assert client.get("/logout").status_code == 405
    assert client.get("/caseload").status_code == 200
