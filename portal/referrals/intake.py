"""Taking in a referral: checking NHS numbers and postcodes, finding the person, saving it all."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date

import nhs_number as nhs_number_lib
import sqlalchemy as sa

from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals import workflow
from portal.referrals.models import (
    PreferredContact,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    Resident,
    Urgency,
)

_NHS_SEPARATORS = re.compile(r"[\s-]+")


def nhs_number_problem(text: str) -> str | None:
    """Why `text` is not an NHS number, in words for the person typing it; None if it is one."""
    digits = _NHS_SEPARATORS.sub("", text or "")
    if not digits.isascii() or not digits.isdigit():
        return "NHS number must only include numbers, spaces and dashes"
    if len(digits) != 10:
        return "NHS number must be 10 digits"
    if not nhs_number_lib.is_valid(digits):
        return "Enter a valid NHS number. Check it against a letter or the NHS App"
    return None


def normalise_nhs_number(text: str) -> str:
    """The 10 digits of a valid NHS number typed with spaces or dashes."""
    digits = _NHS_SEPARATORS.sub("", text)
    if nhs_number_problem(digits):
        raise ValueError("not a valid NHS number")
    return digits


# UK postcode shapes (A9 9AA, A99 9AA, A9A 9AA, AA9 9AA, AA99 9AA, AA9A 9AA) and GIR 0AA.
_POSTCODE = re.compile(
    r"^(?:(?P<out>[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"(?P<in>[0-9][ABD-HJLNP-UW-Z]{2})|(?P<gir>GIR0AA))$"
)


def normalise_postcode(text: str) -> str | None:
    """`cv1 2ab` → `CV1 2AB`; None if it is not the shape of a UK postcode."""
    compact = re.sub(r"\s+", "", (text or "").upper())
    match = _POSTCODE.match(compact)
    if not match:
        return None
    if match["gir"]:
        return "GIR 0AA"
    return f"{match['out']} {match['in']}"


# No 0/O or 1/I/L: references are read out over the phone.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    while True:
        code = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
        reference = f"SP-{code}"
        if not db.session.scalar(sa.select(Referral.id).where(Referral.reference == reference)):
            return reference


@dataclass
class PersonDetails:
    given_name: str
    family_name: str
    date_of_birth: date | None = None
    nhs_number: str | None = None
    address: str | None = None
    postcode: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_contact: PreferredContact = PreferredContact.PHONE
    language: str = "English"
    interpreter_needed: bool = False
    accessibility_needs: str | None = None
    practice_id: int | None = None


@dataclass
class ReferralDetails:
    source: ReferralSource
    reasons: list[ReferralReason]
    consent_given: bool
    consent_recorded_by: str
    details: str | None = None
    known_risks: str | None = None
    urgency: Urgency = Urgency.ROUTINE
    referrer_name: str | None = None
    referrer_role: str | None = None
    consent_share_with_gp: bool = True
    practice_id: int | None = None
    extra_notes: list[str] = field(default_factory=list)


PERSON_FIELDS = (
    "address",
    "postcode",
    "phone",
    "email",
    "preferred_contact",
    "language",
    "interpreter_needed",
    "accessibility_needs",
    "practice_id",
)


# How the person likes to be contacted is theirs to say; where to reach them is checked first.
OWN_PREFERENCES = ("preferred_contact", "language", "interpreter_needed", "accessibility_needs")
CONTACT_DETAILS = {
    "address": "address",
    "postcode": "postcode",
    "phone": "phone number",
    "email": "email address",
    "practice_id": "GP practice",
}


def _take_self_reported(resident: Resident, person: PersonDetails) -> list[str]:
    """A known person's own answers: preferences taken, gaps filled, differences flagged."""
    notes = []
    for name in OWN_PREFERENCES:
        value = getattr(person, name)
        if value not in (None, ""):
            setattr(resident, name, value)
    for name, words in CONTACT_DETAILS.items():
        value = getattr(person, name)
        if value in (None, ""):
            continue
        held = getattr(resident, name)
        if held in (None, ""):
            setattr(resident, name, value)
        elif held != value:
            shown = "a different practice" if name == "practice_id" else value
            notes.append(
                f"The self-referral form gave {shown} as their {words}, which differs from "
                "the one held. Check with the person before changing it."
            )
    return notes


def _find_resident(person: PersonDetails) -> Resident | None:
    if not person.nhs_number:
        return None
    return db.session.scalar(sa.select(Resident).where(Resident.nhs_number == person.nhs_number))


def _same_person(resident: Resident, person: PersonDetails) -> bool:
    return (
        resident.family_name.casefold() == person.family_name.casefold()
        and resident.date_of_birth == person.date_of_birth
    )


def submit(
    person: PersonDetails, referral_details: ReferralDetails, actor: workflow.Actor
) -> Referral:
    """Save a new referral, reusing the resident when the NHS number is already known.

    A practice or the hub is trusted to update the person's details. A self-referral is
    matched only when the name and date of birth also match (otherwise the person is added
    without the NHS number and the hub is told to check it); it sets the person's own
    preferences, fills gaps, and flags contact details that differ for the hub to check.
    """
    if not referral_details.consent_given:
        raise workflow.TransitionRefused("A referral needs the person's consent", "consent")
    notes = list(referral_details.extra_notes)
    resident = _find_resident(person)
    trusted = referral_details.source != ReferralSource.SELF
    if resident is not None and not trusted and not _same_person(resident, person):
        notes.append(
            "The NHS number given on the self-referral form did not match the name and "
            "date of birth held for it, so it was not recorded. Check it with the person."
        )
        person.nhs_number = None
        resident = None
    if resident is None:
        resident = Resident(
            nhs_number=person.nhs_number,
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=person.date_of_birth,
            **{name: getattr(person, name) for name in PERSON_FIELDS},
        )
        db.session.add(resident)
    elif trusted:
        for name in PERSON_FIELDS:
            value = getattr(person, name)
            if value not in (None, ""):
                setattr(resident, name, value)
        resident.given_name = person.given_name
        resident.family_name = person.family_name
        if person.date_of_birth is not None:
            resident.date_of_birth = person.date_of_birth
    else:
        notes.extend(_take_self_reported(resident, person))
    db.session.flush()

    now = utcnow()
    referral = Referral(
        reference=new_reference(),
        resident=resident,
        source=referral_details.source,
        practice_id=referral_details.practice_id,
        referred_by_id=actor.user.id if actor.user else None,
        referrer_name=referral_details.referrer_name,
        referrer_role=referral_details.referrer_role,
        details=referral_details.details,
        known_risks=referral_details.known_risks,
        urgency=referral_details.urgency,
        consent_given=True,
        consent_share_with_gp=referral_details.consent_share_with_gp,
        consent_recorded_by=referral_details.consent_recorded_by,
        consent_recorded_at=now,
        received_at=now,
    )
    referral.reasons = [
        ReferralReasonLink(reason=r) for r in dict.fromkeys(referral_details.reasons)
    ]
    db.session.add(referral)
    workflow.receive(referral, actor)
    for note in notes:
        workflow.add_note(referral, note)
    db.session.flush()
    workflow.stamp_versions(referral)
    return referral


def earlier_referrals(referral: Referral) -> list[Referral]:
    return list(
        db.session.scalars(
            sa.select(Referral)
            .where(Referral.resident_id == referral.resident_id, Referral.id != referral.id)
            .order_by(Referral.received_at.desc())
        )
    )
