"""Two-step login: authenticator codes, recovery codes, setup, and who must use it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

import config
from portal.audit.models import AuditEvent
from portal.auth import mfa
from portal.auth.models import RecoveryCode, Role, User
from portal.db_types import utcnow
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def mfa_required(app):
    """The production rule: admins and coordinators must use two-step login."""
    before = app.config["MFA_REQUIRED_ROLES"]
    app.config["MFA_REQUIRED_ROLES"] = ("admin", "coordinator")
    yield
    app.config["MFA_REQUIRED_ROLES"] = before


def enrolled(make_user, db, role=Role.COORDINATOR) -> User:
    user = make_user(role)
    user.totp_secret = pyotp.random_base32()
    user.mfa_enabled_at = utcnow()
    db.session.commit()
    return user


def code_for(user: User, at: datetime | None = None) -> str:
    return pyotp.TOTP(user.totp_secret).at(at or utcnow())


def actions(db, user: User) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))
            .order_by(AuditEvent.id)
        )
    )


# --- The rules --------------------------------------------------------------------------------


def test_a_code_from_the_step_before_or_after_is_accepted_but_not_two_away(app, make_user, db):
    user = enrolled(make_user, db)
    for offset, ok in ((-60, False), (-30, True), (30, True), (60, False)):
        user.last_totp_step = None
        assert mfa.check_code(user, code_for(user, NOW + timedelta(seconds=offset)), NOW) is ok


def test_a_code_cannot_be_used_twice_nor_an_older_one_after_it(app, make_user, db):
    user = enrolled(make_user, db)
    now_code = code_for(user, NOW)
    assert mfa.check_code(user, now_code, NOW)
    assert not mfa.check_code(user, now_code, NOW)
    assert not mfa.check_code(user, code_for(user, NOW - timedelta(seconds=30)), NOW)
    assert mfa.check_code(user, code_for(user, NOW + timedelta(seconds=30)), NOW)


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12345\x00"])
def test_anything_but_six_digits_is_refused(app, make_user, db, typed):
    user = enrolled(make_user, db)
    assert not mfa.check_code(user, typed, NOW)


def test_spaces_in_a_typed_code_are_forgiven(app, make_user, db):
    user = enrolled(make_user, db)
    code = code_for(user, NOW)
    assert mfa.check_code(user, f" {code[:3]} {code[3:]} ", NOW)


def test_recovery_codes_work_once_and_only_for_their_owner(app, make_user, db):
    user = make_user(Role.COORDINATOR)
    other = make_user(Role.COORDINATOR)
    mfa.start_setup(user)
    codes = mfa.finish_setup(user, code_for(user))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", c) for c in codes)
    mfa.start_setup(other)
    mfa.finish_setup(other, code_for(other))
    assert not mfa.use_recovery_code(other, codes[0])
    assert mfa.use_recovery_code(user, codes[0].lower().replace("-", " "))
    assert not mfa.use_recovery_code(user, codes[0])
    assert mfa.recovery_codes_left(user) == 9
    # Only hashes are kept.
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert not any(c.replace("-", "") in h or c in h for c in codes for h in stored)


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(app, make_user, db):
    user = make_user(Role.NAVIGATOR)
    mfa.start_setup(user)
    first = mfa.finish_setup(user, code_for(user, NOW), NOW)
    later = NOW + timedelta(seconds=30)
    assert mfa.new_recovery_codes(user, "000000", later) is None
    second = mfa.new_recovery_codes(user, code_for(user, later), later)
    assert second and not set(first) & set(second)
    assert not mfa.use_recovery_code(user, first[1])
    assert mfa.use_recovery_code(user, second[1])


def test_setup_needs_a_code_from_the_new_key(app, make_user, db):
    user = make_user(Role.COORDINATOR)
    mfa.start_setup(user)
    other_key = pyotp.random_base32()
    assert mfa.finish_setup(user, pyotp.TOTP(other_key).now()) is None
    assert not user.mfa_enabled
    assert mfa.finish_setup(user, code_for(user)) is not None
    assert user.mfa_enabled


def test_production_and_development_require_it_for_admins_and_coordinators():
    for cls in (config.Config, config.DevelopmentConfig, config.ProductionConfig):
        assert set(cls.MFA_REQUIRED_ROLES) == {"admin", "coordinator"}


# --- Logging in with a code -------------------------------------------------------------------


def test_the_password_alone_does_not_log_an_enrolled_person_in(app, client, make_user, db):
    user = enrolled(make_user, db)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login/code"
    # Not logged in yet: a page asks for login again.
    hub = client.get("/hub")
    assert hub.status_code == 302 and "/login" in hub.headers["Location"]
    assert "login" not in actions(db, user)


def test_the_right_code_logs_in_and_keeps_where_they_were_going(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login?next=/volunteers", data={"email": user.email, "password": PASSWORD})
    page = client.get("/login/code")
    assert page.status_code == 200 and b"authenticator app" in page.data
    response = client.post("/login/code", data={"code": code_for(user)})
    assert response.status_code == 302 and response.headers["Location"] == "/volunteers"
    assert client.get("/hub").status_code == 200
    assert actions(db, user)[-1] == "login"


def test_a_wrong_code_says_so_and_is_audited(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    response = client.post("/login/code", data={"code": "000000"})
    assert response.status_code == 200
    assert b"The code is not right" in response.data
    assert client.get("/hub").status_code == 302
    assert actions(db, user) == ["mfa_failed"]


def test_a_code_used_once_cannot_log_in_again(app, client, make_user, db):
    user = enrolled(make_user, db)
    code = code_for(user)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert client.post("/login/code", data={"code": code}).status_code == 302
    client.post("/logout")
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    replay = client.post("/login/code", data={"code": code})
    assert replay.status_code == 200 and b"The code is not right" in replay.data


def test_guessing_codes_is_rate_limited(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    statuses = [client.post("/login/code", data={"code": "000000"}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    # Even the right code waits out the window now.
    assert client.post("/login/code", data={"code": code_for(user)}).status_code == 429


def test_the_code_page_without_a_right_password_goes_back_to_login(app, client):
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.post("/login/code", data={"code": "123456"}).status_code == 302


def test_a_half_finished_login_expires(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        pending = dict(session["mfa_pending"])
        pending["at"] -= app.config["MFA_PENDING_MINUTES"] * 60 + 1
        session["mfa_pending"] = pending
    response = client.post("/login/code", data={"code": code_for(user)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/hub").status_code == 302


def test_a_password_reset_meanwhile_cancels_the_half_finished_login(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    user.rotate_session_token()
    db.session.commit()
    response = client.post("/login/code", data={"code": code_for(user)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_recovery_code_logs_in_once_and_says_how_many_are_left(app, client, make_user, db):
    user = make_user(Role.COORDINATOR)
    mfa.start_setup(user)
    codes = mfa.finish_setup(user, code_for(user, NOW), NOW)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    response = client.post("/login/code", data={"code": codes[3]}, follow_redirects=True)
    assert response.status_code == 200 and b"You have 9 left" in response.data
    assert "mfa_recovery_code_used" in actions(db, user)
    client.post("/logout")
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    again = client.post("/login/code", data={"code": codes[3]})
    assert again.status_code == 200 and b"The code is not right" in again.data


def test_a_session_fixed_before_login_does_not_survive_the_code_step(app, client, make_user, db):
    user = enrolled(make_user, db)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    client.post("/login/code", data={"code": code_for(user)})
    with client.session_transaction() as session:
        assert "planted" not in session and "mfa_pending" not in session


# --- Who must set it up -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR])
def test_staff_who_must_use_it_set_it_up_before_anything_else(
    app, client, make_user, db, mfa_required, role
):
    user = make_user(role)
    start = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert start.status_code == 302
    for path in (start.headers["Location"], "/hub", "/admin/users", "/volunteers"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/two-step-login"
    htmx = client.get("/hub", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/account/two-step-login"
    page = client.get("/account/two-step-login")
    assert b"Your role needs two-step login" in page.data
    # Logging out still works.
    assert client.post("/logout").status_code == 302


def test_setting_it_up_from_the_page(app, client, make_user, db, mfa_required):
    user = make_user(Role.COORDINATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    # Looking at the page changes nothing; the key is made when they choose to start.
    client.get("/account/two-step-login")
    db.session.refresh(user)
    assert user.totp_secret is None
    client.post("/account/two-step-login", data={"action": "start"})
    db.session.refresh(user)
    page = client.get("/account/two-step-login")
    assert b"<svg" in page.data
    assert mfa.grouped_key(user.totp_secret).encode() in page.data
    wrong = client.post("/account/two-step-login", data={"code": "000000"})
    assert b"The code is not right" in wrong.data
    db.session.refresh(user)
    assert not user.mfa_enabled
    done = client.post("/account/two-step-login", data={"code": code_for(user)})
    assert done.status_code == 200
    shown = re.findall(rb"<code>([A-Z2-9-]{14})</code>", done.data)
    assert len(shown) == 10
    db.session.refresh(user)
    assert user.mfa_enabled
    assert client.get("/hub").status_code == 200
    assert "mfa_enabled" in actions(db, user)
    # Once set up, the key is never shown again.
    status = client.get("/account/two-step-login")
    assert mfa.grouped_key(user.totp_secret).encode() not in status.data
    assert b"10</strong> recovery codes left" in status.data


def test_other_roles_need_not_set_it_up_but_may(app, client, make_user, db, mfa_required):
    user = make_user(Role.NAVIGATOR)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert client.get("/caseload").status_code == 200
    client.post("/account/two-step-login", data={"action": "start"})
    db.session.refresh(user)
    client.post("/account/two-step-login", data={"code": code_for(user, NOW)})
    db.session.refresh(user)
    assert user.mfa_enabled is False  # NOW is long past: that code is stale
    client.post("/account/two-step-login", data={"code": code_for(user)})
    db.session.refresh(user)
    assert user.mfa_enabled
    wrong = client.post("/account/two-step-login/off", data={"code": "000000"})
    assert wrong.status_code == 400 and b"The code is not right" in wrong.data
    later = utcnow() + timedelta(seconds=30)
    off = client.post("/account/two-step-login/off", data={"code": code_for(user, later)})
    assert off.status_code == 302
    db.session.refresh(user)
    assert not user.mfa_enabled and user.totp_secret is None
    # They stay logged in.
    assert client.get("/caseload").status_code == 200


def test_a_role_that_requires_it_cannot_turn_it_off(app, client, make_user, db, mfa_required):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    client.post("/login/code", data={"code": code_for(user)})
    later = utcnow() + timedelta(seconds=30)
    assert (
        client.post("/account/two-step-login/off", data={"code": code_for(user, later)}).status_code
        == 403
    )
    db.session.refresh(user)
    assert user.mfa_enabled


def test_new_recovery_codes_from_the_page(app, client, make_user, db):
    user = enrolled(make_user, db)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    client.post("/login/code", data={"code": code_for(user)})
    refused = client.post("/account/two-step-login/recovery-codes", data={"code": "000000"})
    assert refused.status_code == 400 and b"The code is not right" in refused.data
    later = utcnow() + timedelta(seconds=30)
    made = client.post(
        "/account/two-step-login/recovery-codes", data={"code": code_for(user, later)}
    )
    assert len(re.findall(rb"<code>([A-Z2-9-]{14})</code>", made.data)) == 10
    assert made.headers["Cache-Control"] == "no-store"


# --- Administrators -------------------------------------------------------------------------


def test_an_admin_resets_it_for_someone_who_lost_their_phone(app, make_user, db):
    coordinator = enrolled(make_user, db)
    db.session.add(RecoveryCode(user_id=coordinator.id, code_hash="0" * 64))
    db.session.commit()
    theirs = app.test_client()
    theirs.post("/login", data={"email": coordinator.email, "password": PASSWORD})
    theirs.post("/login/code", data={"code": code_for(coordinator)})
    assert theirs.get("/hub").status_code == 200

    admin = app.test_client()
    admin_user = make_user(Role.ADMIN)
    admin.post("/login", data={"email": admin_user.email, "password": PASSWORD})
    users = admin.get("/admin/users?role=coordinator")
    assert b"Reset two-step login" in users.data
    assert coordinator.totp_secret.encode() not in users.data
    assert admin.post(f"/admin/users/{coordinator.id}/two-step-login/reset").status_code == 302
    db.session.refresh(coordinator)
    assert coordinator.totp_secret is None and not coordinator.mfa_enabled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    # Their sessions have ended, and the reset is in the audit trail.
    assert theirs.get("/hub").status_code == 302
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "mfa_reset")).one()
    assert event.actor_id == admin_user.id and event.object_id == str(coordinator.id)


def test_an_admin_cannot_reset_their_own(app, client, make_user, db):
    admin_user = enrolled(make_user, db, Role.ADMIN)
    client.post("/login", data={"email": admin_user.email, "password": PASSWORD})
    client.post("/login/code", data={"code": code_for(admin_user)})
    response = client.post(
        f"/admin/users/{admin_user.id}/two-step-login/reset", follow_redirects=True
    )
    assert b"Ask another administrator" in response.data
    db.session.refresh(admin_user)
    assert admin_user.mfa_enabled


# --- Demo accounts --------------------------------------------------------------------------


def test_the_demo_code_command_gives_codes_that_log_in(app, db):
    from portal.demo import DEMO_PASSWORD, seed

    seed()
    result = app.test_cli_runner().invoke(args=["demo-code"])
    found = dict(re.findall(r"(\S+@demo\.example\.org)\s+(\d{6})", result.output))
    assert set(found) == {"admin@demo.example.org", "coordinator@demo.example.org"}
    client = app.test_client()
    client.post("/login", data={"email": "coordinator@demo.example.org", "password": DEMO_PASSWORD})
    response = client.post("/login/code", data={"code": found["coordinator@demo.example.org"]})
    assert response.status_code == 302 and response.headers["Location"] == "/hub"
