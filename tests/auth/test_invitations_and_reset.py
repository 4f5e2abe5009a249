"""Invitations and password resets: signed, expiring, single-use links sent by real email."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa

from portal.auth.models import Role, User
from portal.auth.service import INVITE, RESET, make_token
from tests.factories import PASSWORD, make_practice

NEW_PASSWORD = "plum orchard lantern"


def _link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/\S+)", body).group(1)


def test_admin_invites_a_practice_user_who_sets_a_password_and_logs_in(
    app, client, make_user, login, smtp_server, db
):
    practice = make_practice()
    login(make_user(Role.ADMIN))
    form = client.get("/admin/users/invite")
    assert practice.name.encode() in form.data
    response = client.post(
        "/admin/users/invite",
        data={
            "full_name": "Priya Shah",
            "email": "Priya.Shah@Example.com",
            "role": "practice_user",
            "practice_id": str(practice.id),
            "organisation_id": "",
        },
    )
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "priya.shah@example.com"
    link = _link(message)

    invited = app.test_client()
    page = invited.get(link)
    assert b"Set your password" in page.data
    assert (
        invited.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 302
    )
    assert (
        invited.post(
            "/login", data={"email": "priya.shah@example.com", "password": NEW_PASSWORD}
        ).headers["Location"]
        == "/practice/referrals"
    )

    # The link works once.
    again = app.test_client().get(link)
    assert again.status_code == 400 and b"This link is not valid" in again.data


def test_invite_form_errors_keep_what_was_typed_and_save_nothing(client, make_user, login, db):
    login(make_user(Role.ADMIN))
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    response = client.post(
        "/admin/users/invite",
        data={
            "full_name": "Sam Lee",
            "email": "not-an-email",
            "role": "practice_user",
            "practice_id": "",
            "organisation_id": "",
        },
    )
    assert response.status_code == 200
    assert b"Enter an email address in the correct format" in response.data
    assert b"Choose the practice this person works at" in response.data
    assert b'value="Sam Lee"' in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_duplicate_email_is_refused(client, make_user, login):
    admin = make_user(Role.ADMIN)
    login(admin)
    response = client.post(
        "/admin/users/invite",
        data={"full_name": "Again", "email": admin.email, "role": "navigator"},
    )
    assert b"There is already an account with this email address" in response.data


def test_expired_invitation_says_so(app, client, make_user, monkeypatch):
    user = make_user(Role.NAVIGATOR, password=None)
    hours = app.config["INVITE_VALID_HOURS"]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - (hours + 1) * 3600)
    with app.test_request_context():
        token = make_token(user, INVITE)
    monkeypatch.setattr(time, "time", real_time)
    response = client.get(f"/invite/{token}")
    assert response.status_code == 400
    assert b"This link has expired" in response.data


def test_tampered_or_wrong_purpose_token_is_refused(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    with app.test_request_context():
        reset_token = make_token(user, RESET)
    assert client.get(f"/invite/{reset_token}").status_code == 400
    tampered = reset_token[:-3] + ("aaa" if not reset_token.endswith("aaa") else "bbb")
    response = client.get(f"/password-reset/{tampered}")
    assert response.status_code == 400 and b"This link is not valid" in response.data


def test_password_reset_by_email(app, client, make_user, smtp_server):
    user = make_user(Role.VOLUNTEER)
    response = client.post("/password-reset", data={"email": user.email})
    assert b"Check your email" in response.data
    link = _link(smtp_server.messages[0])
    short = client.post(link, data={"password": "short", "confirm": "short"})
    assert b"8 characters or more" in short.data
    assert (
        client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 302
    )
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 200
    )
    assert (
        client.post("/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(client, smtp_server):
    response = client.post("/password-reset", data={"email": "nobody@example.com"})
    assert b"Check your email" in response.data
    assert smtp_server.messages == []


def test_mail_server_down_does_not_break_the_reset_page(app, client, make_user):
    user = make_user(Role.NAVIGATOR)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    response = client.post("/password-reset", data={"email": user.email})
    assert response.status_code == 200 and b"Check your email" in response.data
