"""Reading the audit trail: every event about one person, searched, paged and put in words.

An audit row names its record only by type and id, as text, and copies nothing about the
person. Which person a record belongs to is worked out when the trail is read, through
the tables the records live in, so the answer is the same whether the event was written
yesterday or years ago, and a record added to a case later is found with the rest.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from portal.audit.models import AuditEvent
from portal.auth.models import Role, User
from portal.auth.service import normalise_email
from portal.cases.models import Contact, Goal
from portal.directory.models import ActivityReferral
from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.measures.models import MeasureResponse
from portal.referrals.intake import nhs_number_problem, normalise_nhs_number
from portal.referrals.models import Referral, Resident
from portal.reports.models import OutcomeReport, QueuedOutcome
from portal.volunteers.models import BuddyMatch, TrainingRecord, Volunteer, VolunteerHours

PAGE_SIZE = 25
# Object ids longer than this are never row ids (a date range, a path): no lookup for them.
_MAX_ID_DIGITS = 18

RESIDENT, VOLUNTEER = "resident", "volunteer"


# --- how an audit row's object leads to a person ----------------------------------------------


@dataclass(frozen=True, eq=False)
class Link:
    """A path from the id an audit row holds to the person the record belongs to.

    `key` is the column whose value the row's object_id holds; `person` is the resident's
    or volunteer's id reached from it through `joins` (in order; outer joins when `outer`,
    so a record is still named when the path ends early); `detail` names the record for a
    reader (a case reference, a volunteer's name).

    Compared by identity (eq=False): several record types share one link, and their
    events are then found with one subquery.
    """

    key: Any
    person: Any
    detail: Any = None
    joins: tuple[tuple[Any, Any], ...] = ()
    outer: bool = False

    def select(self, *columns) -> sa.Select:
        query = sa.select(*columns).select_from(self.key.class_)
        for target, onclause in self.joins:
            query = query.join(target, onclause, isouter=self.outer)
        return query


@dataclass(frozen=True, eq=False)
class Kind:
    """One object_type written by `audit()`: its name on screen and how it leads to people.

    `describes` is the record in words; `{resident}` and `{volunteer}` are filled from the
    detail of the links on that side, `{id}` with the row's object id. When a record can
    no longer be found (a withdrawn notice, an id that is not a row), the event reads
    "<label> <id>" instead.

    `by_action` is for an action whose rows hold a different id under the same type: that
    action is read with its own Kind.
    """

    label: str
    describes: str | None = None
    resident: tuple[Link, ...] = ()
    volunteer: tuple[Link, ...] = ()
    by_action: Mapping[str, Kind] = field(default_factory=dict)


def _via_referral(model) -> Link:
    return Link(
        key=model.id,
        person=Referral.resident_id,
        detail=Referral.reference,
        joins=((Referral, model.referral_id == Referral.id),),
    )


def _of_volunteer(model) -> Link:
    return Link(
        key=model.id,
        person=model.volunteer_id,
        detail=User.full_name,
        joins=(
            (Volunteer, model.volunteer_id == Volunteer.id),
            (User, Volunteer.user_id == User.id),
        ),
    )


_REFERRAL = Link(key=Referral.id, person=Referral.resident_id, detail=Referral.reference)
_RESIDENT = Link(
    key=Resident.id,
    person=Resident.id,
    detail=Referral.reference,
    joins=((Referral, Referral.resident_id == Resident.id),),
)
_VOLUNTEER = Link(
    key=Volunteer.id,
    person=Volunteer.id,
    detail=User.full_name,
    joins=((User, Volunteer.user_id == User.id),),
)
# A user row is described by its name whoever it is; it leads to a volunteer only when the
# account is a volunteer's.
_USER = Link(
    key=User.id,
    person=Volunteer.id,
    detail=User.full_name,
    joins=((Volunteer, Volunteer.user_id == User.id),),
    outer=True,
)
# A scheduled report carries the changes queued for it; a single-person notice is claimed
# under "notice:<queued id>" and leaves the queued change for the regular report.
_REPORT_CARRYING = Link(
    key=QueuedOutcome.report_id,
    person=Referral.resident_id,
    joins=((Referral, QueuedOutcome.referral_id == Referral.id),),
)
_NOTICE = Link(
    key=OutcomeReport.id,
    person=Referral.resident_id,
    joins=(
        (
            QueuedOutcome,
            OutcomeReport.claim_key == sa.literal("notice:") + sa.cast(QueuedOutcome.id, sa.String),
        ),
        (Referral, QueuedOutcome.referral_id == Referral.id),
    ),
)

# Every object_type the portal audits, in one place. A new record type about a person
# goes here, with the link that leads from its id to the person; without one, its events
# are listed but never found by a search for someone.
KINDS: dict[str, Kind] = {
    # Record types whose object id is the referral's own id.
    "referral": Kind("Referral", "Referral {resident}", resident=(_REFERRAL,)),
    "case": Kind("Case", "Case {resident}", resident=(_REFERRAL,)),
    "plan": Kind("Support plan", "Support plan for case {resident}", resident=(_REFERRAL,)),
    "directory_for_case": Kind(
        "Activity search for a case", "Activity search for case {resident}", resident=(_REFERRAL,)
    ),
    "navigator_suggestions": Kind(
        "Navigator suggestions", "Navigator suggestions for {resident}", resident=(_REFERRAL,)
    ),
    "buddy_suggestions": Kind(
        "Buddy suggestions", "Buddy suggestions for case {resident}", resident=(_REFERRAL,)
    ),
    "activity_suggestions": Kind(
        "Activity suggestions", "Activity suggestions for case {resident}", resident=(_REFERRAL,)
    ),
    # Records on a case, named by their own id.
    "contact": Kind("Contact", "Contact on case {resident}", resident=(_via_referral(Contact),)),
    "goal": Kind("Goal", "Goal on case {resident}", resident=(_via_referral(Goal),)),
    "measure": Kind(
        "Wellbeing measure",
        "Wellbeing measure on case {resident}",
        resident=(_via_referral(MeasureResponse),),
    ),
    "activity_referral": Kind(
        "Activity referral",
        "Activity referral on case {resident}",
        resident=(_via_referral(ActivityReferral),),
    ),
    "buddy_match": Kind(
        "Buddy match",
        "Buddy match of {volunteer} with case {resident}",
        resident=(_via_referral(BuddyMatch),),
        volunteer=(_of_volunteer(BuddyMatch),),
        # Proposing a buddy is audited with the referral's id (cases/views.py and
        # matching/views.py), every later step with the match's own. Rows are never
        # rewritten, so the reader keeps this rule for as long as such rows exist. The
        # referral cannot say which volunteer was proposed: no volunteer side.
        by_action={
            "created": Kind(
                "Buddy proposed", "Buddy proposed for case {resident}", resident=(_REFERRAL,)
            )
        },
    ),
    "outcome_report": Kind(
        "Outcome report", "Outcome report {id}", resident=(_REPORT_CARRYING, _NOTICE)
    ),
    # A volunteer's own records.
    "volunteer": Kind(
        "Volunteer record", "Volunteer record of {volunteer}", volunteer=(_VOLUNTEER,)
    ),
    "volunteer_dbs": Kind("DBS check", "DBS check of {volunteer}", volunteer=(_VOLUNTEER,)),
    "buddy_matches": Kind(
        "Volunteer's own buddies",
        "Buddies of {volunteer} (their own page)",
        volunteer=(_VOLUNTEER,),
    ),
    "training_record": Kind(
        "Training record",
        "Training record of {volunteer}",
        volunteer=(_of_volunteer(TrainingRecord),),
    ),
    "volunteer_hours": Kind(
        "Volunteer hours", "Hours logged by {volunteer}", volunteer=(_of_volunteer(VolunteerHours),)
    ),
    "user": Kind("User account", "Account of {volunteer}", volunteer=(_USER,)),
    "resident": Kind("Resident", "The person on {resident}", resident=(_RESIDENT,)),
    # Reading this trail, or a subject access export, is itself a view of the person.
    "audit_trail_resident": Kind(
        "Audit trail of a resident",
        "Audit trail of the person on {resident}",
        resident=(_RESIDENT,),
    ),
    "audit_trail_volunteer": Kind(
        "Audit trail of a volunteer", "Audit trail of {volunteer}", volunteer=(_VOLUNTEER,)
    ),
    "subject_access_resident": Kind(
        "Subject access export of a resident",
        "Subject access export for the person on {resident}",
        resident=(_RESIDENT,),
    ),
    "subject_access_volunteer": Kind(
        "Subject access export of a volunteer",
        "Subject access export for {volunteer}",
        volunteer=(_VOLUNTEER,),
    ),
    # Lists and settings: named for the reader, about no one person.
    "audit_trail": Kind("Audit trail (all events)"),
    "referrals": Kind("Triage queue"),
    "int_referrals": Kind("INT referrals list"),
    "practice_referrals": Kind("Practice's referrals list"),
    "caseload": Kind("Caseload"),
    "alerts": Kind("Alerts"),
    "buddy_batch": Kind("Waiting for a buddy list"),
    "volunteers": Kind("Volunteer board"),
    "volunteer_expiry": Kind("DBS and training running out"),
    "volunteer_supervision": Kind("Volunteer supervision"),
    "training_module": Kind("Training course"),
    "organisation": Kind("Organisation"),
    "activity": Kind("Activity"),
    "activity_import": Kind("Activity import"),
    "activity_referrals": Kind("Organisation's referrals list"),
    "outcome_reports": Kind("Outcome reports inbox"),
    "outcome_report_preview": Kind("Outcome report preview (practice)"),
    "practice_report_settings": Kind("Practice report settings"),
    "matching_weights": Kind("Matching weights"),
    "dashboard": Kind("Dashboard export"),
    "hub_dashboard": Kind("Hub dashboard export"),
    "path": Kind("Page"),
}

ACTIONS: dict[str, str] = {
    "viewed": "Viewed",
    "viewed_list": "Viewed a list",
    "created": "Created",
    "changed": "Changed",
    "updated": "Updated",
    "exported": "Exported",
    "verified": "Verified",
    "confirmed": "Confirmed",
    "imported": "Imported",
    "consent_withdrawn": "Recorded consent withdrawn",
    "anonymised": "Anonymised",
    "forbidden": "Refused: no access",
    "login": "Logged in",
    "logout": "Logged out",
    "login_failed": "Failed login",
    "password_set": "Set a password",
    "mfa_enabled": "Turned on two-step login",
    "mfa_disabled": "Turned off two-step login",
    "mfa_reset": "Reset two-step login",
    "mfa_failed": "Failed two-step login code",
    "mfa_recovery_codes_made": "Made recovery codes",
    "mfa_recovery_code_used": "Used a recovery code",
    "password_reset_sent": "Password reset sent",
    "password_reset_unknown": "Password reset for an unknown email",
    "user_invited": "Invited",
    "user_enabled": "Account enabled",
    "user_disabled": "Account disabled",
}


def kind_of(object_type: str | None, action: str | None = None) -> Kind | None:
    kind = KINDS.get(object_type or "")
    if kind is not None and action in kind.by_action:
        return kind.by_action[action]
    return kind


def _branches(side: str) -> list[tuple[Link, sa.ColumnElement[bool]]]:
    """Each link on this side, with the rows (by type, and action where it matters) it reads.

    No OR inside a branch: each must stay one index lookup on (object_type, object_id).
    """
    plain: dict[Link, list[str]] = defaultdict(list)
    branches: list[tuple[Link, sa.ColumnElement[bool]]] = []
    for object_type, kind in KINDS.items():
        for link in getattr(kind, side):
            if kind.by_action:
                branches.append(
                    (
                        link,
                        sa.and_(
                            AuditEvent.object_type == object_type,
                            AuditEvent.action.not_in(list(kind.by_action)),
                        ),
                    )
                )
            else:
                plain[link].append(object_type)
        for action, special in kind.by_action.items():
            for link in getattr(special, side):
                branches.append(
                    (
                        link,
                        sa.and_(AuditEvent.object_type == object_type, AuditEvent.action == action),
                    )
                )
    branches += [(link, AuditEvent.object_type.in_(types)) for link, types in plain.items()]
    return branches


def _about(side: str, person_id: int) -> sa.ColumnElement[bool]:
    # One branch per link, each an index lookup on (object_type, object_id), joined by
    # UNION: ORed subqueries would make PostgreSQL read the whole audit table instead.
    # The ids are compared as text, cast in the database: "1" is never "11", and an id
    # that is not a number ("all", a date range) simply matches nothing.
    return AuditEvent.id.in_(
        sa.union_all(
            *(
                sa.select(AuditEvent.id).where(
                    rows,
                    AuditEvent.object_id.in_(
                        link.select(sa.cast(link.key, sa.String)).where(link.person == person_id)
                    ),
                )
                for link, rows in _branches(side)
            )
        )
    )


def about_resident(resident_id: int) -> sa.ColumnElement[bool]:
    """Events about any record of this resident: their referrals and everything on them."""
    return _about(RESIDENT, resident_id)


def about_volunteer(volunteer_id: int) -> sa.ColumnElement[bool]:
    """Events about this volunteer's records: vetting, DBS, training, hours, buddies, login."""
    return _about(VOLUNTEER, volunteer_id)


def _newest_first(query: sa.Select) -> sa.Select:
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def events_about_resident(resident_id: int) -> sa.Select:
    return _newest_first(sa.select(AuditEvent).where(about_resident(resident_id)))


def events_about_volunteer(volunteer_id: int) -> sa.Select:
    return _newest_first(sa.select(AuditEvent).where(about_volunteer(volunteer_id)))


# --- finding the person an admin typed --------------------------------------------------------


@dataclass(frozen=True)
class Person:
    kind: str  # RESIDENT or VOLUNTEER
    id: int
    name: str
    references: tuple[str, ...] = ()  # a resident's referrals, oldest first
    email: str | None = None

    @property
    def search_text(self) -> str:
        """What finds this person again when typed in the search box."""
        if self.kind == RESIDENT:
            return self.references[-1] if self.references else ""
        return self.email or ""


_REFERENCE = re.compile(r"^(SP-)?[0-9A-Z]{4,16}$")
_NHS_SHAPE = re.compile(r"^[0-9\s-]+$")
PERSON_HINT = (
    "Enter a referral reference (like SP-7K3M9Q), a 10-digit NHS number "
    "or a volunteer's email address"
)


def resident_person(resident_id: int) -> Person | None:
    resident = db.session.get(Resident, resident_id)
    if resident is None:
        return None
    references = db.session.scalars(
        sa.select(Referral.reference)
        .where(Referral.resident_id == resident_id)
        .order_by(Referral.received_at, Referral.id)
    ).all()
    return Person(RESIDENT, resident.id, resident.full_name, tuple(references))


def volunteer_person(volunteer_id: int) -> Person | None:
    row = db.session.execute(
        sa.select(Volunteer.id, User.full_name, User.email)
        .join(User, Volunteer.user_id == User.id)
        .where(Volunteer.id == volunteer_id)
    ).first()
    return Person(VOLUNTEER, row.id, row.full_name, email=row.email) if row else None


def _is_nhs_shaped(text: str) -> bool:
    return bool(_NHS_SHAPE.match(text)) and len(re.sub(r"\D", "", text)) == 10


def find_person(query: str | None) -> Person | None:
    """The resident or volunteer that a reference, an NHS number or an email address names.

    A referral reference (any case, with or without "SP-") and an NHS number (spaces and
    dashes allowed, check digit valid) lead to the resident, so every referral they have
    had is searched at once; an email address leads to a volunteer.
    """
    text = (query or "").strip()
    if not text:
        return None
    if "@" in text:
        volunteer_id = db.session.scalar(
            sa.select(Volunteer.id)
            .join(User, Volunteer.user_id == User.id)
            .where(User.email == normalise_email(text))
        )
        return volunteer_person(volunteer_id) if volunteer_id is not None else None
    if _is_nhs_shaped(text):
        if nhs_number_problem(text):
            return None
        resident_id = db.session.scalar(
            sa.select(Resident.id).where(Resident.nhs_number == normalise_nhs_number(text))
        )
        return resident_person(resident_id) if resident_id is not None else None
    upper = re.sub(r"\s+", "", text).upper()
    if not _REFERENCE.match(upper):
        return None
    resident_id = db.session.scalar(
        sa.select(Referral.resident_id).where(Referral.reference.in_({upper, f"SP-{upper}"}))
    )
    return resident_person(resident_id) if resident_id is not None else None


def person_problem(query: str | None) -> str | None:
    """Why `find_person` found no one for this text, in words to show beside the box."""
    text = (query or "").strip()
    if not text:
        return None
    if "@" in text:
        user_role = db.session.scalar(
            sa.select(User.role).where(User.email == normalise_email(text))
        )
        if user_role is not None and user_role != Role.VOLUNTEER:
            return (
                "This email address is a staff account, not a volunteer. To see what they "
                "did, enter it in 'Done by'"
            )
        return "No volunteer has this email address. Check it and try again"
    if _is_nhs_shaped(text):
        return nhs_number_problem(text) or "No one with this NHS number has been referred"
    if _NHS_SHAPE.match(text):
        return (
            "An NHS number must be 10 digits, and no referral has this reference. "
            "Check it and try again"
        )
    upper = re.sub(r"\s+", "", text).upper()
    if _REFERENCE.match(upper) and (upper.startswith("SP-") or any(c.isdigit() for c in upper)):
        return "No referral has this reference. Check it, or search by NHS number"
    return PERSON_HINT


def find_actor(query: str | None) -> int | None:
    """The user id an admin means by an email address or a user number.

    A number is taken as it is, known or not: the trail outlives deleted accounts.
    """
    text = (query or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    if "@" in text:
        return db.session.scalar(sa.select(User.id).where(User.email == normalise_email(text)))
    return None


def actor_email(actor_id: int) -> str | None:
    return db.session.scalar(sa.select(User.email).where(User.id == actor_id))


def actor_problem(query: str | None) -> str | None:
    text = (query or "").strip()
    if not text or find_actor(text) is not None:
        return None
    if "@" in text:
        return "No user has this email address. Check it, or enter their user number"
    return "Enter a user's email address, like name@example.org, or their user number"


# --- the search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrailFilters:
    """What the trail is narrowed to. Only ids and codes: these go into page addresses."""

    resident_id: int | None = None
    volunteer_id: int | None = None
    actor_id: int | None = None
    action: str = ""
    object_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args, **person) -> TrailFilters:
        """Filters from a query string; anything not understood is left out, never an error."""
        return cls(
            **person,
            actor_id=_whole_number(args.get("actor")),
            action=_choice(args.get("action"), ACTIONS),
            object_type=_choice(args.get("type"), KINDS),
            date_from=_iso_date(args.get("from")),
            date_to=_iso_date(args.get("to")),
            page=_whole_number(args.get("page")) or 1,
        )

    def query_args(self) -> dict[str, str]:
        """The query string for these filters, the person and page left out."""
        args = {
            "actor": self.actor_id,
            "action": self.action,
            "type": self.object_type,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        return {k: str(v) for k, v in args.items() if v not in (None, "")}

    @property
    def person(self) -> tuple[str, int] | None:
        if self.resident_id is not None:
            return RESIDENT, self.resident_id
        if self.volunteer_id is not None:
            return VOLUNTEER, self.volunteer_id
        return None

    def with_page(self, page: int) -> TrailFilters:
        return replace(self, page=page)


def _whole_number(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else None


def _choice(value: str | None, allowed: Iterable[str]) -> str:
    return value if value in allowed else ""


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def uk_day_start(day: date) -> datetime:
    """The UTC moment a day begins on the UK wall clock (23:00 UTC the day before, in summer)."""
    return local_to_utc(datetime.combine(day, time()))


def trail_query(filters: TrailFilters) -> sa.Select:
    """Events matching every filter, newest first."""
    query = sa.select(AuditEvent)
    if filters.resident_id is not None:
        query = query.where(about_resident(filters.resident_id))
    if filters.volunteer_id is not None:
        query = query.where(about_volunteer(filters.volunteer_id))
    if filters.actor_id is not None:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    # Both dates count whole UK days: "to 31 July" includes 23:59 on 31 July in London.
    if filters.date_from is not None:
        query = query.where(AuditEvent.occurred_at >= uk_day_start(filters.date_from))
    if filters.date_to is not None:
        query = query.where(
            AuditEvent.occurred_at < uk_day_start(filters.date_to + timedelta(days=1))
        )
    return _newest_first(query)


def search_events(filters: TrailFilters, per_page: int = PAGE_SIZE) -> Pagination:
    """One page of matching events (AuditEvent rows); `describe` puts them in words."""
    return db.paginate(
        trail_query(filters), page=filters.page, per_page=per_page, error_out=False, count=True
    )


# --- the events in words ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    actor: str  # the actor's name now, or why there is none
    actor_email: str | None
    role: str  # the role they had when it happened
    action: str
    record: str


def _row_id(object_id: str | None) -> int | None:
    if object_id and object_id.isascii() and object_id.isdigit():
        return int(object_id) if len(object_id) <= _MAX_ID_DIGITS else None
    return None


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _details(events: list[AuditEvent]) -> dict[tuple[Kind, str, int], list[str]]:
    """(kind, side, id) → the words naming that record, a few queries per page."""
    wanted: dict[Kind, set[int]] = defaultdict(set)
    for event in events:
        row_id = _row_id(event.object_id)
        kind = kind_of(event.object_type, event.action)
        if row_id is not None and kind is not None and kind.describes:
            wanted[kind].add(row_id)
    found: dict[tuple[Kind, str, int], list[str]] = defaultdict(list)
    for kind, ids in wanted.items():
        needed = _placeholders(kind.describes or "")
        for side in (RESIDENT, VOLUNTEER):
            if side not in needed:
                continue
            for link in getattr(kind, side):
                if link.detail is None:
                    continue
                rows = db.session.execute(
                    link.select(link.key, link.detail).where(link.key.in_(sorted(ids)))
                )
                for key, detail in rows:
                    words = found[(kind, side, key)]
                    if detail is not None and detail not in words:
                        words.append(detail)
    return found


def _describe(event: AuditEvent, details: dict[tuple[Kind, str, int], list[str]]) -> str:
    object_type = event.object_type or ""
    kind = kind_of(object_type, event.action)
    label = kind.label if kind else object_type.replace("_", " ").capitalize()
    fallback = f"{label} {event.object_id}" if event.object_id else label
    row_id = _row_id(event.object_id)
    if kind is None or not kind.describes or row_id is None:
        return fallback
    values: dict[str, str] = {"id": str(row_id)}
    for side in _placeholders(kind.describes) - {"id"}:
        words = sorted(details.get((kind, side, row_id), []))
        if not words:
            return fallback
        values[side] = ", ".join(words)
    return kind.describes.format(**values)


def _role_label(value: str | None) -> str:
    try:
        return Role(value).label if value else ""
    except ValueError:
        return value or ""


def describe(events: Iterable[AuditEvent]) -> list[TrailRow]:
    """Each event with who did it (their name now, their role then) and the record in words.

    Actors are looked up by id, as an outer join would: an account deleted since still
    leaves its events, named by number.
    """
    events = list(events)
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    actors = {
        row.id: row
        for row in db.session.execute(
            sa.select(User.id, User.full_name, User.email).where(User.id.in_(sorted(actor_ids)))
        )
    }
    details = _details(events)
    rows = []
    for event in events:
        actor = actors.get(event.actor_id) if event.actor_id is not None else None
        if event.actor_id is None:
            name, email = "Nobody logged in", None
        elif actor is None:
            name, email = f"Deleted user (number {event.actor_id})", None
        else:
            name, email = actor.full_name, actor.email
        rows.append(
            TrailRow(
                event=event,
                actor=name,
                actor_email=email,
                role=_role_label(event.actor_role),
                action=ACTIONS.get(event.action, event.action.replace("_", " ").capitalize()),
                record=_describe(event, details),
            )
        )
    return rows


def all_rows(filters: TrailFilters, chunk: int = 500) -> Iterator[TrailRow]:
    """Every matching event, newest first, a chunk at a time: an export of any size.

    Each chunk starts after the last event of the one before (by time, then id), so
    events written while the export runs neither repeat nor shift the rest.
    """
    query = trail_query(filters)
    last: AuditEvent | None = None
    while True:
        page = query
        if last is not None:
            page = page.where(
                sa.or_(
                    AuditEvent.occurred_at < last.occurred_at,
                    sa.and_(AuditEvent.occurred_at == last.occurred_at, AuditEvent.id < last.id),
                )
            )
        events = list(db.session.scalars(page.limit(chunk)))
        if not events:
            return
        yield from describe(events)
        last = events[-1]
        if len(events) < chunk:
            return
