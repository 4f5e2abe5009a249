"""Two-step login: authenticator-app codes (TOTP, RFC 6238) and one-use recovery codes.

Rules only; the views in portal/auth/views.py ask the person for the codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app

from portal.audit.service import audit
from portal.auth.models import RecoveryCode, User
from portal.db_types import utcnow
from portal.extensions import db

# A code from the step before or after is accepted too: phones' clocks drift.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# Twelve characters from a 32-letter alphabet: 60 bits each, so a fast hash is enough.
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_RECOVERY_LENGTH = 12


def required_for(user: User) -> bool:
    """Whether this account must use two-step login (set by MFA_REQUIRED_ROLES)."""
    return user.role.value in current_app.config["MFA_REQUIRED_ROLES"]


def must_enrol(user: User) -> bool:
    return required_for(user) and not user.mfa_enabled


# --- Authenticator codes --------------------------------------------------------------------


def start_setup(user: User) -> str:
    """A new secret for the person to add to their app; it counts once a code is typed back."""
    if user.mfa_enabled:
        raise ValueError("two-step login is already set up")
    user.totp_secret = pyotp.random_base32()
    db.session.commit()
    return user.totp_secret


def setup_uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["HUB_NAME"]
    )


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup: drawn on the server, no script needed."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#212b32", light="#ffffff")


def grouped_key(secret: str) -> str:
    """The key in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _digits(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "")


def _matching_step(user: User, code: str, now: datetime) -> int | None:
    code = _digits(code)
    if not user.totp_secret or not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_code(user: User, code: str, now: datetime | None = None) -> bool:
    """True for a right code not used before; the step is recorded so it cannot be replayed."""
    step = _matching_step(user, code, now or utcnow())
    if step is None or (user.last_totp_step is not None and step <= user.last_totp_step):
        return False
    user.last_totp_step = step
    return True


def finish_setup(user: User, code: str, now: datetime | None = None) -> list[str] | None:
    """Turn two-step login on if the code matches the new secret; the recovery codes, else None."""
    if user.mfa_enabled or not check_code(user, code, now):
        return None
    user.mfa_enabled_at = now or utcnow()
    codes = _replace_recovery_codes(user)
    audit("mfa_enabled", "user", user.id)
    db.session.commit()
    return codes


def switch_off(user: User, by: User) -> None:
    """Forget the secret and the recovery codes, and end the person's sessions.

    An administrator does this when someone has lost their phone and their codes; the
    person sets two-step login up again at their next login.
    """
    user.totp_secret = None
    user.mfa_enabled_at = None
    user.last_totp_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.rotate_session_token()
    audit("mfa_reset" if by.id != user.id else "mfa_disabled", "user", user.id)
    db.session.commit()


# --- Recovery codes -------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hashlib.sha256(_normal_recovery(code).encode()).hexdigest()


def _normal_recovery(code: str) -> str:
    return _digits(code).upper()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    return codes


def new_recovery_codes(user: User, code: str, now: datetime | None = None) -> list[str] | None:
    """A fresh set of recovery codes (the old ones stop working), if the app code is right."""
    if not user.mfa_enabled or not check_code(user, code, now):
        return None
    codes = _replace_recovery_codes(user)
    audit("mfa_recovery_codes_made", "user", user.id)
    db.session.commit()
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def looks_like_recovery_code(code: str) -> bool:
    return len(_normal_recovery(code)) == _RECOVERY_LENGTH


def use_recovery_code(user: User, code: str) -> bool:
    """True, and the code is spent, if it is one of the person's unused recovery codes."""
    if not user.mfa_enabled or not looks_like_recovery_code(code):
        return False
    # One conditional UPDATE: two requests racing with the same code cannot both win.
    spent = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    ).rowcount
    if spent:
        audit(
            "mfa_recovery_code_used", "user", user.id, actor_id=user.id, actor_role=str(user.role)
        )
    return bool(spent)


def verify_second_step(user: User, code: str) -> bool:
    """The login's second step: an app code, or else a recovery code."""
    if looks_like_recovery_code(code):
        return use_recovery_code(user, code)
    return check_code(user, code)


# --- Demo accounts --------------------------------------------------------------------------


def demo_secret(email: str) -> str:
    """A fixed key per demo account, printed with the demo logins like the demo password."""
    digest = hashlib.sha256(f"portal-demo-totp:{email}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def enrol_demo_account(user: User, now: datetime) -> None:
    user.totp_secret = demo_secret(user.email)
    user.mfa_enabled_at = now


def current_code(secret: str, now: datetime | None = None) -> str:
    return pyotp.TOTP(secret).at(now or utcnow())
