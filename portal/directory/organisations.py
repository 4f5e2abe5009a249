"""Voluntary organisations: registering, the numbers they give, and the hub verifying them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, url_for

from portal.alerts.models import AlertKind
from portal.alerts.service import notify_coordinators
from portal.auth.models import Role, User
from portal.auth.service import INVITE, find_user_by_email, make_token, normalise_email
from portal.db_types import utcnow
from portal.directory.models import Organisation
from portal.extensions import db
from portal.mail import send_email
from portal.referrals.intake import normalise_postcode

# England and Wales: 6 or 7 digits; Scotland: SC and 6 digits; Northern Ireland: NIC and 6.
_CHARITY_NUMBER = re.compile(r"^(\d{6,7}|SC\d{6}|NIC\d{6})$")
# Companies House: 8 characters, either 8 digits or a 2-letter prefix (SC, NI, OC…) and 6.
_COMPANY_NUMBER = re.compile(r"^(\d{8}|[A-Z]{2}\d{6})$")


# An http(s) address made only of the characters a URI may hold (RFC 3986): what the
# Open Referral UK schema accepts as a "uri". Other characters must be %-encoded.
_WEB_ADDRESS = re.compile(
    r"^https?://[A-Za-z0-9\-._~]+(:\d+)?([/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?$"
)


def is_web_address(value: str | None) -> bool:
    return bool(value) and _WEB_ADDRESS.match(value) is not None


def normalise_charity_number(text: str | None) -> str | None:
    """`sc 012345` → `SC012345`; None if it is not the shape of a UK charity number."""
    compact = re.sub(r"[\s-]+", "", (text or "").upper())
    return compact if _CHARITY_NUMBER.match(compact) else None


def normalise_company_number(text: str | None) -> str | None:
    """`1234567` → `01234567` (Companies House pads with zeros); None if not that shape."""
    compact = re.sub(r"\s+", "", (text or "").upper())
    if compact.isdigit() and 1 <= len(compact) < 8:
        compact = compact.zfill(8)
    return compact if _COMPANY_NUMBER.match(compact) else None


def charity_register(number: str) -> str:
    """Which register a charity number belongs to, as an org-id.guide scheme."""
    if number.startswith("SC"):
        return "GB-SC"
    if number.startswith("NIC"):
        return "GB-NIC"
    return "GB-CHC"


@dataclass
class Registration:
    name: str
    charity_number: str | None
    company_number: str | None
    description: str
    email: str
    phone: str | None
    website: str | None
    address: str
    postcode: str
    contact_name: str
    contact_email: str


def register(registration: Registration) -> Organisation | None:
    """Save the organisation, unverified, with a login for the person who registered it.

    None when the person's email already has an account: nothing is saved and the owner
    of that address is told by email, so the form never reveals who has an account.
    """
    if find_user_by_email(registration.contact_email) is not None:
        _tell_existing(registration)
        return None
    organisation = Organisation(
        name=registration.name,
        charity_number=normalise_charity_number(registration.charity_number),
        company_number=normalise_company_number(registration.company_number),
        description=registration.description,
        email=normalise_email(registration.email),
        phone=registration.phone,
        website=registration.website,
        address=registration.address,
        postcode=normalise_postcode(registration.postcode),
        contact_name=registration.contact_name,
    )
    member = User(
        email=normalise_email(registration.contact_email),
        full_name=registration.contact_name,
        role=Role.ORGANISATION_MEMBER,
        organisation=organisation,
    )
    db.session.add_all([organisation, member])
    db.session.flush()
    notify_coordinators(
        None,
        AlertKind.ORGANISATION_REGISTERED,
        f"{organisation.name} registered and is waiting to be verified.",
    )
    return organisation


def members(organisation: Organisation) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organisation_id == organisation.id, User.is_active.is_(True))
            .order_by(User.full_name)
        )
    )


def recipients(organisation: Organisation) -> list[str]:
    """Everyone who should hear about the organisation's listings: members, then its inbox."""
    addresses = [user.email for user in members(organisation)]
    if organisation.email and organisation.email not in addresses:
        addresses.append(organisation.email)
    return addresses


def send_welcome(organisation: Organisation) -> None:
    member = members(organisation)[0]
    hub = current_app.config["HUB_NAME"]
    hours = current_app.config["INVITE_VALID_HOURS"]
    link = url_for("auth.accept_invite", token=make_token(member, INVITE), _external=True)
    send_email(
        member.email,
        f"{organisation.name} is registered with {hub}",
        f"Hello {member.full_name},\n\nThank you for registering {organisation.name} with "
        f"{hub}. We will check your details and let you know when your organisation is "
        "verified, usually within 5 working days. You can add activities now; they appear "
        "in the public directory once you are verified and you publish them.\n\n"
        f"Choose a password within {hours} hours using this link:\n{link}\n\n"
        "If you did not register, you can ignore this email.",
    )


def _tell_existing(registration: Registration) -> None:
    hub = current_app.config["HUB_NAME"]
    send_email(
        normalise_email(registration.contact_email),
        f"You already have an account with {hub}",
        f"Hello,\n\nSomeone (probably you) tried to register {registration.name} with {hub} "
        "using this email address, which already has an account, so nothing was saved.\n\n"
        "If you want to list another organisation, use a different email address, or call "
        f"us on {current_app.config['HUB_PHONE']}.\n\n"
        f"Log in here: {url_for('auth.login', _external=True)}",
    )


def verify(organisation: Organisation, by: User) -> None:
    organisation.verified_at = utcnow()
    organisation.verified_by_id = by.id


def send_verified(organisation: Organisation) -> None:
    hub = current_app.config["HUB_NAME"]
    link = url_for("directory.my_organisation", _external=True)
    for address in recipients(organisation):
        send_email(
            address,
            f"{organisation.name} is verified",
            f"Hello,\n\n{hub} has verified {organisation.name}. Your published activities "
            f"now appear in the public directory.\n\nManage your activities here:\n{link}",
        )
