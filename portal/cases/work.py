"""The rules of case work: contacts, goals, wellbeing measures and closing a case.

Like the referral workflow, each function checks its rule, changes the records,
and raises TransitionRefused (with the form field it belongs to) when the rule
says no, having changed nothing. The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.alerts.models import AlertKind
from portal.alerts.service import notify_coordinators
from portal.auth.models import Role
from portal.cases.models import (
    MAX_CONTACT_MINUTES,
    Contact,
    ContactMethod,
    ContactResult,
    Goal,
    GoalStatus,
)
from portal.db_types import utcnow
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals import workflow
from portal.referrals.models import ClosureReason, Referral, ReferralAction, ReferralStatus
from portal.referrals.queue import referral_with_people
from portal.referrals.workflow import Actor, TransitionRefused
from portal.volunteers import buddying

S = ReferralStatus
LONDON = ZoneInfo("Europe/London")
CASE_STATUSES = (S.ASSIGNED, S.ACTIVE)

# The outcomes a navigator closes a case with, in the order the form offers them.
CASE_OUTCOMES = (
    ClosureReason.GOALS_MET,
    ClosureReason.CONNECTED,
    ClosureReason.REFERRED_ON,
    ClosureReason.DECLINED,
    ClosureReason.MOVED_AWAY,
    ClosureReason.DIED,
    ClosureReason.UNABLE_TO_CONTACT,
)
# Outcomes where nobody can ask the person the closing questions.
NO_CLOSING_MEASURES = (
    ClosureReason.MOVED_AWAY,
    ClosureReason.DIED,
    ClosureReason.UNABLE_TO_CONTACT,
)


def may_work_on(user, referral: Referral) -> bool:
    """The case's own navigator, or the hub's staff."""
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return True
    return user.role == Role.NAVIGATOR and referral.navigator_id == user.id


def case_or_404(referral_id: int) -> Referral:
    """The case, or 404 for anyone who may not work on it: a navigator learns nothing of others'."""
    referral = referral_with_people(referral_id)
    if referral is None or not may_work_on(current_user, referral):
        abort(404)
    return referral


def case_access_or_404(referral_id: int) -> None:
    """The check case_or_404 makes, from the one column it needs. For the pages that must
    refuse before they write their audit row, and read the case in full only after the
    commit that writes it, rather than reading it in full twice."""
    row = db.session.execute(
        sa.select(Referral.navigator_id).where(Referral.id == referral_id)
    ).first()
    if row is None or not may_work_on(current_user, row):
        abort(404)


def overdue_days() -> int:
    return current_app.config["CASE_CONTACT_OVERDUE_DAYS"]


def is_overdue(last_success: datetime | None, assigned_at: datetime | None) -> bool:
    """No successful contact for longer than the limit (counted from assignment if never)."""
    since = last_success or assigned_at
    return since is not None and utcnow() - since > timedelta(days=overdue_days())


# --- contacts ------------------------------------------------------------------------------


@dataclass
class ContactDetails:
    occurred_at: datetime
    method: ContactMethod
    result: ContactResult
    duration_minutes: int | None = None
    notes: str | None = None
    concern_raised: bool = False
    safeguarding_note: str | None = None


def _check_contact(referral: Referral, details: ContactDetails) -> None:
    if details.occurred_at > utcnow() + timedelta(minutes=1):
        raise TransitionRefused("The time of the contact must be in the past", "occurred_at")
    if details.occurred_at < referral.received_at.replace(second=0, microsecond=0):
        raise TransitionRefused(
            f"The contact cannot be before the referral was received "
            f"({referral.received_at.astimezone(LONDON):%d/%m/%Y})",
            "occurred_at",
        )
    minutes = details.duration_minutes
    if minutes is not None and not 0 <= minutes <= MAX_CONTACT_MINUTES:
        raise TransitionRefused(
            "How long it took must be between 0 minutes and 12 hours", "duration_minutes"
        )
    if details.concern_raised and not (details.safeguarding_note or "").strip():
        raise TransitionRefused(
            "Describe the concern so the coordinator can act on it", "safeguarding_note"
        )


def _raise_concern(referral: Referral, actor: Actor) -> None:
    notify_coordinators(
        referral,
        AlertKind.CONCERN_RAISED,
        f"Safeguarding concern on {referral.reference} ({referral.resident.full_name}), "
        f"raised by {actor.label}. Read it on the case and act today.",
    )


def log_contact(
    referral: Referral,
    actor: Actor,
    details: ContactDetails,
    next_contact_on: date | None = None,
) -> Contact:
    """A contact, or an attempt, on an assigned case. The first success starts support."""
    if referral.status not in CASE_STATUSES:
        workflow._require_open(referral)
        raise TransitionRefused(
            "Contacts are logged on the case once a navigator is assigned. "
            "Until then, record attempts on the triage page."
        )
    _check_contact(referral, details)
    if next_contact_on is not None and next_contact_on < date.today():
        raise TransitionRefused("The next contact date must be today or later", "next_contact_on")
    contact = Contact(
        referral_id=referral.id,
        author_id=actor.user.id,
        occurred_at=details.occurred_at,
        method=details.method,
        result=details.result,
        successful=details.result.successful,
        duration_minutes=details.duration_minutes,
        notes=details.notes,
        concern_raised=details.concern_raised,
        safeguarding_note=details.safeguarding_note if details.concern_raised else None,
    )
    db.session.add(contact)
    if contact.successful:
        if referral.first_contact_at is None or contact.occurred_at < referral.first_contact_at:
            referral.first_contact_at = contact.occurred_at
        if referral.status == S.ASSIGNED:
            workflow.activate(referral, actor)
    if next_contact_on is not None:
        referral.next_contact_on = next_contact_on
    elif contact.successful:
        # Without a plan, the next contact is due before the case would be overdue.
        referral.next_contact_on = max(
            date.today(), details.occurred_at.date() + timedelta(days=overdue_days())
        )
    if details.concern_raised:
        _raise_concern(referral, actor)
    return contact


def edit_window() -> timedelta:
    return timedelta(hours=current_app.config["CONTACT_EDIT_HOURS"])


def editable_by(contact: Contact, user) -> bool:
    """Only the author, and only while the record is fresh."""
    return contact.author_id == user.id and utcnow() - contact.created_at <= edit_window()


CONTACT_LABELS = {
    "occurred_at": "When",
    "method": "How",
    "result": "What happened",
    "duration_minutes": "Minutes",
    "notes": "Notes",
    "concern_raised": "Concern raised",
    "safeguarding_note": "Safeguarding note",
}


def _shown(value):
    if hasattr(value, "label"):
        return value.label
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return value


def edit_contact(
    contact: Contact, actor: Actor, details: ContactDetails, version: int | None
) -> dict[str, list]:
    """Correct a contact; the before and after go into the case history."""
    referral = contact.referral
    workflow._require_open(referral)
    if contact.author_id != actor.user.id:
        raise TransitionRefused("Only the person who logged a contact can change it")
    if utcnow() - contact.created_at > edit_window():
        hours = current_app.config["CONTACT_EDIT_HOURS"]
        raise TransitionRefused(
            f"A contact can only be changed in the {hours} hours after it was logged. "
            "Log a new contact to add to it."
        )
    if version is not None and version != contact.version:
        raise TransitionRefused(
            "This contact was changed since you opened it (perhaps in another tab). "
            "Check it, then make your change again.",
            "version",
        )
    _check_contact(referral, details)
    new = {
        "occurred_at": details.occurred_at,
        "method": details.method,
        "result": details.result,
        "duration_minutes": details.duration_minutes,
        "notes": details.notes,
        "concern_raised": details.concern_raised,
        "safeguarding_note": details.safeguarding_note if details.concern_raised else None,
    }
    changes = {}
    for name, value in new.items():
        before = getattr(contact, name)
        if before != value:
            changes[CONTACT_LABELS[name]] = [_shown(before), _shown(value)]
    if not changes:
        return {}
    newly_concerned = details.concern_raised and not contact.concern_raised
    for name, value in new.items():
        setattr(contact, name, value)
    contact.successful = details.result.successful
    if contact.successful and referral.status == S.ASSIGNED:
        workflow.activate(referral, actor)
    # The first contact is the earliest successful one, whichever record was corrected.
    db.session.flush()
    referral.first_contact_at = db.session.scalar(
        sa.select(sa.func.min(Contact.occurred_at)).where(
            Contact.referral_id == referral.id, Contact.successful.is_(True)
        )
    )
    when = contact.occurred_at.strftime("%d/%m/%Y %H:%M")
    workflow._event(
        referral,
        ReferralAction.CONTACT_EDITED,
        actor,
        note=f"Contact of {when} UTC ({contact.method.label})",
        changes=changes,
    )
    if newly_concerned:
        _raise_concern(referral, actor)
    return changes


# --- what matters to me ---------------------------------------------------------------------


def add_goal(referral: Referral, actor: Actor, description: str, set_on: date | None = None):
    workflow._require_open(referral)
    text = (description or "").strip()
    if not text:
        raise TransitionRefused("Write the goal in the person's own words", "description")
    set_on = set_on or date.today()
    if set_on > date.today():
        raise TransitionRefused("The date the goal was set cannot be in the future", "set_on")
    goal = Goal(
        referral_id=referral.id, description=text, set_on=set_on, created_by_id=actor.user.id
    )
    db.session.add(goal)
    return goal


def change_goal(goal: Goal, actor: Actor, status: GoalStatus, on: date | None = None) -> None:
    """Achieved or no longer relevant (with the date), or open again."""
    referral = goal.referral
    workflow._require_open(referral)
    if status == goal.status:
        raise TransitionRefused(f"This goal is already {status.label.lower()}", "status")
    on = on or date.today()
    if on > date.today():
        raise TransitionRefused("The date cannot be in the future", "on")
    if on < goal.set_on:
        raise TransitionRefused("The date cannot be before the goal was set", "on")
    before = goal.status
    goal.status = status
    goal.closed_on = None if status == GoalStatus.OPEN else on
    workflow._event(
        referral,
        ReferralAction.GOAL_CHANGED,
        actor,
        note=f"“{goal.description}”: {before.label.lower()} → {status.label.lower()}"
        + (f" on {on:%d/%m/%Y}" if status != GoalStatus.OPEN else ""),
    )


# --- wellbeing measures ---------------------------------------------------------------------


def last_reopened_at(referral: Referral) -> datetime | None:
    """Closing measures taken before a case was reopened belong to the earlier closure."""
    times = [e.at for e in referral.events if e.action == ReferralAction.REOPENED]
    return max(times) if times else None


def responses(referral_id: int) -> list[MeasureResponse]:
    """Oldest first, each with who recorded it."""
    return list(
        db.session.scalars(
            sa.select(MeasureResponse)
            .options(joinedload(MeasureResponse.recorded_by))
            .where(MeasureResponse.referral_id == referral_id)
            .order_by(MeasureResponse.recorded_at, MeasureResponse.id)
        )
    )


def record_measure(
    referral: Referral,
    actor: Actor,
    scale: Scale,
    stage: Stage,
    answers: Sequence[object] | None = None,
    declined: bool = False,
) -> MeasureResponse:
    """One scale at one stage: every item answered and in range, or the person declined."""
    workflow._require_open(referral)
    if referral.status not in CASE_STATUSES:
        raise TransitionRefused(
            "Wellbeing measures are recorded once a navigator is supporting the person"
        )
    if stage in (Stage.BASELINE, Stage.CLOSING):
        where = [
            MeasureResponse.referral_id == referral.id,
            MeasureResponse.scale == scale,
            MeasureResponse.stage == stage,
        ]
        reopened = last_reopened_at(referral)
        if stage == Stage.CLOSING and reopened is not None:
            where.append(MeasureResponse.recorded_at > reopened)
        done = db.session.scalar(sa.select(MeasureResponse).where(*where).limit(1))
        if done is not None:
            raise TransitionRefused(
                f"The {stage.label.lower()} {scale.label} was already recorded on "
                f"{done.recorded_at:%d/%m/%Y}. Record a review instead.",
                "stage",
            )
    if declined:
        response = MeasureResponse(
            referral_id=referral.id,
            scale=scale,
            stage=stage,
            declined=True,
            recorded_by_id=actor.user.id,
        )
    else:
        # Raises AnswersRefused: the caller shows each message beside its question.
        valid = scales.validate(scale, answers or [])
        response = MeasureResponse(
            referral_id=referral.id,
            scale=scale,
            stage=stage,
            answers=valid,
            score=scales.score(scale, valid),
            recorded_by_id=actor.user.id,
        )
    db.session.add(response)
    return response


@dataclass
class ScaleProgress:
    """One scale's answers over a case: what the case page charts and puts into words."""

    scale: Scale
    definition: scales.ScaleDefinition
    recorded: list[MeasureResponse]  # answered, oldest first
    declined: list[MeasureResponse]
    baseline: MeasureResponse | None
    latest: MeasureResponse | None
    changes: list[scales.Change]

    @property
    def series(self) -> list[tuple[scales.Result, list[tuple[MeasureResponse, scales.Result]]]]:
        """Per result (one per ONS4 item, one for the others): its value at each recording."""
        per_response = [(r, scales.results(self.scale, r.answers)) for r in self.recorded]
        if not per_response:
            return []
        count = len(per_response[0][1])
        return [
            (per_response[0][1][i], [(r, results[i]) for r, results in per_response])
            for i in range(count)
        ]


def progress(all_responses: list[MeasureResponse]) -> list[ScaleProgress]:
    out = []
    for scale in Scale:
        mine = [r for r in all_responses if r.scale == scale]
        recorded = [r for r in mine if not r.declined]
        baseline = next((r for r in recorded if r.stage == Stage.BASELINE), None)
        later = [r for r in recorded if r is not baseline]
        latest = later[-1] if later else None
        changes = (
            scales.change(scale, baseline.answers, latest.answers) if baseline and latest else []
        )
        out.append(
            ScaleProgress(
                scale=scale,
                definition=scales.definition(scale),
                recorded=recorded,
                declined=[r for r in mine if r.declined],
                baseline=baseline,
                latest=latest,
                changes=changes,
            )
        )
    return out


# --- closing --------------------------------------------------------------------------------


def close_case(
    referral: Referral,
    actor: Actor,
    reason: ClosureReason | None,
    summary: str | None,
    closing_measures_declined: bool = False,
) -> None:
    """Close with an outcome; closing measures are answered first, or the refusal is recorded."""
    workflow._require_open(referral)
    if reason is None:
        raise TransitionRefused("Choose the outcome of the support", "reason")
    if reason not in CASE_OUTCOMES:
        raise TransitionRefused("Choose one of the outcomes listed", "reason")
    if referral.status not in CASE_STATUSES:
        raise TransitionRefused("Close referrals that are still in triage from the triage page")
    # Every rule first: a refusal must leave no declined measures behind.
    workflow.check_close(referral, reason, summary)
    if reason not in NO_CLOSING_MEASURES:
        reopened = last_reopened_at(referral)
        have = {
            r.scale
            for r in responses(referral.id)
            if r.stage == Stage.CLOSING and (reopened is None or r.recorded_at > reopened)
        }
        missing = [s for s in Scale if s not in have]
        if missing and not closing_measures_declined:
            names = ", ".join(s.label for s in missing)
            raise TransitionRefused(
                f"Record the closing wellbeing measures first ({names} still to do), "
                "or tick that the person chose not to answer them",
                "closing_measures_declined",
            )
        for scale in missing:
            record_measure(referral, actor, scale, Stage.CLOSING, declined=True)
    workflow.close(referral, actor, reason, summary)
    buddying.end_for_case(referral, actor.user)
