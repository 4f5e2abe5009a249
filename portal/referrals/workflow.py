"""The referral state machine: every change of status happens here, by a rule, with a record.

    received ─► contacting ─► triaged ─► assigned ─► active ─► closed
        │            │           │          │
        └────────────┴───────────┴──────────┴──────────────────► closed

Each public function checks its rule, moves the referral, and appends a
ReferralEvent saying who did it and when. A refused step raises
TransitionRefused with a message a person can act on, and changes nothing.
Functions add to the session; the caller commits (once, with its audit row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.alerts.models import AlertKind
from portal.alerts.service import notify
from portal.auth.models import Role, User
from portal.cases.models import Contact, ContactMethod, ContactResult
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralStatus,
    Route,
)
from portal.reports.models import ReportEvent
from portal.reports.queue import queue_outcome, withdraw_unsent

S = ReferralStatus

# Where each status may go next. Assigned → assigned is a change of navigator.
NEXT: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.RECEIVED: frozenset({S.CONTACTING, S.TRIAGED, S.CLOSED}),
    S.CONTACTING: frozenset({S.TRIAGED, S.CLOSED}),
    S.TRIAGED: frozenset({S.ASSIGNED, S.CLOSED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.ACTIVE, S.CLOSED}),
    S.ACTIVE: frozenset({S.ACTIVE, S.CLOSED}),
    # Only a coordinator reopening a case with a reason: see reopen().
    S.CLOSED: frozenset({S.ASSIGNED, S.ACTIVE}),
}

# Statuses in which the hub is still trying to reach the person and decide.
TRIAGE_STATUSES = (S.RECEIVED, S.CONTACTING)
SUPPORT_ROUTES = (Route.SOCIAL_NAVIGATION, Route.INT, Route.BOTH)
NAVIGATION_ROUTES = (Route.SOCIAL_NAVIGATION, Route.BOTH)
INT_ROUTES = (Route.INT, Route.BOTH)
# Closures that only make sense once someone has been supporting the person.
CLOSURES_AFTER_SUPPORT = (ClosureReason.GOALS_MET, ClosureReason.CONNECTED)
# Closures the practice will want explained in the outcome report.
NEEDS_SUMMARY = (ClosureReason.NOT_APPROPRIATE, ClosureReason.DECLINED, *CLOSURES_AFTER_SUPPORT)


class TransitionRefused(Exception):
    """A step the rules do not allow; `field` names the form field the message belongs beside."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def refuse_if_consent_withdrawn(referral: Referral, what: str) -> None:
    """Raise for any new sharing about a person who has withdrawn consent to share."""
    if referral.consent_withdrawn:
        raise TransitionRefused(
            f"{referral.resident.full_name} withdrew consent to share their details, "
            f"so {what} cannot be made.",
            None,
        )


@dataclass(frozen=True)
class Actor:
    """Who did something: a signed-in user, or a named channel such as the public form."""

    user: User | None
    label: str

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user, f"{user.full_name} ({user.role.label})")


SELF_REFERRAL_FORM = Actor(None, "The person, using the online self-referral form")
PORTAL = Actor(None, "The portal")


def _event(
    referral: Referral,
    action: ReferralAction,
    actor: Actor,
    *,
    to_status: ReferralStatus | None = None,
    from_status: ReferralStatus | None = None,
    note: str | None = None,
    changes: dict | None = None,
    at: datetime | None = None,
) -> ReferralEvent:
    # Reading the actor's id may reload an expired user; that must not flush a half-made
    # change either (a status without its date), so everything here is under no_autoflush.
    with db.session.no_autoflush:
        event = ReferralEvent(
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor.user.id if actor.user else None,
            actor_label=actor.label,
            at=at or utcnow(),
            note=note,
            changes=changes,
        )
        referral.events.append(event)
    return event


def _move(
    referral: Referral,
    to: ReferralStatus,
    action: ReferralAction,
    actor: Actor,
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> ReferralEvent:
    before = referral.status
    if to not in NEXT[before]:
        raise TransitionRefused(_refusal(before, to))
    referral.status = to
    return _event(referral, action, actor, from_status=before, to_status=to, note=note, at=at)


def _refusal(before: ReferralStatus, to: ReferralStatus) -> str:
    if before == S.CLOSED:
        return "This referral is closed, so it cannot be changed. Make a new referral if needed."
    return (
        f"A referral that is {before.label.lower()} cannot move to "
        f"{to.label.lower()}. Reload the page to see where it has got to."
    )


def _require_open(referral: Referral) -> None:
    if not referral.is_open:
        raise TransitionRefused(_refusal(referral.status, referral.status))


def receive(referral: Referral, actor: Actor) -> ReferralEvent:
    """The first entry in every referral's history."""
    referral.status = S.RECEIVED
    return _event(referral, ReferralAction.RECEIVED, actor, to_status=S.RECEIVED)


# --- contact attempts ---------------------------------------------------------------------


def failed_attempts_since_last_contact(referral: Referral) -> int:
    """Unsuccessful attempts since the person was last reached (or ever, if never reached)."""
    last_success = (
        sa.select(sa.func.max(Contact.occurred_at))
        .where(Contact.referral_id == referral.id, Contact.successful.is_(True))
        .scalar_subquery()
    )
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Contact)
        .where(
            Contact.referral_id == referral.id,
            Contact.successful.is_(False),
            sa.or_(last_success.is_(None), Contact.occurred_at > last_success),
        )
    )


def attempts_needed() -> int:
    return current_app.config["TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT"]


def record_contact_attempt(
    referral: Referral,
    actor: Actor,
    *,
    occurred_at: datetime,
    method: ContactMethod,
    result: ContactResult,
    notes: str | None = None,
) -> Contact:
    """The hub trying to reach the person. The first attempt moves received → contacting."""
    if referral.status not in (*TRIAGE_STATUSES, S.TRIAGED):
        if not referral.is_open:
            _require_open(referral)
        raise TransitionRefused(
            "Contact attempts are recorded here until a navigator is assigned; "
            "after that, the navigator logs contacts on the case."
        )
    if occurred_at > utcnow():
        raise TransitionRefused("The time of the attempt must be in the past", "occurred_at")
    if occurred_at < referral.received_at.replace(second=0, microsecond=0):
        raise TransitionRefused(
            "The attempt cannot be before the referral was received", "occurred_at"
        )
    contact = Contact(
        referral_id=referral.id,
        author_id=actor.user.id,
        occurred_at=occurred_at,
        method=method,
        result=result,
        successful=result.successful,
        notes=notes,
    )
    db.session.add(contact)
    if result.successful and (
        referral.first_contact_at is None or occurred_at < referral.first_contact_at
    ):
        referral.first_contact_at = occurred_at
    note = f"{method.label}: {result.label}"
    if referral.status == S.RECEIVED:
        _move(referral, S.CONTACTING, ReferralAction.CONTACT_ATTEMPT, actor, note=note)
    else:
        _event(referral, ReferralAction.CONTACT_ATTEMPT, actor, note=note)
    return contact


# --- triage -------------------------------------------------------------------------------


def check_navigator(navigator: User, support_level: int | None) -> None:
    if navigator.role != Role.NAVIGATOR or not navigator.is_active:
        raise TransitionRefused("Choose an active navigator", "navigator_id")
    if navigator.is_volunteer_navigator and support_level not in (None, 1):
        raise TransitionRefused(
            "Volunteer navigators support level 1 (preventative) only. "
            "Choose an employed navigator, or level 1.",
            "navigator_id",
        )


def triage(
    referral: Referral,
    actor: Actor,
    *,
    route: Route,
    support_level: int | None = None,
    navigator: User | None = None,
    note: str | None = None,
) -> None:
    """Record the triage decision; route to the INT, assign, or close, as the decision says."""
    if referral.status not in TRIAGE_STATUSES:
        _require_open(referral)
        raise TransitionRefused(
            "This referral has already been triaged. Change the navigator from the case instead."
        )
    if route in SUPPORT_ROUTES:
        if referral.first_contact_at is None:
            raise TransitionRefused(
                "Record a successful contact with the person before deciding their support",
                "route",
            )
        if support_level not in (1, 2, 3):
            raise TransitionRefused("Choose the level of support", "support_level")
    if route == Route.NOT_APPROPRIATE and not (note and note.strip()):
        raise TransitionRefused("Say why the referral is not appropriate", "note")
    if navigator is not None:
        if route not in NAVIGATION_ROUTES:
            raise TransitionRefused(
                f"A navigator is only assigned for {Route.SOCIAL_NAVIGATION.label.lower()}; "
                f"leave the navigator empty for this route",
                "navigator_id",
            )
        check_navigator(navigator, support_level)
    practice = referral.practice or referral.resident.practice
    if route in INT_ROUTES and practice is None:
        raise TransitionRefused(
            "The person's GP practice is not known, so the referral cannot go to an INT. "
            "Add their practice first.",
            "route",
        )

    now = utcnow()
    referral.route = route
    referral.support_level = support_level if route in SUPPORT_ROUTES else None
    referral.triage_note = note
    referral.triaged_at = now
    summary = route.label + (f", level {support_level}" if route in SUPPORT_ROUTES else "")
    if route == Route.SIGNPOST:
        _close(referral, actor, ClosureReason.SIGNPOSTED, note, triage_summary=summary)
        return
    if route == Route.NOT_APPROPRIATE:
        _close(referral, actor, ClosureReason.NOT_APPROPRIATE, note, triage_summary=summary)
        return
    _move(referral, S.TRIAGED, ReferralAction.TRIAGED, actor, note=summary, at=now)
    # The practice hears the person was accepted, with the route, in its next report.
    queue_outcome(referral, ReportEvent.ACCEPTED)
    if route in INT_ROUTES:
        referral.int_neighbourhood_id = practice.neighbourhood_id
        referral.int_sent_at = now
        _event(
            referral,
            ReferralAction.SENT_TO_INT,
            actor,
            note=practice.neighbourhood.name,
            at=now,
        )
    if navigator is not None:
        assign(referral, actor, navigator)


def assign(referral: Referral, actor: Actor, navigator: User) -> None:
    """Give the case to a navigator, or hand it to another one; the history keeps both."""
    _require_open(referral)
    if referral.route not in NAVIGATION_ROUTES:
        raise TransitionRefused(
            "Only referrals routed to social navigation have a navigator", "navigator_id"
        )
    check_navigator(navigator, referral.support_level)
    if navigator.id == referral.navigator_id:
        raise TransitionRefused(f"{navigator.full_name} already has this case", "navigator_id")
    previous = referral.navigator
    note = navigator.full_name + (f" (was {previous.full_name})" if previous else "")
    to = referral.status if referral.status == S.ACTIVE else S.ASSIGNED
    _move(referral, to, ReferralAction.ASSIGNED, actor, note=note)
    referral.navigator = navigator
    referral.navigator_id = navigator.id
    referral.assigned_at = utcnow()
    if to == S.ASSIGNED or referral.next_contact_on is None:
        referral.next_contact_on = date.today() + timedelta(
            days=current_app.config["CASE_FIRST_CONTACT_DAYS"]
        )
    if actor.user is None or actor.user.id != navigator.id:
        handed_over = f", handed over from {previous.full_name}" if previous else ""
        notify(
            navigator.id,
            referral,
            AlertKind.CASE_ASSIGNED,
            f"{referral.reference} ({referral.resident.full_name}) is now on your caseload"
            f"{handed_over}. Assigned by {actor.label}.",
        )


def activate(referral: Referral, actor: Actor) -> None:
    """Support has started: the navigator has reached the person."""
    if referral.status != S.ASSIGNED:
        raise TransitionRefused(_refusal(referral.status, S.ACTIVE))
    _move(referral, S.ACTIVE, ReferralAction.ACTIVATED, actor)


# --- closure ------------------------------------------------------------------------------


def close(
    referral: Referral, actor: Actor, reason: ClosureReason, summary: str | None = None
) -> None:
    """End the referral, with the reason the GP report will carry."""
    check_close(referral, reason, summary)
    _close(referral, actor, reason, summary)


def check_close(referral: Referral, reason: ClosureReason, summary: str | None) -> None:
    """The rules for closing, on their own: callers with more to record check first."""
    _require_open(referral)
    if reason == ClosureReason.UNABLE_TO_CONTACT:
        needed = attempts_needed()
        made = failed_attempts_since_last_contact(referral)
        if made < needed:
            raise TransitionRefused(
                f"Make {needed} attempts to reach the person before closing as unable to "
                f"contact ({made} recorded since they were last reached)",
                "reason",
            )
    if reason in CLOSURES_AFTER_SUPPORT and referral.status not in (S.ASSIGNED, S.ACTIVE):
        raise TransitionRefused(
            f"“{reason.label}” is for people a navigator has supported", "reason"
        )
    if reason in NEEDS_SUMMARY and not (summary and summary.strip()):
        raise TransitionRefused("Write a short summary for the GP report", "summary")


def _close(
    referral: Referral,
    actor: Actor,
    reason: ClosureReason,
    summary: str | None,
    triage_summary: str | None = None,
) -> None:
    now = utcnow()
    if triage_summary is not None:
        _event(referral, ReferralAction.TRIAGED, actor, note=triage_summary, at=now)
    _move(referral, S.CLOSED, ReferralAction.CLOSED, actor, note=reason.label, at=now)
    referral.closed_at = now
    referral.closure_reason = reason
    referral.outcome_summary = summary
    referral.next_contact_on = None
    queue_outcome(referral)


def reopen(referral: Referral, actor: Actor, reason: str | None) -> None:
    """A coordinator brings a closed case back to its navigator; the history keeps the closure."""
    if referral.status != S.CLOSED:
        raise TransitionRefused("Only a closed case can be reopened")
    if actor.user is None or actor.user.role not in (Role.COORDINATOR, Role.ADMIN):
        raise TransitionRefused("Only a hub coordinator can reopen a case")
    if not (reason and reason.strip()):
        raise TransitionRefused("Say why the case is being reopened", "reason")
    if referral.navigator_id is None or referral.route not in NAVIGATION_ROUTES:
        raise TransitionRefused(
            "This referral never had a navigator. Make a new referral for the person instead."
        )
    # Back to where support stood: active once the person had been reached after assignment.
    reached = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Contact)
        .where(
            Contact.referral_id == referral.id,
            Contact.successful.is_(True),
            Contact.occurred_at >= referral.assigned_at,
        )
    )
    to = S.ACTIVE if reached else S.ASSIGNED
    was = referral.closure_reason.label if referral.closure_reason else "closed"
    _move(referral, to, ReferralAction.REOPENED, actor, note=f"{reason.strip()} (was: {was})")
    referral.closed_at = None
    referral.closure_reason = None
    referral.outcome_summary = None
    referral.next_contact_on = date.today() + timedelta(
        days=current_app.config["CASE_FIRST_CONTACT_DAYS"]
    )
    withdraw_unsent(referral)
    if referral.navigator_id != actor.user.id:
        notify(
            referral.navigator_id,
            referral,
            AlertKind.CASE_REOPENED,
            f"{referral.reference} ({referral.resident.full_name}) was reopened by "
            f"{actor.label}: {reason.strip()}",
        )


# --- changes that do not move the status --------------------------------------------------


def record_edit(referral: Referral, actor: Actor, changes: dict[str, list]) -> None:
    """A change to the referral's details, kept as before/after so a clash can be explained."""
    _require_open(referral)
    if changes:
        _event(referral, ReferralAction.EDITED, actor, changes=changes)


def add_note(referral: Referral, text: str) -> None:
    """Something the portal itself noticed and the hub should check."""
    _event(referral, ReferralAction.NOTE, PORTAL, note=text)


def stamp_versions(referral: Referral) -> None:
    """After a flush: mark new history entries with the version they produced."""
    db.session.flush()
    for event in referral.events:
        if event.version is None:
            event.version = referral.version


def add_information(referral: Referral, actor: Actor, text: str) -> None:
    """The referring practice adds something the hub should know."""
    _require_open(referral)
    _event(referral, ReferralAction.INFORMATION_ADDED, actor, note=text)
