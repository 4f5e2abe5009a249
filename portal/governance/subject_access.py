"""Subject access: everything the portal holds about one resident or one volunteer.

UK GDPR Article 15 gives a person a copy of their personal data. `resident_record` and
`volunteer_record` collect it into one dictionary; `as_json` and `render_pdf` turn that
one dictionary into the two files the hub sends, so they always say the same thing.

The JSON document (schema_version 1):

- `schema_version`: 1; `kind`: "resident" or "volunteer";
- `export`: `produced_at` (UTC), `produced_by` (who in the hub made it), `hub`;
- one key per section in `RESIDENT_SECTIONS` / `VOLUNTEER_SECTIONS`, in that order: an
  object for a section about one thing (the person, the account), otherwise a list of
  objects. Each object has exactly the keys of its section's `columns`, in that order;
- `not_included`: what is held but left out, and why, in plain words.

Values: dates are ISO 8601 (`2024-05-01`); moments are ISO 8601 in UTC
(`2024-05-01T09:30:00+00:00`); every coded value (a status, a reason, a slot in the
week) is an object `{"value": "closed", "label": "Closed"}`; people who acted for the hub
are named as "Full name (Role)", volunteers by first name only; a missing value is null.

Every column of every table that holds something about a person is either drawn into a
section (`Section.sources`) or listed in `LEFT_OUT` with the reason:
tests/governance/test_coverage.py fails when a new column or table has not been decided.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template

from portal.alerts.models import Alert
from portal.audit import trail
from portal.audit.models import AuditEvent
from portal.auth.models import Role, User
from portal.auth.service import find_user_by_email
from portal.cases.models import Contact, Goal
from portal.db_types import LabelledEnum, utcnow
from portal.directory.models import Activity, ActivityAttendance, ActivityReferral
from portal.directory.search import ACCESS_FEATURES
from portal.extensions import db
from portal.matching.models import MatchDecision, MatchKind
from portal.measures import scales
from portal.measures.models import MeasureResponse
from portal.referrals.models import (
    Referral,
    ReferralEvent,
    ReferralReason,
    ReferralReasonLink,
    Resident,
)
from portal.reports.models import OutcomeReport, QueuedOutcome
from portal.templating import format_date, format_datetime, format_nhs_number
from portal.volunteers.models import (
    BuddyMatch,
    ReminderSent,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
)
from portal.volunteers.profile import SLOT_CHOICES
from portal.volunteers.training import expiry_date

SCHEMA_VERSION = 1


class PersonNotFound(LookupError):
    """No resident or volunteer with that id."""


@dataclass(frozen=True)
class Coded:
    """A coded value that is not an enum (a slot in the week, an access need), with its words."""

    value: str
    label: str


@dataclass(frozen=True)
class Section:
    """One heading of the export: its JSON key, its title in the PDF, and its columns.

    Each column's key that names a column of `model` is copied from it; `shown_as` says
    which other columns appear under a key in a readable form (an id as a name), and
    `also` the same for other models drawn in. Any other key is worked out.
    """

    key: str
    title: str
    model: type
    columns: tuple[tuple[str, str], ...]
    shown_as: Mapping[str, str] = field(default_factory=dict)
    also: Mapping[type, Mapping[str, str]] = field(default_factory=dict)
    one: bool = False
    intro: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.columns)

    @cached_property
    def copied(self) -> tuple[str, ...]:
        names = set(sa.inspect(self.model).columns.keys())
        return tuple(key for key in self.keys if key in names)

    @property
    def sources(self) -> dict[type, set[str]]:
        """The columns of each model this section shows, as they are or in words."""
        shown = {self.model: {*self.copied, *self.shown_as}}
        for model, columns in self.also.items():
            shown.setdefault(model, set()).update(columns)
        return shown

    def row(self, obj: Any, **worked_out: Any) -> dict:
        """The section's keys in order: copied from `obj` unless given here worked out."""
        values = {key: getattr(obj, key) for key in self.copied if key not in worked_out}
        values.update(worked_out)
        if set(values) != set(self.keys):
            # A programming slip, caught by the tests: a key with no value, or one unlisted.
            raise RuntimeError(f"{self.key}: keys {sorted(set(values) ^ set(self.keys))}")
        return {key: values[key] for key in self.keys}


# --- what is left out, and why ----------------------------------------------------------------

_VERSION = "A counter the portal uses to stop two people overwriting each other's changes"
_THIS_PERSON = "Points at the person this export is about"

# Per export, per model: the columns no section shows, with the reason.
LEFT_OUT: dict[str, dict[type, dict[str, str]]] = {
    "resident": {
        Resident: {},
        Referral: {"resident_id": _THIS_PERSON, "version": _VERSION},
        ReferralReasonLink: {"referral_id": "Shown by listing each reason under its referral"},
        ReferralEvent: {
            "actor_id": "Shown by the name recorded at the time (actor_label)",
            "version": _VERSION,
        },
        Contact: {"version": _VERSION},
        Goal: {"version": _VERSION},
        MeasureResponse: {},
        ActivityReferral: {"version": _VERSION},
        ActivityAttendance: {},
        BuddyMatch: {"version": _VERSION},
        MatchDecision: {
            "top_candidate_id": "About another candidate, not the person",
            "top_score": "About another candidate, not the person",
        },
        Alert: {},
        OutcomeReport: {
            "claim_key": "Internal key that stops a report being sent twice",
            "attempts": "Delivery machinery: how many times sending was tried",
            "last_error": "Delivery machinery: the mail server's last answer",
            "attempt_started_at": "Delivery machinery",
            "next_attempt_at": "Delivery machinery",
            "message_id": "Delivery machinery: the email's technical identifier",
            "claimed_by": "Delivery machinery: which process made the report",
        },
        QueuedOutcome: {},
        AuditEvent: {
            "id": "The row number in the audit log",
            "source_address": "The network address of the staff member's device: theirs, "
            "not the person's",
        },
    },
    "volunteer": {
        User: {
            "password_hash": "Protects the account: only a scrambled form is kept, which "
            "cannot be turned back into the password",
            "session_token": "Protects the account: the secret in the login cookie",
            "totp_secret": "Protects the account: the two-step login secret",
            "last_totp_step": "Protects the account: stops a two-step code being reused",
        },
        Volunteer: {"user_id": "Shown as the account above", "version": _VERSION},
        TrainingRecord: {"volunteer_id": _THIS_PERSON},
        VolunteerHours: {"volunteer_id": _THIS_PERSON},
        Contact: {
            "referral_id": "Would identify the person supported: their personal data",
            "author_id": _THIS_PERSON,
            "notes": "About the person supported: their personal data",
            "safeguarding_note": "About the person supported: their personal data",
            "version": _VERSION,
        },
        BuddyMatch: {
            "referral_id": "Would identify the person supported: their personal data",
            "volunteer_id": _THIS_PERSON,
            "end_reason": "Written about the person supported's support ending",
            "version": _VERSION,
        },
        MatchDecision: {
            "referral_id": "Would identify the person supported: their personal data",
            "candidate_id": _THIS_PERSON,
            "candidate_name": _THIS_PERSON,
            "reasons": "Compare the volunteer with the person supported",
            "top_candidate_id": "About another candidate",
            "top_score": "About another candidate",
        },
        ReminderSent: {"volunteer_id": _THIS_PERSON},
        Alert: {
            "user_id": _THIS_PERSON,
            "referral_id": "Would identify the person supported: their personal data",
            "message": "Names the person supported: their personal data",
        },
        AuditEvent: {"id": "The row number in the audit log"},
    },
}

# Tables that hang off a resident or volunteer but are not exported, with the reason.
TABLES_LEFT_OUT: dict[str, str] = {
    "referral_facts": "Figures worked out for the dashboards from the records in this export",
    "activity_referral_facts": "Figures worked out for the dashboards from the records "
    "in this export",
    "stale_referrals": "A list of records whose dashboard figures need working out again",
    "recovery_codes": "Protects the account: scrambled one-use login codes",
}

# References to a login account that the volunteer export follows to find their records.
ACCOUNT_LINKS: dict[str, str] = {
    "volunteers.user_id": "volunteer",
    "contacts.author_id": "contacts_logged",
    "alerts.user_id": "alerts",
}
_STAFF = "Names the member of staff who did it, on a record that is not about them"
_ACTING = (
    "Who worked on a resident's record: the record is the resident's data, not the "
    "volunteer's; what the volunteer did in the portal is in 'your_activity'"
)
# Every other reference to a login account, and why the volunteer export does not follow it.
ACCOUNT_LINKS_NOT_FOLLOWED: dict[str, str] = {
    "referrals.referred_by_id": _ACTING,
    "referrals.navigator_id": _ACTING,
    "referral_events.actor_id": _ACTING,
    "goals.created_by_id": _ACTING,
    "measure_responses.recorded_by_id": _ACTING,
    "activity_referrals.created_by_id": _ACTING,
    "match_decisions.chosen_by_id": _ACTING,
    "activity_referrals.responded_by_id": _STAFF,
    "activity_attendance.recorded_by_id": _STAFF,
    "training_records.recorded_by_id": _STAFF,
    "buddy_matches.proposed_by_id": _STAFF,
    "buddy_matches.ended_by_id": _STAFF,
    "volunteers.dbs_checked_by_id": _STAFF,
    "organisations.verified_by_id": _STAFF,
    "activity_imports.created_by_id": _STAFF,
    "matching_weights.updated_by_id": _STAFF,
    "outcome_reports.read_by_id": _STAFF,
}

NOT_INCLUDED = {
    "resident": [
        (
            "Figures worked out for the hub's dashboards",
            "They are counted from the records in this export and add nothing to them.",
        ),
        (
            "Other people in the outcome reports sent to your GP practice",
            "A report can cover several people: only the parts about you are included.",
        ),
        (
            "The network addresses of staff computers in the audit trail",
            "They are about the staff, not about you.",
        ),
        (
            "Internal counters and keys",
            "The portal uses them to stop changes being lost or reports sent twice; they say "
            "nothing about you.",
        ),
    ],
    "volunteer": [
        (
            "Your password, login session and two-step login secret",
            "They protect your account. Only a scrambled form of the password is kept, and it "
            "cannot be turned back into the password.",
        ),
        (
            "The names and details of the people you support, and what your contact notes say",
            "That is their personal information. Dates, how you were in touch and how long "
            "are included.",
        ),
        (
            "The words of alerts sent to you",
            "They name the people you support. When each was sent and read is included.",
        ),
    ],
}


# --- the sections -----------------------------------------------------------------------------

_AUDIT_COLUMNS = (
    ("occurred_at", "When"),
    ("actor", "Who"),
    ("actor_role", "Their role"),
    ("action", "What they did"),
    ("record", "Record"),
)
_AUDIT_SHOWN_AS = {"actor_id": "actor", "object_type": "record", "object_id": "record"}

RESIDENT_SECTIONS: tuple[Section, ...] = (
    Section(
        "person",
        "About you",
        Resident,
        (
            ("id", "Portal record number"),
            ("nhs_number", "NHS number"),
            ("given_name", "Given name"),
            ("family_name", "Family name"),
            ("date_of_birth", "Date of birth"),
            ("gender", "Gender"),
            ("address", "Address"),
            ("postcode", "Postcode"),
            ("phone", "Phone"),
            ("email", "Email"),
            ("preferred_contact", "How you prefer to be contacted"),
            ("language", "Language"),
            ("interpreter_needed", "Interpreter needed"),
            ("accessibility_needs", "Accessibility needs"),
            ("practice", "GP practice"),
            ("created_at", "First recorded"),
            ("anonymised_at", "Identifying details cleared"),
        ),
        shown_as={"practice_id": "practice"},
        one=True,
    ),
    Section(
        "referrals",
        "Referrals",
        Referral,
        (
            ("id", "Portal record number"),
            ("reference", "Reference"),
            ("source", "Referred by"),
            ("practice", "Referring GP practice"),
            ("referred_by", "Sent in by"),
            ("referrer_name", "Referrer's name"),
            ("referrer_role", "Referrer's role"),
            ("reasons", "Reasons"),
            ("details", "Details"),
            ("known_risks", "Known risks"),
            ("urgency", "Urgency"),
            ("consent_given", "Agreed to the referral"),
            ("consent_share_with_gp", "Agreed to details going back to the GP"),
            ("consent_recorded_by", "Agreement recorded by"),
            ("consent_recorded_at", "Agreement recorded on"),
            ("consent_withdrawn_at", "Agreement to share withdrawn on"),
            ("consent_withdrawn_by", "Withdrawal recorded by"),
            ("status", "Status"),
            ("route", "Route"),
            ("support_level", "Level of support (1 to 3)"),
            ("navigator", "Navigator"),
            ("int_team", "Integrated Neighbourhood Team"),
            ("int_sent_at", "Sent to the team on"),
            ("triage_note", "Triage note"),
            ("next_contact_on", "Next contact planned"),
            ("received_at", "Received"),
            ("first_contact_at", "First contact"),
            ("triaged_at", "Triaged"),
            ("assigned_at", "Navigator assigned"),
            ("closed_at", "Closed"),
            ("closure_reason", "Why it closed"),
            ("outcome_summary", "Outcome summary"),
            ("updated_at", "Last changed"),
        ),
        shown_as={
            "practice_id": "practice",
            "referred_by_id": "referred_by",
            "navigator_id": "navigator",
            "int_neighbourhood_id": "int_team",
        },
        also={ReferralReasonLink: {"reason": "reasons"}},
    ),
    Section(
        "matching_preferences",
        "What you would like from support",
        Referral,
        (
            ("referral", "Referral"),
            ("wants_buddy", "Would like a buddy"),
            ("preferred_buddy_gender", "Buddy gender preferred"),
            ("availability", "When you are free"),
            ("interests", "Interests"),
            ("access_needs", "Access needs at activities"),
        ),
    ),
    Section(
        "referral_history",
        "History of each referral",
        ReferralEvent,
        (
            ("referral", "Referral"),
            ("at", "When"),
            ("action", "What happened"),
            ("from_status", "Status before"),
            ("to_status", "Status after"),
            ("actor_label", "Who"),
            ("note", "Note"),
            ("changes", "What changed"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral"},
    ),
    Section(
        "contacts",
        "Contacts with you",
        Contact,
        (
            ("referral", "Referral"),
            ("occurred_at", "When"),
            ("author", "Who"),
            ("method", "How"),
            ("duration_minutes", "Minutes"),
            ("successful", "Reached you"),
            ("result", "Result"),
            ("notes", "Notes"),
            ("concern_raised", "Concern raised"),
            ("safeguarding_note", "Concern"),
            ("created_at", "Recorded"),
            ("updated_at", "Last changed"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral", "author_id": "author"},
    ),
    Section(
        "goals",
        "What matters to you (goals)",
        Goal,
        (
            ("referral", "Referral"),
            ("description", "Goal"),
            ("status", "Status"),
            ("set_on", "Set on"),
            ("closed_on", "Closed on"),
            ("created_by", "Recorded by"),
            ("created_at", "Recorded"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral", "created_by_id": "created_by"},
    ),
    Section(
        "measures",
        "Wellbeing questionnaires",
        MeasureResponse,
        (
            ("referral", "Referral"),
            ("recorded_at", "When"),
            ("scale", "Questionnaire"),
            ("stage", "Stage"),
            ("declined", "You chose not to answer"),
            ("answers", "Answers, in question order"),
            ("score", "Score"),
            ("results", "Results"),
            ("recorded_by", "Recorded by"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral", "recorded_by_id": "recorded_by"},
    ),
    Section(
        "activity_referrals",
        "Activities you were referred to",
        ActivityReferral,
        (
            ("referral", "Referral"),
            ("activity", "Activity"),
            ("status", "Status"),
            ("created_at", "Suggested"),
            ("created_by", "Suggested by"),
            ("consent_confirmed", "You agreed to details being shared"),
            ("person_name", "Name shared"),
            ("shared_phone", "Phone shared"),
            ("shared_email", "Email shared"),
            ("shared_age", "Age shared"),
            ("shared_note", "Note shared"),
            ("sent_at", "Sent to the organisation"),
            ("respond_by", "Answer due by"),
            ("reminded_on", "Organisation reminded"),
            ("lapse_notified_on", "Navigator told of no answer"),
            ("responded_at", "Organisation answered"),
            ("responded_by", "Answered by"),
            ("decline_reason", "Why declined"),
            ("ended_at", "Ended"),
            ("end_reason", "Why it ended"),
            ("id", "Record number"),
        ),
        shown_as={
            "referral_id": "referral",
            "activity_id": "activity",
            "created_by_id": "created_by",
            "responded_by_id": "responded_by",
        },
    ),
    Section(
        "activity_attendance",
        "Attendance at activities",
        ActivityAttendance,
        (
            ("activity", "Activity"),
            ("session_on", "Session"),
            ("attended", "Attended"),
            ("recorded_by", "Recorded by"),
            ("recorded_at", "Recorded"),
            ("id", "Record number"),
        ),
        shown_as={"activity_referral_id": "activity", "recorded_by_id": "recorded_by"},
    ),
    Section(
        "buddy_matches",
        "Buddies",
        BuddyMatch,
        (
            ("referral", "Referral"),
            # A buddy acts for the hub and the person knows them by their first name; the
            # rest of the volunteer's details are the volunteer's own.
            ("buddy", "Buddy (first name)"),
            ("status", "Status"),
            ("proposed_at", "Proposed"),
            ("proposed_by", "Proposed by"),
            ("responded_at", "Volunteer answered"),
            ("decline_reason", "Why the volunteer declined"),
            ("next_meeting_at", "Next meeting"),
            ("ended_at", "Ended"),
            ("ended_by", "Ended by"),
            ("end_reason", "Why it ended"),
            ("id", "Record number"),
        ),
        shown_as={
            "referral_id": "referral",
            "volunteer_id": "buddy",
            "proposed_by_id": "proposed_by",
            "ended_by_id": "ended_by",
        },
    ),
    Section(
        "match_decisions",
        "How your navigator, buddy and activities were chosen",
        MatchDecision,
        (
            ("referral", "Referral"),
            ("chosen_at", "When"),
            ("kind", "Choice of"),
            ("chosen", "Chosen"),
            ("rank", "Place in the suggestions"),
            ("score", "Match score"),
            ("reasons", "Why they suited you"),
            ("eligible_count", "How many could have been chosen"),
            ("from_suggestions", "Chosen from the suggestions"),
            ("chosen_by", "Chosen by"),
            ("id", "Record number"),
        ),
        shown_as={
            "referral_id": "referral",
            "candidate_id": "chosen",
            "candidate_name": "chosen",
            "chosen_by_id": "chosen_by",
        },
    ),
    Section(
        "alerts",
        "Alerts to staff about you",
        Alert,
        (
            ("referral", "Referral"),
            ("created_at", "When"),
            ("sent_to", "Sent to"),
            ("kind", "Kind"),
            ("message", "Message"),
            ("read_at", "Read"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral", "user_id": "sent_to"},
    ),
    Section(
        "outcome_reports",
        "Outcome reports sent to your GP practice",
        OutcomeReport,
        (
            ("practice", "GP practice"),
            ("kind", "Kind"),
            ("period_start", "Period from"),
            ("period_end", "Period to"),
            ("referrals", "Your referrals in it"),
            ("claimed_at", "Made"),
            ("status", "Delivery"),
            ("sent_at", "Sent"),
            ("sent_to", "Sent to"),
            ("read_at", "Opened by the practice"),
            ("read_by", "Opened by"),
            ("about_you", "What it said about you"),
            ("id", "Record number"),
        ),
        shown_as={
            "practice_id": "practice",
            "referral_ids": "referrals",
            "summaries": "about_you",
            "read_by_id": "read_by",
        },
        intro="Only the parts about you: a report can also cover other people.",
    ),
    Section(
        "queued_outcomes",
        "Changes waiting for, or carried by, an outcome report",
        QueuedOutcome,
        (
            ("referral", "Referral"),
            ("event", "Change"),
            ("queued_at", "When"),
            ("practice", "GP practice to tell"),
            ("report", "Carried by report number"),
            ("id", "Record number"),
        ),
        shown_as={"referral_id": "referral", "practice_id": "practice", "report_id": "report"},
    ),
    Section(
        "audit_trail",
        "Who looked at or changed your records",
        AuditEvent,
        _AUDIT_COLUMNS,
        shown_as=_AUDIT_SHOWN_AS,
        intro="Every time someone opened, changed or exported your records, newest first.",
    ),
)

VOLUNTEER_SECTIONS: tuple[Section, ...] = (
    Section(
        "account",
        "Your login account",
        User,
        (
            ("id", "Account number"),
            ("full_name", "Name"),
            ("email", "Email"),
            ("phone", "Phone"),
            ("role", "Role"),
            ("is_active", "Can log in"),
            ("is_volunteer_navigator", "Volunteer navigator"),
            ("caseload_capacity", "Cases you can hold"),
            ("languages", "Languages besides English"),
            ("neighbourhood", "Neighbourhood team"),
            ("practice", "GP practice"),
            ("organisation", "Organisation"),
            ("created_at", "Account made"),
            ("last_login_at", "Last logged in"),
            ("password_changed_at", "Password last changed"),
            ("mfa_enabled_at", "Two-step login set up"),
        ),
        shown_as={
            "neighbourhood_id": "neighbourhood",
            "practice_id": "practice",
            "organisation_id": "organisation",
        },
        one=True,
    ),
    Section(
        "volunteer",
        "Your volunteering",
        Volunteer,
        (
            ("id", "Volunteer record number"),
            ("status", "Status"),
            ("status_changed_at", "Status last changed"),
            ("left_reason", "Why you left"),
            ("status_note", "Note on your status"),
            ("role_buddy", "Buddy"),
            ("role_navigator", "Volunteer navigator"),
            ("role_befriender", "Telephone befriender"),
            ("postcode", "Postcode"),
            ("gender", "Gender"),
            ("languages", "Languages"),
            ("interests", "Interests"),
            ("availability", "When you are free"),
            ("transport", "Transport"),
            ("max_buddies", "Most people you can buddy at once"),
            ("motivation", "Why you want to volunteer"),
            ("privacy_consent_at", "Agreed to the privacy notice"),
            ("applied_at", "Applied"),
            ("joined_on", "Joined"),
            ("anonymised_at", "Identifying details cleared"),
            ("references_requested_on", "References requested"),
            ("referee_1_name", "First referee"),
            ("referee_1_contact", "First referee's contact"),
            ("referee_1_received_on", "First reference received"),
            ("referee_2_name", "Second referee"),
            ("referee_2_contact", "Second referee's contact"),
            ("referee_2_received_on", "Second reference received"),
            ("dbs_level", "DBS check level"),
            ("dbs_certificate_number", "DBS certificate number"),
            ("dbs_issue_date", "DBS certificate issued"),
            ("dbs_update_service", "On the DBS Update Service"),
            ("dbs_checked_by", "DBS checked by"),
            ("dbs_checked_at", "DBS checked on"),
        ),
        shown_as={"dbs_checked_by_id": "dbs_checked_by"},
        one=True,
    ),
    Section(
        "training",
        "Training",
        TrainingRecord,
        (
            ("course", "Course"),
            ("completed_on", "Completed"),
            ("valid_until", "Valid until"),
            ("trainer", "Trainer"),
            ("notes", "Notes"),
            ("recorded_by", "Recorded by"),
            ("created_at", "Recorded"),
            ("id", "Record number"),
        ),
        shown_as={"module_id": "course", "recorded_by_id": "recorded_by"},
    ),
    Section(
        "hours",
        "Hours you logged",
        VolunteerHours,
        (
            ("worked_on", "Day"),
            ("kind", "What for"),
            ("minutes", "Minutes"),
            ("notes", "Notes"),
            ("created_at", "Logged"),
            ("id", "Record number"),
        ),
    ),
    Section(
        "contacts_logged",
        "Contacts you logged",
        Contact,
        (
            ("occurred_at", "When"),
            ("method", "How"),
            ("duration_minutes", "Minutes"),
            ("successful", "Reached the person"),
            ("result", "Result"),
            ("concern_raised", "You raised a concern"),
            ("created_at", "Logged"),
            ("updated_at", "Last changed"),
            ("id", "Record number"),
        ),
        intro="Who the contact was with, and the notes, are left out: they are about the "
        "person you support.",
    ),
    Section(
        "buddy_matches",
        "Buddy matches",
        BuddyMatch,
        (
            ("status", "Status"),
            ("proposed_at", "Proposed"),
            ("proposed_by", "Proposed by"),
            ("responded_at", "You answered"),
            ("decline_reason", "Why you declined"),
            ("next_meeting_at", "Next meeting"),
            ("ended_at", "Ended"),
            ("ended_by", "Ended by"),
            ("id", "Record number"),
        ),
        shown_as={"proposed_by_id": "proposed_by", "ended_by_id": "ended_by"},
        intro="The people you were matched with are not named: that is their personal data.",
    ),
    Section(
        "match_decisions",
        "When you were chosen as a match",
        MatchDecision,
        (
            ("chosen_at", "When"),
            ("kind", "Chosen as"),
            ("rank", "Place in the suggestions"),
            ("score", "Match score"),
            ("eligible_count", "How many could have been chosen"),
            ("from_suggestions", "Chosen from the suggestions"),
            ("chosen_by", "Chosen by"),
            ("id", "Record number"),
        ),
        shown_as={"chosen_by_id": "chosen_by"},
    ),
    Section(
        "reminders",
        "Reminders emailed to you",
        ReminderSent,
        (
            ("subject", "About"),
            ("expires_on", "Runs out on"),
            ("threshold_days", "Days before it ran out"),
            ("sent_at", "Sent"),
            ("id", "Record number"),
        ),
    ),
    Section(
        "alerts",
        "Alerts sent to you",
        Alert,
        (("created_at", "When"), ("kind", "Kind"), ("read_at", "Read"), ("id", "Record number")),
    ),
    Section(
        "audit_trail",
        "Who looked at or changed your records",
        AuditEvent,
        _AUDIT_COLUMNS,
        shown_as=_AUDIT_SHOWN_AS,
        intro="Every time someone opened, changed or exported your records, newest first.",
    ),
    Section(
        "your_activity",
        "What you did in the portal",
        AuditEvent,
        (
            ("occurred_at", "When"),
            ("action", "What you did"),
            ("record_type", "Kind of record"),
            ("source_address", "Network address"),
        ),
        # The kind of record is all that is shown of what they acted on.
        shown_as={"object_type": "record_type"},
        intro="Newest first. Which record is left out: it may be about the people you support.",
    ),
)

SECTIONS = {"resident": RESIDENT_SECTIONS, "volunteer": VOLUNTEER_SECTIONS}


# --- reading the records ----------------------------------------------------------------------


def _all(query) -> list:
    return list(db.session.scalars(query))


def _staff(user_ids: Iterable[int | None], with_role: bool = True) -> dict[int, str]:
    """How the export names people who acted for the hub: 'Full name (Role)'.

    A volunteer is named by first name only, as the people they support know them: the
    rest is the volunteer's own personal data. Text written at the time (a history step's
    "who", an alert's message) is shown as written, which is why the hub checks an export
    before sending it.
    """
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    names = {}
    for user in _all(sa.select(User).where(User.id.in_(wanted))):
        name = user.full_name
        if user.role == Role.VOLUNTEER:
            name = name.split()[0] if name.split() else name
        names[user.id] = f"{name} ({user.role.label})" if with_role else name
    return names


def _practice_name(practice) -> str | None:
    return f"{practice.name} ({practice.ods_code})" if practice else None


def _slots(values: Iterable[str]) -> list[Coded]:
    words = {choice.value: choice.label for choice in SLOT_CHOICES}
    return [Coded(v, words.get(v, v)) for v in values or []]


def _results(response: MeasureResponse) -> list[dict]:
    if response.declined or not response.answers:
        return []
    try:
        found = scales.results(response.scale, response.answers)
    except (ValueError, TypeError):
        # Answers that no longer fit the scale are still shown as stored, just not scored.
        return []
    return [{"name": r.name, "value": r.value, "band": r.band} for r in found]


def _label(event: AuditEvent) -> str:
    kind = trail.kind_of(event.object_type, event.action)
    return kind.label if kind else (event.object_type or "").replace("_", " ").capitalize()


def _trail(
    section: Section, events: list[AuditEvent], names: Mapping[type, Mapping[int, str]]
) -> list[dict]:
    """The trail's own words for who and what, and the record named only from `names`.

    `names` is {model: {row id: words}}, from records already in this export, so the
    trail names nothing the export does not: the trail page's own descriptions name a
    buddy in full, and a case by its reference to the volunteer.
    """
    named = _staff((e.actor_id for e in events), with_role=False)
    rows = []
    for row in trail.describe(events):
        event = row.event
        kind = trail.kind_of(event.object_type, event.action)
        links = (*kind.resident, *kind.volunteer) if kind else ()
        object_id = event.object_id or ""
        row_id = int(object_id) if object_id.isascii() and object_id.isdigit() else None
        found = [
            names[link.key.class_][row_id]
            for link in links
            if row_id in names.get(link.key.class_, {})
        ]
        record = _label(event)
        if found and found[0]:
            record = f"{record} {found[0]}"
        elif not found and event.object_id:
            record = f"{record} {event.object_id}"
        rows.append(
            section.row(
                event,
                actor=named.get(event.actor_id, row.actor),
                actor_role=row.role,
                action=row.action,
                record=record,
            )
        )
    return rows


# --- the resident -----------------------------------------------------------------------------


# Finding the person reuses the audit trail's search, so both pages read the same typing
# the same way; each box here takes only its own kind of person.


def find_resident(typed: str) -> Resident | None:
    """The resident named by a referral reference or NHS number, typed as people type them."""
    if "@" in (typed or ""):
        return None
    person = trail.find_person(typed)
    if person is None or person.kind != trail.RESIDENT:
        return None
    return db.session.get(Resident, person.id)


def why_no_resident(typed: str) -> str:
    """What to say beside the box when `find_resident` found nobody."""
    if "@" in typed:
        return (
            "Enter a referral reference or NHS number. To find a volunteer, use their email below"
        )
    problem = trail.person_problem(typed)
    if problem is None or problem == trail.PERSON_HINT:
        return "Enter a referral reference, like SP-7K3M9Q, or a 10-digit NHS number"
    return problem


_REASON_ORDER = list(ReferralReason)


def _changes(changes: Mapping | None) -> list[dict]:
    """{field: [before, after]} as a list; a value of any other shape is kept as the after."""
    out = []
    for name, pair in (changes or {}).items():
        before, after = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        out.append({"field": name, "before": before, "after": after})
    return out


def _by_referral(model, referral_ids: list[int], *order) -> list:
    if not referral_ids:
        return []
    return _all(sa.select(model).where(model.referral_id.in_(referral_ids)).order_by(*order))


def _about_you(report: OutcomeReport, references: set[str]) -> list[dict]:
    return [s for s in report.summaries or [] if s.get("reference") in references]


def resident_record(resident_id: int, produced_by: str | None = None) -> dict:
    """Everything held about one resident, section by section (see the module docstring)."""
    resident = db.session.get(Resident, resident_id)
    if resident is None:
        raise PersonNotFound(resident_id)
    referrals = _all(
        sa.select(Referral)
        .where(Referral.resident_id == resident.id)
        .order_by(Referral.received_at, Referral.id)
    )
    ids = [r.id for r in referrals]
    ref = {r.id: r.reference for r in referrals}
    events = _by_referral(ReferralEvent, ids, ReferralEvent.at, ReferralEvent.id)
    contacts = _by_referral(Contact, ids, Contact.occurred_at, Contact.id)
    goals = _by_referral(Goal, ids, Goal.set_on, Goal.id)
    measures = _by_referral(MeasureResponse, ids, MeasureResponse.recorded_at, MeasureResponse.id)
    links = _by_referral(ActivityReferral, ids, ActivityReferral.created_at, ActivityReferral.id)
    matches = _by_referral(BuddyMatch, ids, BuddyMatch.proposed_at, BuddyMatch.id)
    decisions = _by_referral(MatchDecision, ids, MatchDecision.chosen_at, MatchDecision.id)
    alerts = _by_referral(Alert, ids, Alert.created_at, Alert.id)
    queued = _by_referral(QueuedOutcome, ids, QueuedOutcome.queued_at, QueuedOutcome.id)
    attendance = (
        _all(
            sa.select(ActivityAttendance)
            .where(ActivityAttendance.activity_referral_id.in_([a.id for a in links]))
            .order_by(ActivityAttendance.session_on, ActivityAttendance.id)
        )
        if links
        else []
    )
    activities = {
        a.id: a
        for a in (
            _all(sa.select(Activity).where(Activity.id.in_({a.activity_id for a in links})))
            if links
            else []
        )
    }
    buddies = {
        v.id: v
        for v in (
            _all(sa.select(Volunteer).where(Volunteer.id.in_({m.volunteer_id for m in matches})))
            if matches
            else []
        )
    }
    reports = _reports_about(referrals)
    audited = _all(trail.events_about_resident(resident.id))

    staff = _staff(
        [
            *(r.referred_by_id for r in referrals),
            *(r.navigator_id for r in referrals),
            *(c.author_id for c in contacts),
            *(g.created_by_id for g in goals),
            *(m.recorded_by_id for m in measures),
            *(a.created_by_id for a in links),
            *(a.responded_by_id for a in links),
            *(a.recorded_by_id for a in attendance),
            *(m.proposed_by_id for m in matches),
            *(m.ended_by_id for m in matches),
            *(d.chosen_by_id for d in decisions),
            *(a.user_id for a in alerts),
            *(r.read_by_id for r in reports),
        ]
    )
    section = {s.key: s for s in RESIDENT_SECTIONS}

    def activity_name(activity_id: int) -> str:
        activity = activities.get(activity_id)
        if activity is None:
            return "An activity no longer listed"
        return f"{activity.title}, {activity.organisation.name}"

    def buddy_name(volunteer_id: int) -> str:
        volunteer = buddies.get(volunteer_id)
        return _staff([volunteer.user_id], with_role=False)[volunteer.user_id] if volunteer else ""

    def chosen(d: MatchDecision) -> str:
        if d.kind == MatchKind.BUDDY:
            return d.candidate_name.split()[0] if d.candidate_name else ""
        return d.candidate_name

    references = set(ref.values())
    on_case = {
        model: {row.id: f"on case {ref[row.referral_id]}" for row in rows}
        for model, rows in (
            (Contact, contacts),
            (Goal, goals),
            (MeasureResponse, measures),
            (ActivityReferral, links),
            (BuddyMatch, matches),
        )
    }
    names = {Referral: ref, Resident: {resident.id: ""}, **on_case}

    record = {
        "schema_version": SCHEMA_VERSION,
        "kind": "resident",
        "export": _export_details(produced_by),
        "person": section["person"].row(resident, practice=_practice_name(resident.practice)),
        "referrals": [
            section["referrals"].row(
                r,
                practice=_practice_name(r.practice),
                referred_by=staff.get(r.referred_by_id),
                reasons=sorted(r.reason_codes, key=_REASON_ORDER.index),
                navigator=staff.get(r.navigator_id),
                int_team=r.int_neighbourhood.name if r.int_neighbourhood else None,
            )
            for r in referrals
        ],
        "matching_preferences": [
            section["matching_preferences"].row(
                r,
                referral=r.reference,
                availability=_slots(r.availability),
                access_needs=[Coded(k, ACCESS_FEATURES.get(k, k)) for k in r.access_needs or []],
            )
            for r in referrals
        ],
        "referral_history": [
            section["referral_history"].row(
                e,
                referral=ref[e.referral_id],
                changes=_changes(e.changes),
            )
            for e in events
        ],
        "contacts": [
            section["contacts"].row(c, referral=ref[c.referral_id], author=staff.get(c.author_id))
            for c in contacts
        ],
        "goals": [
            section["goals"].row(
                g, referral=ref[g.referral_id], created_by=staff.get(g.created_by_id)
            )
            for g in goals
        ],
        "measures": [
            section["measures"].row(
                m,
                referral=ref[m.referral_id],
                recorded_by=staff.get(m.recorded_by_id),
                results=_results(m),
            )
            for m in measures
        ],
        "activity_referrals": [
            section["activity_referrals"].row(
                a,
                referral=ref[a.referral_id],
                activity=activity_name(a.activity_id),
                created_by=staff.get(a.created_by_id),
                responded_by=staff.get(a.responded_by_id),
            )
            for a in links
        ],
        "activity_attendance": [
            section["activity_attendance"].row(
                a,
                activity=activity_name(a.activity_referral.activity_id),
                recorded_by=staff.get(a.recorded_by_id),
            )
            for a in attendance
        ],
        "buddy_matches": [
            section["buddy_matches"].row(
                m,
                referral=ref[m.referral_id],
                buddy=buddy_name(m.volunteer_id),
                proposed_by=staff.get(m.proposed_by_id),
                ended_by=staff.get(m.ended_by_id),
            )
            for m in matches
        ],
        "match_decisions": [
            section["match_decisions"].row(
                d,
                referral=ref[d.referral_id],
                chosen=chosen(d),
                chosen_by=staff.get(d.chosen_by_id),
            )
            for d in decisions
        ],
        "alerts": [
            section["alerts"].row(a, referral=ref[a.referral_id], sent_to=staff.get(a.user_id))
            for a in alerts
        ],
        "outcome_reports": [
            section["outcome_reports"].row(
                r,
                practice=_practice_name(r.practice),
                referrals=[ref[i] for i in r.referral_ids or [] if i in ref],
                read_by=staff.get(r.read_by_id),
                about_you=_about_you(r, references),
            )
            for r in reports
        ],
        "queued_outcomes": [
            section["queued_outcomes"].row(
                q,
                referral=ref[q.referral_id],
                practice=_practice_name(q.practice),
                report=q.report_id,
            )
            for q in queued
        ],
        "audit_trail": _trail(section["audit_trail"], audited, names),
        "not_included": _not_included("resident"),
    }
    return record


def _reports_about(referrals: list[Referral]) -> list[OutcomeReport]:
    """Reports to any practice that told about these referrals; summaries read per report."""
    if not referrals:
        return []
    ids = {r.id for r in referrals}
    carried = _all(
        sa.select(QueuedOutcome.report_id).where(
            QueuedOutcome.referral_id.in_(ids), QueuedOutcome.report_id.is_not(None)
        )
    )
    practices = {r.practice_id for r in referrals} | {
        r.resident.practice_id for r in referrals if r.resident
    }
    practices.discard(None)
    # A report lists the referrals it carried; the queue says which it took. Either finds it.
    candidates = _all(
        sa.select(OutcomeReport)
        .where(sa.or_(OutcomeReport.id.in_(carried), OutcomeReport.practice_id.in_(practices)))
        .order_by(OutcomeReport.claimed_at, OutcomeReport.id)
    )
    return [r for r in candidates if r.id in carried or ids & set(r.referral_ids or [])]


# --- the volunteer ----------------------------------------------------------------------------


def find_volunteer(email: str) -> Volunteer | None:
    if "@" not in (email or ""):
        return None
    person = trail.find_person(email)
    if person is None or person.kind != trail.VOLUNTEER:
        return None
    return db.session.get(Volunteer, person.id)


def why_no_volunteer(email: str) -> str:
    """What to say beside the box when `find_volunteer` found nobody."""
    if "@" not in email:
        return "Enter an email address in the correct format, like name@example.com"
    user = find_user_by_email(email)
    if user is not None:
        # This page exports residents and volunteers only; a staff request is answered by hand.
        return "This email address is a staff account, not a volunteer"
    return "No volunteer has this email address. Check it and try again"


def _course_words(modules: Mapping[int, TrainingModule], record: TrainingRecord) -> str:
    module = modules.get(record.module_id)
    return f"({module.name})" if module else ""


def _reminder_subject(subject: str, modules: Mapping[int, str]) -> Coded:
    if subject == "dbs":
        return Coded(subject, "DBS check")
    kind, _, number = subject.partition(":")
    if kind == "training" and number.isascii() and number.isdigit():
        return Coded(subject, f"Training: {modules.get(int(number), 'a course')}")
    return Coded(subject, subject)


def volunteer_record(volunteer_id: int, produced_by: str | None = None) -> dict:
    """Everything held about one volunteer. Nothing in it identifies a person they support:
    a volunteer's request covers their own data, and the residents' is theirs, so matches,
    contacts and alerts keep dates and kinds but drop who and what was written."""
    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise PersonNotFound(volunteer_id)
    user = volunteer.user
    training = _all(
        sa.select(TrainingRecord)
        .where(TrainingRecord.volunteer_id == volunteer.id)
        .order_by(TrainingRecord.completed_on, TrainingRecord.id)
    )
    hours = _all(
        sa.select(VolunteerHours)
        .where(VolunteerHours.volunteer_id == volunteer.id)
        .order_by(VolunteerHours.worked_on, VolunteerHours.id)
    )
    contacts = _all(
        sa.select(Contact)
        .where(Contact.author_id == user.id)
        .order_by(Contact.occurred_at, Contact.id)
    )
    matches = _all(
        sa.select(BuddyMatch)
        .where(BuddyMatch.volunteer_id == volunteer.id)
        .order_by(BuddyMatch.proposed_at, BuddyMatch.id)
    )
    decisions = _all(
        sa.select(MatchDecision)
        .where(
            sa.or_(
                sa.and_(
                    MatchDecision.kind == MatchKind.BUDDY,
                    MatchDecision.candidate_id == volunteer.id,
                ),
                sa.and_(
                    MatchDecision.kind == MatchKind.NAVIGATOR,
                    MatchDecision.candidate_id == user.id,
                ),
            )
        )
        .order_by(MatchDecision.chosen_at, MatchDecision.id)
    )
    reminders = _all(
        sa.select(ReminderSent)
        .where(ReminderSent.volunteer_id == volunteer.id)
        .order_by(ReminderSent.sent_at, ReminderSent.id)
    )
    alerts = _all(
        sa.select(Alert).where(Alert.user_id == user.id).order_by(Alert.created_at, Alert.id)
    )
    about = _all(trail.events_about_volunteer(volunteer.id))
    seen = {e.id for e in about}
    own = [
        e
        for e in _all(
            sa.select(AuditEvent)
            .where(AuditEvent.actor_id == user.id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
        if e.id not in seen
    ]
    modules = {m.id: m for m in _all(sa.select(TrainingModule))}
    staff = _staff(
        [
            volunteer.dbs_checked_by_id,
            *(t.recorded_by_id for t in training),
            *(m.proposed_by_id for m in matches),
            *(m.ended_by_id for m in matches),
            *(d.chosen_by_id for d in decisions),
        ]
    )
    section = {s.key: s for s in VOLUNTEER_SECTIONS}
    names = {
        Volunteer: {volunteer.id: ""},
        User: {user.id: ""},
        TrainingRecord: {t.id: _course_words(modules, t) for t in training},
        VolunteerHours: {h.id: "" for h in hours},
        BuddyMatch: {m.id: "" for m in matches},
    }

    def course(record: TrainingRecord) -> tuple[str, date | None]:
        module = modules.get(record.module_id)
        if module is None:
            return "A course no longer listed", None
        return module.name, expiry_date(record.completed_on, module.valid_for_months)

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "volunteer",
        "export": _export_details(produced_by),
        "account": section["account"].row(
            user,
            neighbourhood=user.neighbourhood.name if user.neighbourhood else None,
            practice=_practice_name(user.practice),
            organisation=user.organisation.name if user.organisation else None,
        ),
        "volunteer": section["volunteer"].row(
            volunteer,
            availability=_slots(volunteer.availability),
            dbs_checked_by=staff.get(volunteer.dbs_checked_by_id),
        ),
        "training": [
            section["training"].row(
                t,
                course=course(t)[0],
                valid_until=course(t)[1],
                recorded_by=staff.get(t.recorded_by_id),
            )
            for t in training
        ],
        "hours": [section["hours"].row(h) for h in hours],
        "contacts_logged": [section["contacts_logged"].row(c) for c in contacts],
        "buddy_matches": [
            section["buddy_matches"].row(
                m, proposed_by=staff.get(m.proposed_by_id), ended_by=staff.get(m.ended_by_id)
            )
            for m in matches
        ],
        "match_decisions": [
            section["match_decisions"].row(d, chosen_by=staff.get(d.chosen_by_id))
            for d in decisions
        ],
        "reminders": [
            section["reminders"].row(
                r, subject=_reminder_subject(r.subject, {k: m.name for k, m in modules.items()})
            )
            for r in reminders
        ],
        "alerts": [section["alerts"].row(a) for a in alerts],
        "audit_trail": _trail(section["audit_trail"], about, names),
        "your_activity": [
            section["your_activity"].row(
                e,
                action=trail.ACTIONS.get(e.action, e.action.replace("_", " ").capitalize()),
                record_type=_label(e),
            )
            for e in own
        ],
        "not_included": _not_included("volunteer"),
    }


# --- shared pieces ----------------------------------------------------------------------------


def _export_details(produced_by: str | None) -> dict:
    return {
        "produced_at": utcnow(),
        "produced_by": produced_by,
        "hub": current_app.config["HUB_NAME"],
    }


def _not_included(kind: str) -> list[dict]:
    return [{"what": what, "why": why} for what, why in NOT_INCLUDED[kind]]


def _plain(value: Any) -> Any:
    """The record as JSON types: ISO dates and times, coded values as {value, label}."""
    if isinstance(value, LabelledEnum | Coded):
        return {"value": value.value, "label": value.label}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def as_json(record: dict) -> str:
    return json.dumps(_plain(record), indent=2, ensure_ascii=False)


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def display(value: Any) -> str:
    """One value as a person reads it in the PDF; a blank for nothing recorded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, LabelledEnum | Coded):
        return value.label
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        if set(value) == {"field", "before", "after"}:
            before = display(value["before"]) or "blank"
            after = display(value["after"]) or "blank"
            return f"{value['field']}: {before} → {after}"
        if set(value) == {"name", "value", "band"}:
            band = f" ({value['band']})" if value["band"] else ""
            return f"{value['name']}: {display(value['value'])}{band}"
        return "\n".join(_lines(value))
    if isinstance(value, list | tuple):
        parts = [display(v) for v in value]
        joiner = "\n" if any(isinstance(v, Mapping) for v in value) else ", "
        return joiner.join(p for p in parts if p)
    return str(value)


def _lines(value: Any, prefix: str = "") -> list[str]:
    """A stored document (an outcome report's summary) as 'Label: value' lines.

    Where a code has its words beside it ("event" and "event_label"), only the words show.
    """
    if isinstance(value, Mapping):
        lines = []
        for key, item in value.items():
            key = str(key)
            if key == "schema_version" or f"{key}_label" in value:
                continue
            label = _words(key.removesuffix("_label"))
            lines += _lines(item, f"{prefix}, {label.lower()}" if prefix else label)
        return lines
    if isinstance(value, list):
        if all(not isinstance(v, Mapping | list) for v in value):
            return [f"{prefix}: {', '.join(display(v) for v in value)}"] if value else []
        return [line for item in value for line in _lines(item, prefix)]
    shown = display(value)
    return [f"{prefix}: {shown}"] if shown else []


def _shown(key: str, value: Any) -> str:
    # Written in threes, as on NHS letters, so the person recognises it.
    return format_nhs_number(value) if key == "nhs_number" else display(value)


# Sections with more columns than this print one small table per record, not one wide table.
_WIDEST_TABLE = 5


def printable(record: dict) -> list[dict]:
    """The sections with every value in words, for the PDF template."""
    out = []
    for section in SECTIONS[record["kind"]]:
        value = record[section.key]
        rows = [value] if section.one else value
        out.append(
            {
                "title": section.title,
                "intro": section.intro,
                "one": section.one,
                "layout": "table"
                if not section.one and len(section.columns) <= _WIDEST_TABLE
                else "records",
                "labels": [label for _, label in section.columns],
                "rows": [
                    [(label, _shown(key, row[key])) for key, label in section.columns]
                    for row in rows
                ],
            }
        )
    return out


def subject_name(record: dict) -> str:
    if record["kind"] == "resident":
        return f"{record['person']['given_name']} {record['person']['family_name']}"
    return record["account"]["full_name"]


def render_html(record: dict) -> str:
    return render_template(
        "governance/subject_access_pdf.html",
        record=record,
        name=subject_name(record),
        sections=printable(record),
        produced_at=display(record["export"]["produced_at"]),
        not_included=record["not_included"],
    )


def render_pdf(record: dict) -> bytes:
    from weasyprint import HTML

    # No base URL, as for the plan and the report letters: it carries its own styles and
    # fetches nothing.
    return HTML(string=render_html(record)).write_pdf()
