"""Accounts, roles, and the shared rate-limit counters."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_types import LabelledEnum, UTCDateTime, enum_type, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.directory.models import Organisation
    from portal.referrals.models import Neighbourhood, Practice


class Role(LabelledEnum):
    ADMIN = "admin", "Administrator"
    COORDINATOR = "coordinator", "Hub coordinator"
    NAVIGATOR = "navigator", "Navigator"
    VOLUNTEER = "volunteer", "Volunteer"
    ORGANISATION_MEMBER = "organisation_member", "Organisation member"
    PRACTICE_USER = "practice_user", "GP practice user"
    COMMISSIONER = "commissioner", "Commissioner"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(db.Model):
    """Someone who logs in. The role decides what they may see and do."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "role != 'practice_user' OR practice_id IS NOT NULL", name="practice_user_has_practice"
        ),
        sa.CheckConstraint(
            "role != 'organisation_member' OR organisation_id IS NOT NULL",
            name="org_member_has_organisation",
        ),
        sa.CheckConstraint(
            "caseload_capacity IS NULL OR caseload_capacity >= 0", name="capacity_not_negative"
        ),
        sa.Index("ix_users_role_name", "role", "full_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    # None until the person sets a password from their invitation link.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Flask-Login's "alternative token": the cookie holds this, not the id, so
    # rotating it on logout or password change makes every old cookie useless.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    practice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("practices.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    # Navigators: how many open cases they can hold, and whether they are a volunteer navigator.
    caseload_capacity: Mapped[int | None]
    is_volunteer_navigator: Mapped[bool] = mapped_column(default=False)
    # Navigators: the neighbourhood team they work with, and languages besides English.
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhoods.id"))
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-step login (TOTP, RFC 6238). The secret is kept from the start of setup; the
    # account only counts as enrolled once a code from it has been typed back.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last 30-second step a code was accepted for: the same code cannot be used twice.
    last_totp_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    practice: Mapped[Practice | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship(foreign_keys=[organisation_id])
    neighbourhood: Mapped[Neighbourhood | None] = relationship()

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class RecoveryCode(db.Model):
    """A one-use code that stands in for the authenticator app when the phone is lost.

    Only a hash is kept: the codes are shown once, when they are made.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitCounter(db.Model):
    """Fixed-window counters for Flask-Limiter, shared by every worker through the database."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    # Seconds since the epoch, as the limits library counts.
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)
