"""The public volunteer application: an account in "applied" status and a confirmation email."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for

from portal.auth.models import Role, User
from portal.auth.service import INVITE, find_user_by_email, make_token, normalise_email
from portal.db_types import utcnow
from portal.extensions import db
from portal.mail import send_email
from portal.referrals.intake import normalise_postcode
from portal.volunteers.models import Volunteer, VolunteerRole, VolunteerStatus


@dataclass
class Application:
    full_name: str
    email: str
    phone: str
    postcode: str
    roles: list[VolunteerRole]
    languages: list[str]
    interests: list[str]
    availability: list[str]
    transport: str
    referees: tuple[tuple[str, str], tuple[str, str]]
    motivation: str


def apply(application: Application) -> Volunteer | None:
    """Save the application and its account; None if the email already has an account.

    A second application with the same email saves nothing and tells the owner of the
    address by email, so the form never reveals who already has an account.
    """
    existing = find_user_by_email(application.email)
    if existing is not None:
        _tell_existing(existing)
        return None
    user = User(
        email=normalise_email(application.email),
        full_name=application.full_name,
        role=Role.VOLUNTEER,
        phone=application.phone,
    )
    (r1_name, r1_contact), (r2_name, r2_contact) = application.referees
    volunteer = Volunteer(
        user=user,
        status=VolunteerStatus.APPLIED,
        role_buddy=VolunteerRole.BUDDY in application.roles,
        role_navigator=VolunteerRole.NAVIGATOR in application.roles,
        role_befriender=VolunteerRole.BEFRIENDER in application.roles,
        postcode=normalise_postcode(application.postcode),
        languages=application.languages,
        interests=application.interests,
        availability=application.availability,
        transport=application.transport,
        motivation=application.motivation,
        referee_1_name=r1_name,
        referee_1_contact=r1_contact,
        referee_2_name=r2_name,
        referee_2_contact=r2_contact,
        privacy_consent_at=utcnow(),
        status_changed_at=utcnow(),
    )
    db.session.add_all([user, volunteer])
    db.session.flush()
    return volunteer


def send_confirmation(volunteer: Volunteer) -> None:
    user = volunteer.user
    hub = current_app.config["HUB_NAME"]
    hours = current_app.config["INVITE_VALID_HOURS"]
    link = url_for("auth.accept_invite", token=make_token(user, INVITE), _external=True)
    send_email(
        user.email,
        f"Thank you for applying to volunteer with {hub}",
        f"Hello {user.full_name},\n\nThank you for applying to volunteer with {hub}. "
        "We have your application.\n\nWhat happens next:\n"
        "1. We contact your two referees.\n"
        "2. We invite you for a friendly chat and, for buddies and volunteer navigators, "
        "a DBS check.\n"
        "3. You take part in our training.\n\n"
        f"You can follow your application and keep your details up to date in the portal. "
        f"Choose a password within {hours} hours using this link:\n{link}\n\n"
        f"If you have any questions, call us on {current_app.config['HUB_PHONE']}.\n\n"
        "If you did not apply, you can ignore this email and nothing more will happen.",
    )


def _tell_existing(user: User) -> None:
    hub = current_app.config["HUB_NAME"]
    if user.password_hash is None and user.is_active:
        how = "Choose a password with this link:\n" + url_for(
            "auth.accept_invite", token=make_token(user, INVITE), _external=True
        )
    else:
        how = "Log in here, or reset your password if you have forgotten it:\n" + url_for(
            "auth.login", _external=True
        )
    send_email(
        user.email,
        f"You already have an account with {hub}",
        f"Hello {user.full_name},\n\nSomeone (probably you) tried to apply to volunteer with "
        f"{hub} using this email address, which already has an account, so nothing new was "
        f"saved.\n\n{how}\n\nIf it was not you, you can ignore this email.",
    )
