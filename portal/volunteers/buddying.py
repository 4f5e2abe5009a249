"""Buddy matches: a navigator proposes, the volunteer accepts or declines, and it ends.

Only a compliant volunteer with room for another person can be proposed, and the
refusal says why. The caller audits and commits.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import joinedload

from portal.alerts.models import AlertKind
from portal.alerts.service import notify
from portal.auth.models import User
from portal.db_types import utcnow
from portal.extensions import db
from portal.mail import MailError, send_email
from portal.referrals.models import Referral, ReferralStatus
from portal.referrals.workflow import TransitionRefused, refuse_if_consent_withdrawn
from portal.volunteers.compliance import buddy_role, compliance
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    TrainingModule,
    Volunteer,
)

M = BuddyMatchStatus
CURRENT = (M.PROPOSED, M.ACTIVE)
# A buddy can be proposed only while a navigator is working the case.
CASE_STATUSES = (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE)
REASON_LIMIT = 200


def active_modules() -> list[TrainingModule]:
    return list(db.session.scalars(sa.select(TrainingModule).where(TrainingModule.is_active)))


def current_count(volunteer_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BuddyMatch)
        .where(BuddyMatch.volunteer_id == volunteer_id, BuddyMatch.status.in_(CURRENT))
    )


def current_counts() -> dict[int, int]:
    """Every volunteer's number of people proposed or being buddied, by volunteer id."""
    return dict(
        db.session.execute(
            sa.select(BuddyMatch.volunteer_id, sa.func.count())
            .where(BuddyMatch.status.in_(CURRENT))
            .group_by(BuddyMatch.volunteer_id)
        ).all()
    )


def current_matches(volunteer: Volunteer) -> list[BuddyMatch]:
    return list(
        db.session.scalars(
            sa.select(BuddyMatch)
            .options(joinedload(BuddyMatch.referral))
            .where(BuddyMatch.volunteer_id == volunteer.id, BuddyMatch.status.in_(CURRENT))
        )
    )


def why_not_buddy(
    volunteer: Volunteer, modules: list[TrainingModule], today: date, taken: int
) -> list[str]:
    """Every reason this volunteer cannot be proposed as a buddy now; empty if they can."""
    role = buddy_role(volunteer)
    if role is None:
        return ["They are not a buddy or telephone befriender"]
    reasons = list(compliance(volunteer, modules, today, roles=[role]).reasons)
    if taken >= volunteer.max_buddies:
        reasons.append(f"They already have {taken} of {volunteer.max_buddies} people")
    return reasons


def propose(referral: Referral, volunteer: Volunteer, proposer: User, today: date) -> BuddyMatch:
    if referral.status not in CASE_STATUSES:
        raise TransitionRefused("A buddy can only be proposed for a case being worked")
    refuse_if_consent_withdrawn(referral, "a buddy match")
    already = db.session.scalar(
        sa.select(BuddyMatch.id).where(
            BuddyMatch.referral_id == referral.id,
            BuddyMatch.volunteer_id == volunteer.id,
            BuddyMatch.status.in_(CURRENT),
        )
    )
    if already is not None:
        raise TransitionRefused(
            f"{volunteer.user.full_name} is already proposed or buddying this person",
            "volunteer_id",
        )
    reasons = why_not_buddy(volunteer, active_modules(), today, current_count(volunteer.id))
    if reasons:
        raise TransitionRefused(
            f"{volunteer.user.full_name} cannot be proposed: " + "; ".join(reasons),
            "volunteer_id",
        )
    match = BuddyMatch(
        referral_id=referral.id,
        referral=referral,
        volunteer=volunteer,
        proposed_by_id=proposer.id,
        status=M.PROPOSED,
    )
    db.session.add(match)
    return match


def tell_volunteer_of_proposal(volunteer: Volunteer) -> bool:
    """An email saying there is something to answer; no detail of the person leaves the portal."""
    hub = current_app.config["HUB_NAME"]
    try:
        send_email(
            volunteer.user.email,
            "Someone would like you as their buddy",
            f"Hello {volunteer.user.full_name},\n\nA navigator at {hub} has asked whether you "
            "could be a buddy for someone. Log in to read about them and say yes or no:\n"
            f"{url_for('volunteers.me', _external=True)}\n\n"
            f"If you have any questions, call the hub on {current_app.config['HUB_PHONE']}.",
        )
    except MailError:
        # The proposal stands: the volunteer sees it on their page next time they log in.
        return False
    return True


def _mine(match: BuddyMatch, volunteer: Volunteer) -> None:
    if match.volunteer_id != volunteer.id:
        raise TransitionRefused("This is not your match")


def accept(match: BuddyMatch, volunteer: Volunteer, today: date) -> None:
    _mine(match, volunteer)
    if match.status != M.PROPOSED:
        raise TransitionRefused("This proposal has already been answered or withdrawn")
    active = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BuddyMatch)
        .where(BuddyMatch.volunteer_id == volunteer.id, BuddyMatch.status == M.ACTIVE)
    )
    reasons = why_not_buddy(volunteer, active_modules(), today, active)
    if reasons:
        raise TransitionRefused(
            "You cannot take this on at the moment ("
            + "; ".join(reasons)
            + f"). Please call the hub on {current_app.config['HUB_PHONE']}."
        )
    match.status = M.ACTIVE
    match.responded_at = utcnow()
    _tell_navigator(match, f"{volunteer.user.full_name} agreed to buddy")


def decline(match: BuddyMatch, volunteer: Volunteer, reason: str | None) -> None:
    _mine(match, volunteer)
    if match.status != M.PROPOSED:
        raise TransitionRefused("This proposal has already been answered or withdrawn")
    match.status = M.DECLINED
    match.responded_at = utcnow()
    match.decline_reason = reason
    said = f": {reason}" if reason else ""
    _tell_navigator(
        match, f"{volunteer.user.full_name} cannot buddy{said}. Please propose someone else for"
    )


def end(match: BuddyMatch, by: User | None, reason: str | None) -> None:
    """End an active match, or withdraw one still proposed."""
    if match.status not in CURRENT:
        raise TransitionRefused("This match has already ended")
    if not reason:
        raise TransitionRefused("Say why the match is ending", "reason")
    match.status = M.ENDED
    match.ended_at = utcnow()
    match.ended_by_id = by.id if by else None
    match.end_reason = reason[:REASON_LIMIT]


def end_all(volunteer: Volunteer, by: User | None, reason: str) -> None:
    for match in current_matches(volunteer):
        end(match, by, reason)


def end_for_case(referral: Referral, by: User | None) -> None:
    """A closed case needs no buddy: every current match ends with it."""
    matches = db.session.scalars(
        sa.select(BuddyMatch).where(
            BuddyMatch.referral_id == referral.id, BuddyMatch.status.in_(CURRENT)
        )
    )
    for match in matches:
        end(match, by, "The person's support has ended")


def _tell_navigator(match: BuddyMatch, what: str) -> None:
    referral = match.referral
    if referral.navigator_id is not None:
        notify(
            referral.navigator_id,
            referral,
            AlertKind.BUDDY_RESPONSE,
            f"{what} {referral.resident.given_name} ({referral.reference}).",
        )
