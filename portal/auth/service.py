"""Logging in and out, invitations, password setting and reset: rules without requests."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, session, url_for
from flask_login import login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.audit.service import audit, record_event
from portal.auth.models import Role, User
from portal.auth.passwords import hash_password, needs_rehash, verify_password
from portal.db_types import utcnow
from portal.extensions import db
from portal.mail import send_email

INVITE = "invite"
RESET = "reset"


class TokenError(ValueError):
    """The link is not valid: `expired` says whether it was genuine but too old."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The user if the email and password match an active account, else None.

    Unknown email, wrong password and disabled account look the same from outside.
    """
    user = find_user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    if not user or not ok or not user.is_active:
        record_event("login_failed", "user", user.id if user else None)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(user: User) -> None:
    # A fresh session on every login: nothing from before it (a planted id) survives.
    session.clear()
    login_user(user)
    session.permanent = True
    now = utcnow().timestamp()
    session["auth_at"] = now
    session["seen_at"] = now
    user.last_login_at = utcnow()
    audit("login", "user", user.id, actor_id=user.id, actor_role=str(user.role))
    db.session.commit()


def end_session(user: User | None) -> None:
    """Log out everywhere this session token was used: the old cookie stops working."""
    if user is not None and user.is_authenticated:
        user.rotate_session_token()
        audit("logout", "user", user.id)
        db.session.commit()
    logout_user()
    session.clear()


def set_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    # Every other session of this user ends.
    user.rotate_session_token()
    audit("password_set", "user", user.id, actor_id=user.id, actor_role=str(user.role))
    db.session.commit()


def _fingerprint(user: User) -> str:
    # Changes once the password is set, so each link works once.
    raw = f"{user.password_hash or '-'}|{user.is_active}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal-account-link")


def make_token(user: User, purpose: str) -> str:
    return _serializer().dumps({"u": user.id, "p": purpose, "f": _fingerprint(user)})


def token_max_age(purpose: str) -> timedelta:
    if purpose == INVITE:
        return timedelta(hours=current_app.config["INVITE_VALID_HOURS"])
    return timedelta(minutes=current_app.config["RESET_VALID_MINUTES"])


def read_token(token: str, purpose: str) -> User:
    try:
        data = _serializer().loads(token, max_age=int(token_max_age(purpose).total_seconds()))
    except SignatureExpired as exc:
        raise TokenError(expired=True) from exc
    except BadSignature as exc:
        raise TokenError(expired=False) from exc
    if not isinstance(data, dict) or data.get("p") != purpose:
        raise TokenError(expired=False)
    user = db.session.get(User, data.get("u"))
    if user is None or not user.is_active or data.get("f") != _fingerprint(user):
        raise TokenError(expired=False)
    return user


def invite_user(
    *,
    email: str,
    full_name: str,
    role: Role,
    invited_by: User,
    practice_id: int | None = None,
    organisation_id: int | None = None,
) -> User:
    user = User(
        email=normalise_email(email),
        full_name=full_name.strip(),
        role=role,
        practice_id=practice_id if role == Role.PRACTICE_USER else None,
        organisation_id=organisation_id if role == Role.ORGANISATION_MEMBER else None,
    )
    db.session.add(user)
    db.session.flush()
    audit("user_invited", "user", user.id)
    db.session.commit()
    send_invitation(user, invited_by)
    return user


def send_invitation(user: User, invited_by: User) -> None:
    link = url_for("auth.accept_invite", token=make_token(user, INVITE), _external=True)
    hours = current_app.config["INVITE_VALID_HOURS"]
    hub = current_app.config["HUB_NAME"]
    send_email(
        user.email,
        f"You have been invited to the {hub} portal",
        f"Hello {user.full_name},\n\n{invited_by.full_name} has given you an account on the "
        f"{hub} portal as: {user.role.label}.\n\nSet your password within {hours} hours "
        f"using this link:\n{link}\n\nIf you were not expecting this, you can ignore this email.",
    )


def request_password_reset(email: str) -> None:
    """Send a reset link if the account exists; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active or not user.password_hash:
        record_event("password_reset_unknown", "user", None)
        return
    link = url_for("auth.reset_password", token=make_token(user, RESET), _external=True)
    minutes = current_app.config["RESET_VALID_MINUTES"]
    send_email(
        user.email,
        "Reset your password",
        f"Hello {user.full_name},\n\nSomeone asked to reset the password for your account. "
        f"To choose a new password, use this link within {minutes} minutes:\n{link}\n\n"
        "If it was not you, ignore this email: your password has not changed.",
    )
    record_event("password_reset_sent", "user", user.id)


def set_active(user: User, active: bool) -> None:
    user.is_active = active
    # Disabling an account ends all its sessions.
    user.rotate_session_token()
    audit("user_enabled" if active else "user_disabled", "user", user.id)
    db.session.commit()
