"""The vetting pipeline: status changes, references, DBS checks and training completions.

Each function checks its rule, changes the records and raises TransitionRefused
(naming the form field the message belongs beside) having changed nothing. The
caller audits and commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.alerts.models import AlertKind
from portal.alerts.service import notify
from portal.auth.models import User
from portal.db_types import utcnow
from portal.referrals.workflow import TransitionRefused
from portal.volunteers.compliance import dbs_needed, dbs_renewal_due, level_meets
from portal.volunteers.models import (
    BuddyMatchStatus,
    DbsLevel,
    LeftReason,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)

V = VolunteerStatus

# Where a volunteer can go from each status. Someone who left and comes back is vetted again.
NEXT: dict[VolunteerStatus, tuple[VolunteerStatus, ...]] = {
    V.APPLIED: (V.VETTING, V.LEFT),
    V.VETTING: (V.ACTIVE, V.LEFT),
    V.ACTIVE: (V.PAUSED, V.LEFT),
    V.PAUSED: (V.ACTIVE, V.LEFT),
    V.LEFT: (V.VETTING,),
}

# A DBS certificate number is 12 digits.
DBS_CERTIFICATE_DIGITS = 12


def why_not_active(volunteer: Volunteer, today: date) -> list[str]:
    """What still stands between a volunteer in vetting and becoming active."""
    missing = []
    if volunteer.referee_1_received_on is None or volunteer.referee_2_received_on is None:
        missing.append("Both references must be received")
    needed = dbs_needed(volunteer.roles)
    if not volunteer.roles:
        missing.append("Choose at least one volunteering role")
    elif needed is not None:
        due = dbs_renewal_due(volunteer)
        if volunteer.dbs_level is None:
            missing.append(f"Record their {needed.label.lower()} DBS check")
        elif not level_meets(volunteer.dbs_level, needed):
            missing.append(
                f"Their DBS check is {volunteer.dbs_level.label.lower()}; "
                f"the role needs {needed.label.lower()}"
            )
        elif due is not None and due < today:
            missing.append("Their DBS check has run out: record the new one")
    return missing


def change_status(
    volunteer: Volunteer,
    to: VolunteerStatus,
    actor: User,
    today: date,
    reason: LeftReason | None = None,
    note: str | None = None,
) -> None:
    if to not in NEXT[volunteer.status]:
        raise TransitionRefused(
            f"A volunteer who is {volunteer.status.label.lower()} cannot become {to.label.lower()}",
            "status",
        )
    if to == V.LEFT and reason is None:
        raise TransitionRefused("Choose why the volunteer is leaving", "left_reason")
    if to == V.PAUSED and not note:
        raise TransitionRefused("Say why the volunteer is pausing", "note")
    if to == V.ACTIVE:
        missing = why_not_active(volunteer, today)
        if missing:
            reasons = "; ".join(m[:1].lower() + m[1:] for m in missing)
            raise TransitionRefused(f"They cannot become active yet: {reasons}", "status")
        if volunteer.joined_on is None:
            volunteer.joined_on = today
    if to in (V.PAUSED, V.LEFT):
        _tell_navigators(volunteer, to)
    if to == V.LEFT:
        from portal.volunteers.buddying import end_all

        end_all(volunteer, actor, "The volunteer has left")
        # Their login stops working at once: a volunteer who left sees nothing any more.
        volunteer.user.is_active = False
        volunteer.user.rotate_session_token()
    if volunteer.status == V.LEFT:
        volunteer.user.is_active = True
    volunteer.status = to
    volunteer.left_reason = reason if to == V.LEFT else None
    volunteer.status_note = note
    volunteer.status_changed_at = utcnow()


def _tell_navigators(volunteer: Volunteer, to: VolunteerStatus) -> None:
    from portal.volunteers.buddying import current_matches

    for match in current_matches(volunteer):
        navigator_id = match.referral.navigator_id
        if navigator_id is None or match.status != BuddyMatchStatus.ACTIVE:
            continue
        what = "has left volunteering" if to == V.LEFT else "has paused volunteering"
        notify(
            navigator_id,
            match.referral,
            AlertKind.BUDDY_RESPONSE,
            f"{volunteer.user.full_name}, the buddy for {match.referral.reference}, {what}.",
        )


def record_references(
    volunteer: Volunteer,
    requested_on: date | None,
    received: tuple[date | None, date | None],
    today: date,
) -> None:
    for n, day in enumerate(received, start=1):
        if day is None:
            continue
        if day > today:
            raise TransitionRefused(
                "The date a reference came cannot be in the future", f"received_{n}"
            )
        if day < volunteer.joined_portal_on:
            raise TransitionRefused(
                "A reference cannot arrive before the person applied", f"received_{n}"
            )
        if requested_on is not None and day < requested_on:
            raise TransitionRefused(
                "A reference cannot arrive before it was asked for", f"received_{n}"
            )
        if not getattr(volunteer, f"referee_{n}_name"):
            raise TransitionRefused(
                f"Add referee {n}'s name before recording their reference", f"received_{n}"
            )
    if requested_on is not None and requested_on > today:
        raise TransitionRefused(
            "The date references were asked for cannot be in the future", "requested_on"
        )
    if requested_on is not None and requested_on < volunteer.joined_portal_on:
        raise TransitionRefused(
            "References cannot be asked for before the person applied", "requested_on"
        )
    volunteer.references_requested_on = requested_on
    volunteer.referee_1_received_on, volunteer.referee_2_received_on = received


@dataclass(frozen=True)
class DbsCheck:
    level: DbsLevel
    certificate_number: str
    issue_date: date
    update_service: bool


def normalise_certificate(number: str) -> str:
    return "".join(ch for ch in number if not ch.isspace())


def record_dbs(volunteer: Volunteer, check: DbsCheck, actor: User, today: date) -> None:
    number = normalise_certificate(check.certificate_number)
    if not (number.isascii() and number.isdigit() and len(number) == DBS_CERTIFICATE_DIGITS):
        raise TransitionRefused(
            "Enter the 12-digit certificate number from the DBS certificate", "certificate_number"
        )
    if check.issue_date > today:
        raise TransitionRefused("The issue date cannot be in the future", "issue_date")
    volunteer.dbs_level = check.level
    volunteer.dbs_certificate_number = number
    volunteer.dbs_issue_date = check.issue_date
    volunteer.dbs_update_service = check.update_service
    volunteer.dbs_checked_by_id = actor.id
    volunteer.dbs_checked_at = utcnow()


def mask_certificate(number: str | None) -> str:
    """Everyone but coordinators sees only the last four digits."""
    if not number:
        return ""
    return "•" * (len(number) - 4) + number[-4:]


def record_training(
    volunteer: Volunteer,
    module: TrainingModule,
    completed_on: date,
    actor: User,
    today: date,
    trainer: str | None = None,
    notes: str | None = None,
) -> TrainingRecord:
    if not module.is_active:
        raise TransitionRefused("That course is no longer offered", "module_id")
    if completed_on > today:
        raise TransitionRefused("The completion date cannot be in the future", "completed_on")
    joined = volunteer.joined_portal_on
    if completed_on < joined:
        raise TransitionRefused(
            f"The completion date cannot be before they applied on {joined.day} {joined:%B %Y}",
            "completed_on",
        )
    record = TrainingRecord(
        volunteer=volunteer,
        module=module,
        completed_on=completed_on,
        trainer=trainer,
        notes=notes,
        recorded_by_id=actor.id,
    )
    return record
