"""Whether a volunteer may be matched to a resident, and if not, every reason why.

One function decides it for the whole portal: the buddy proposal, the volunteer
board, the volunteer's own page and (later) matching all ask `compliance`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app

from portal.volunteers.models import (
    DbsLevel,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerRole,
    VolunteerStatus,
)
from portal.volunteers.training import add_months, expiry_date

# The lowest DBS check each role needs. Buddies and volunteer navigators visit people
# at home and work with adults at risk, which is regulated activity: enhanced.
# Telephone befrienders never meet the person, so the hub asks for none.
DBS_FOR_ROLE: dict[VolunteerRole, DbsLevel | None] = {
    VolunteerRole.BUDDY: DbsLevel.ENHANCED,
    VolunteerRole.NAVIGATOR: DbsLevel.ENHANCED,
    VolunteerRole.BEFRIENDER: None,
}
LONDON = ZoneInfo("Europe/London")
_DBS_RANK = {DbsLevel.BASIC: 1, DbsLevel.STANDARD: 2, DbsLevel.ENHANCED: 3}


@dataclass(frozen=True)
class Expiring:
    """Something a volunteer holds that runs out: a DBS check or one training module."""

    subject: str  # "dbs" or "training:<module id>"
    title: str
    expires_on: date


@dataclass
class Compliance:
    compliant: bool
    reasons: list[str] = field(default_factory=list)
    # What runs out and when, soonest first, for the "due" lists.
    expiring: list[Expiring] = field(default_factory=list)


def dbs_renewal_due(volunteer: Volunteer) -> date | None:
    """The last day the DBS check counts.

    On the Update Service a coordinator's status check renews it, so the period
    runs from the later of the issue date and the last check.
    """
    if volunteer.dbs_issue_date is None:
        return None
    start = volunteer.dbs_issue_date
    if volunteer.dbs_update_service and volunteer.dbs_checked_at is not None:
        start = max(start, volunteer.dbs_checked_at.astimezone(LONDON).date())
    return add_months(start, 12 * current_app.config["DBS_RENEWAL_YEARS"])


def dbs_needed(roles: Iterable[VolunteerRole]) -> DbsLevel | None:
    levels = [DBS_FOR_ROLE[r] for r in roles if DBS_FOR_ROLE[r] is not None]
    return max(levels, key=_DBS_RANK.__getitem__) if levels else None


def level_meets(held: DbsLevel, needed: DbsLevel) -> bool:
    return _DBS_RANK[held] >= _DBS_RANK[needed]


def required_modules(
    modules: Iterable[TrainingModule], roles: Iterable[VolunteerRole]
) -> list[TrainingModule]:
    roles = list(roles)
    return [m for m in modules if m.is_active and any(m.required_for(r) for r in roles)]


def latest_records(records: Iterable[TrainingRecord]) -> dict[int, TrainingRecord]:
    """Each module's most recent completion: an older one never outlives a newer one."""
    latest: dict[int, TrainingRecord] = {}
    for record in records:
        held = latest.get(record.module_id)
        if held is None or record.completed_on > held.completed_on:
            latest[record.module_id] = record
    return latest


def compliance(
    volunteer: Volunteer,
    modules: Iterable[TrainingModule],
    today: date,
    roles: Iterable[VolunteerRole] | None = None,
) -> Compliance:
    """Active + DBS in date at the level the roles need + every mandatory module in date.

    `roles` narrows the check to the role being matched for (a buddy proposal asks
    about buddying only); by default every role the volunteer holds is checked.
    """
    roles = list(volunteer.roles if roles is None else roles)
    reasons: list[str] = []
    expiring: list[Expiring] = []
    if volunteer.status != VolunteerStatus.ACTIVE:
        reasons.append(f"Their status is {volunteer.status.label.lower()}, not active")
    if not roles:
        reasons.append("They have no volunteering role")

    needed = dbs_needed(roles)
    due = dbs_renewal_due(volunteer)
    if needed is not None and due is not None:
        expiring.append(Expiring("dbs", "DBS check", due))
    if needed is not None:
        if volunteer.dbs_level is None:
            reasons.append(f"No DBS check recorded: an {needed.label.lower()} check is needed")
        elif not level_meets(volunteer.dbs_level, needed):
            reasons.append(
                f"Their DBS check is {volunteer.dbs_level.label.lower()}; "
                f"the role needs {needed.label.lower()}"
            )
        elif due is not None and due < today:
            reasons.append(f"Their DBS check ran out on {_day(due)}")

    held = latest_records(volunteer.training_records)
    for module in required_modules(modules, roles):
        record = held.get(module.id)
        if record is None:
            reasons.append(f"Training not done: {module.name}")
            continue
        expires = expiry_date(record.completed_on, module.valid_for_months)
        if expires is not None:
            expiring.append(Expiring(f"training:{module.id}", module.name, expires))
            if expires < today:
                reasons.append(f"Training out of date: {module.name} ran out on {_day(expires)}")
    expiring.sort(key=lambda e: e.expires_on)
    return Compliance(compliant=not reasons, reasons=reasons, expiring=expiring)


def buddy_role(volunteer: Volunteer) -> VolunteerRole | None:
    """The role a buddy match uses: meeting in person if they do that, else by phone."""
    if volunteer.role_buddy:
        return VolunteerRole.BUDDY
    if volunteer.role_befriender:
        return VolunteerRole.BEFRIENDER
    return None


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"
