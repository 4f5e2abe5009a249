"""A case's timeline: everything that happened to the person's referral, who did it, and when.

Built from the records themselves (contacts, measures, goals, activity referrals, buddy
matches) and the referral's history of status changes, so nothing is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from portal.auth.models import User
from portal.cases.models import Contact
from portal.cases.records import CaseRecords, read_case_records
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.measures import scales
from portal.measures.models import MeasureResponse
from portal.referrals.models import Referral, ReferralAction


@dataclass
class Entry:
    at: datetime
    kind: str  # contact, attempt, concern, measure, goal, activity, buddy, status, history
    title: str
    who: str
    detail: str | None = None
    changes: dict | None = None
    lines: list[str] = field(default_factory=list)


def _activity_entries(link: ActivityReferral) -> list[Entry]:
    """The referral to an activity, and every answer the organisation gave, as separate lines."""
    title = link.activity.title
    organisation = link.activity.organisation.name
    if link.status == ActivityReferralStatus.SIGNPOSTED:
        return [Entry(link.created_at, "activity", f"Signposted to {title}", _who(link.created_by))]
    entries = [
        Entry(
            link.created_at,
            "activity",
            f"Referred to {title} ({organisation})",
            _who(link.created_by),
            f"Answer due by {link.respond_by:%-d %B %Y}" if link.respond_by else None,
        )
    ]
    if link.responded_at:
        declined = link.decline_reason is not None
        entries.append(
            Entry(
                link.responded_at,
                "activity",
                f"{organisation} {'declined' if declined else 'accepted'} the referral to {title}",
                _who(link.responded_by) if link.responded_by else organisation,
                f"Reason given: {link.decline_reason}" if declined else None,
            )
        )
    for record in link.attendance:
        came = "came to" if record.attended else "did not come to"
        entries.append(
            Entry(
                record.recorded_at,
                "activity",
                f"{link.person_name} {came} {title} on {record.session_on:%-d %B %Y}",
                organisation,
            )
        )
    if link.ended_at:
        entries.append(Entry(link.ended_at, "activity", f"Stopped: {title}", "", link.end_reason))
    return entries


def _who(user: User | None) -> str:
    return f"{user.full_name} ({user.role.label})" if user else "The portal"


def _contact_entry(contact: Contact) -> Entry:
    minutes = (
        f", {contact.duration_minutes} minutes" if contact.duration_minutes is not None else ""
    )
    result = contact.result.label if contact.result else ("Spoke" if contact.successful else "")
    kind = "concern" if contact.concern_raised else ("contact" if contact.successful else "attempt")
    entry = Entry(
        at=contact.occurred_at,
        kind=kind,
        title=f"{contact.method.label}: {result}{minutes}",
        who=_who(contact.author),
        detail=contact.notes,
    )
    if contact.concern_raised:
        entry.lines.append(f"Safeguarding concern: {contact.safeguarding_note}")
    return entry


def _measure_entry(response: MeasureResponse) -> Entry:
    title = f"{response.scale.label} ({response.stage.label.lower()})"
    if response.declined:
        return Entry(
            response.recorded_at,
            "measure",
            title,
            _who(response.recorded_by),
            "The person chose not to answer",
        )
    lines = [
        f"{r.name}: {_number(r.value)}" + (f" ({r.band})" if r.band else "")
        for r in scales.results(response.scale, response.answers)
    ]
    return Entry(response.recorded_at, "measure", title, _who(response.recorded_by), lines=lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def case_timeline(referral: Referral, records: CaseRecords | None = None) -> list[Entry]:
    """Newest first: the person looking wants what happened lately. The case page passes
    the records it has already read for its lists, so each is read once."""
    if records is None:
        records = read_case_records(referral.id)
    entries: list[Entry] = []
    for event in referral.events:
        # Attempts made during triage are in the contacts table; their row says more.
        if event.action == ReferralAction.CONTACT_ATTEMPT and event.from_status is None:
            continue
        title = event.action.label
        if event.action == ReferralAction.CONTACT_ATTEMPT:
            title = "Status changed"
        if event.to_status and event.from_status and event.to_status != event.from_status:
            title += f": {event.from_status.label.lower()} → {event.to_status.label.lower()}"
        kind = "status" if event.to_status else "history"
        entries.append(
            Entry(event.at, kind, title, event.actor_label, event.note, changes=event.changes)
        )
    entries.extend(_contact_entry(contact) for contact in records.contacts)
    entries.extend(_measure_entry(response) for response in records.responses)
    entries.extend(
        Entry(goal.created_at, "goal", "Goal set", _who(goal.created_by), goal.description)
        for goal in records.goals
    )
    for link in records.activity_links:
        entries.extend(_activity_entries(link))
    entries.extend(
        Entry(
            match.proposed_at,
            "buddy",
            f"Buddy {match.volunteer.user.full_name}: {match.status.label.lower()}",
            _who(match.proposed_by),
            match.end_reason,
        )
        for match in records.buddy_matches
    )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries
