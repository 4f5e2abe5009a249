"""Deterministic factories for every model; no network, no randomness."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import nhs_number
import sqlalchemy as sa

from portal.auth.models import Role, User
from portal.auth.passwords import hash_password
from portal.cases.models import Contact, ContactMethod, Goal
from portal.db_types import utcnow
from portal.directory.models import Activity, ActivityStatus, Organisation
from portal.extensions import db
from portal.referrals.models import (
    Neighbourhood,
    Practice,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    Resident,
)
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def valid_nhs_number(seed: int) -> str:
    """A valid NHS number in the 999 test range, different for every seed below 100,000.

    The seed fills five digits and the sixth varies until the check digit is valid, so
    two seeds never land on the same number.
    """
    for last in range(10):
        stem = f"999{seed % 100_000:05d}{last}"
        check = nhs_number.calculate_checksum(stem)
        if check is not None and check != 10:
            return stem + str(check)
    raise AssertionError(f"no valid NHS number for seed {seed}")


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def make_neighbourhood(**kw) -> Neighbourhood:
    n = _n()
    return _save(Neighbourhood(**{"name": f"Neighbourhood {n}", **kw}))


def make_practice(neighbourhood: Neighbourhood | None = None, **kw) -> Practice:
    n = _n()
    neighbourhood = neighbourhood or make_neighbourhood()
    return _save(
        Practice(
            **{
                "ods_code": f"Y{n:05d}",
                "name": f"Practice {n}",
                "neighbourhood_id": neighbourhood.id,
                "list_size": 8000,
                **kw,
            }
        )
    )


def make_organisation(verified: bool = True, **kw) -> Organisation:
    n = _n()
    return _save(
        Organisation(
            **{"name": f"Organisation {n}", "verified_at": utcnow() if verified else None, **kw}
        )
    )


def make_user(role: Role = Role.NAVIGATOR, password: str | None = PASSWORD, **kw) -> User:
    n = _n()
    if role == Role.PRACTICE_USER and "practice_id" not in kw:
        kw["practice_id"] = make_practice().id
    if role == Role.ORGANISATION_MEMBER and "organisation_id" not in kw:
        kw["organisation_id"] = make_organisation().id
    user = User(
        **{
            "email": f"{role.value}{n}@example.com",
            "full_name": f"{role.label} {n}",
            "role": role,
            "password_hash": hash_password(password) if password else None,
            **kw,
        }
    )
    _save(user)
    if role == Role.VOLUNTEER:
        _save(Volunteer(user_id=user.id, status=VolunteerStatus.ACTIVE, role_buddy=True))
    return user


def make_resident(**kw) -> Resident:
    n = _n()
    return _save(
        Resident(
            **{
                "nhs_number": valid_nhs_number(n),
                "given_name": f"Given{n}",
                "family_name": f"Family{n}",
                "date_of_birth": date(1950, 1, 1),
                "postcode": "CV1 1AA",
                **kw,
            }
        )
    )


def make_referral(
    resident: Resident | None = None,
    practice: Practice | None = None,
    reasons=(ReferralReason.LONELINESS,),
    **kw,
) -> Referral:
    n = _n()
    resident = resident or make_resident()
    if "source" not in kw or kw["source"] == ReferralSource.PRACTICE:
        practice = practice or make_practice()
    referral = Referral(
        **{
            "reference": f"T{n:07d}",
            "resident_id": resident.id,
            "source": ReferralSource.PRACTICE,
            "practice_id": practice.id if practice else None,
            "consent_given": True,
            "consent_recorded_by": "Test referrer",
            "consent_recorded_at": utcnow(),
            "status": ReferralStatus.RECEIVED,
            **kw,
        }
    )
    referral.reasons = [ReferralReasonLink(reason=r) for r in reasons]
    return _save(referral)


def make_contact(referral: Referral, author: User, days_ago: int = 1, **kw) -> Contact:
    return _save(
        Contact(
            **{
                "referral_id": referral.id,
                "author_id": author.id,
                "occurred_at": utcnow() - timedelta(days=days_ago),
                "method": ContactMethod.PHONE,
                "duration_minutes": 20,
                "successful": True,
                **kw,
            }
        )
    )


def make_goal(referral: Referral, author: User, **kw) -> Goal:
    return _save(
        Goal(
            **{
                "referral_id": referral.id,
                "description": "Get out of the house",
                "created_by_id": author.id,
                **kw,
            }
        )
    )


def make_activity(organisation: Organisation | None = None, **kw) -> Activity:
    n = _n()
    organisation = organisation or make_organisation()
    return _save(
        Activity(
            **{
                "organisation_id": organisation.id,
                "title": f"Activity {n}",
                "status": ActivityStatus.PUBLISHED,
                **kw,
            }
        )
    )


def make_volunteer(status: VolunteerStatus = VolunteerStatus.ACTIVE, **kw) -> Volunteer:
    """A volunteer with a login. Pass Volunteer fields; `user_kw` goes to the User."""
    user = make_user(Role.VOLUNTEER, **kw.pop("user_kw", {}))
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == user.id))
    volunteer.status = status
    for key, value in kw.items():
        setattr(volunteer, key, value)
    return _save(volunteer)


def make_compliant_volunteer(**kw) -> Volunteer:
    """Active, an enhanced DBS issued last year, and every active mandatory course done.

    Makes an induction course mandatory for buddies if there is none, so "compliant"
    is earned, not assumed.
    """
    modules = db.session.scalars(sa.select(TrainingModule).where(TrainingModule.is_active)).all()
    if not any(m.required_for_buddy for m in modules):
        modules = [*modules, make_training_module(name=f"Induction {_n()}")]
    kw.setdefault("dbs_level", DbsLevel.ENHANCED)
    kw.setdefault("dbs_certificate_number", "001234567890")
    kw.setdefault("dbs_issue_date", date.today() - timedelta(days=365))
    kw.setdefault("referee_1_received_on", date.today() - timedelta(days=400))
    kw.setdefault("referee_2_received_on", date.today() - timedelta(days=400))
    kw.setdefault("joined_on", date.today() - timedelta(days=380))
    kw.setdefault("applied_at", utcnow() - timedelta(days=420))
    volunteer = make_volunteer(**kw)
    for module in modules:
        if module.required_for_buddy or module.required_for_befriender:
            make_training_record(volunteer, module)
    return volunteer


def make_buddy_match(referral: Referral, volunteer: Volunteer, proposer: User, **kw) -> BuddyMatch:
    return _save(
        BuddyMatch(
            **{
                "referral_id": referral.id,
                "volunteer_id": volunteer.id,
                "proposed_by_id": proposer.id,
                "status": BuddyMatchStatus.ACTIVE,
                "responded_at": utcnow() - timedelta(days=20),
                "proposed_at": utcnow() - timedelta(days=21),
                **kw,
            }
        )
    )


def make_training_module(**kw) -> TrainingModule:
    n = _n()
    return _save(
        TrainingModule(
            **{"name": f"Module {n}", "valid_for_months": 12, "required_for_buddy": True, **kw}
        )
    )


def make_training_record(volunteer: Volunteer, module: TrainingModule, **kw) -> TrainingRecord:
    return _save(
        TrainingRecord(
            **{
                "volunteer_id": volunteer.id,
                "module_id": module.id,
                "completed_on": date.today() - timedelta(days=30),
                **kw,
            }
        )
    )
