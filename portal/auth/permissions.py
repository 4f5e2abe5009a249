"""The one permission helper every view uses, and where each role starts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from portal.auth.models import Role
from portal.extensions import login_manager

ALL_ROLES = frozenset(Role)
HUB_STAFF = frozenset({Role.ADMIN, Role.COORDINATOR})

# Each role lands on its own start page after logging in.
START_PAGES: dict[Role, str] = {
    Role.ADMIN: "auth.users",
    Role.COORDINATOR: "referrals.hub",
    Role.NAVIGATOR: "cases.caseload",
    Role.VOLUNTEER: "volunteers.me",
    Role.ORGANISATION_MEMBER: "directory.my_organisation",
    Role.PRACTICE_USER: "referrals.practice_referrals",
    Role.COMMISSIONER: "dashboard.overview",
}


def roles_required(*roles: Role) -> Callable:
    """Let only logged-in users with one of these roles through; others get login or 403."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed
        return wrapped

    return decorator


def login_required_any_role(view: Callable) -> Callable:
    return roles_required(*ALL_ROLES)(view)
