"""Reading the audit trail (portal/audit/trail.py): which events are about whom, found
through the records they name, on both databases."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.audit import trail
from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.reports.models import OutcomeReport, QueuedOutcome, ReportKind
from portal.volunteers.models import HoursKind, VolunteerHours
from tests.factories import (
    make_activity,
    make_buddy_match,
    make_contact,
    make_goal,
    make_referral,
    make_resident,
    make_training_module,
    make_training_record,
    make_user,
    make_volunteer,
    valid_nhs_number,
)


def event(action, object_type, object_id, actor=None, at=None) -> AuditEvent:
    row = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_role=str(actor.role) if actor else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        occurred_at=at or utcnow(),
    )
    db.session.add(row)
    db.session.commit()
    return row


def found(condition) -> set[tuple[str, str, str]]:
    rows = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id).where(condition)
    )
    return {tuple(row) for row in rows}


def referral_with_id(wanted: int, **kw):
    """A referral whose id is exactly `wanted`: ids are taken in order, so make until then."""
    made = make_referral(**kw)
    while made.id < wanted:
        made = make_referral(**kw)
    assert made.id == wanted, "the ids ran past the one the test needs"
    return made


# --- whose events -------------------------------------------------------------------------------


def test_ids_are_compared_whole_and_by_type_never_as_text_prefixes(app):
    """Resident A's case 1 is not B's case 11, nor B's contact 1."""
    navigator = make_user(Role.NAVIGATOR)
    first = make_referral()
    other_person = make_resident()
    eleventh = referral_with_id(int(f"{first.id}1"), resident=other_person)
    contact = make_contact(eleventh, navigator)
    while contact.id < first.id:
        contact = make_contact(eleventh, navigator)
    assert str(contact.id) == str(first.id)
    event("viewed", "case", first.id, navigator)
    event("viewed", "case", eleventh.id, navigator)
    event("created", "contact", contact.id, navigator)
    event("viewed_list", "caseload", first.id, navigator)  # a navigator's id: nobody's case

    assert found(trail.about_resident(first.resident_id)) == {("viewed", "case", str(first.id))}
    assert found(trail.about_resident(other_person.id)) == {
        ("viewed", "case", str(eleventh.id)),
        ("created", "contact", str(contact.id)),
    }


def test_every_record_on_a_case_leads_back_to_the_person(app):
    navigator = make_user(Role.NAVIGATOR)
    person = make_resident()
    referral = make_referral(resident=person)
    later = make_referral(resident=person)
    decoy = make_referral()
    volunteer = make_volunteer()

    def records_on(case):
        measure = MeasureResponse(
            referral_id=case.id,
            scale=Scale.UCLA3,
            stage=Stage.BASELINE,
            answers=[1, 2, 3],
            score=6,
            recorded_by_id=navigator.id,
        )
        link = ActivityReferral(
            referral_id=case.id, activity_id=make_activity().id, created_by_id=navigator.id
        )
        db.session.add_all([measure, link])
        db.session.commit()
        return {
            "contact": make_contact(case, navigator).id,
            "goal": make_goal(case, navigator).id,
            "measure": measure.id,
            "activity_referral": link.id,
            "buddy_match": make_buddy_match(case, volunteer, navigator).id,
        }

    expected = set()
    for case in (referral, later, decoy):
        ids = records_on(case)
        for object_type in (
            "referral",
            "case",
            "plan",
            "directory_for_case",
            "navigator_suggestions",
            "buddy_suggestions",
            "activity_suggestions",
        ):
            ids[object_type] = case.id
        for object_type, object_id in ids.items():
            event("viewed", object_type, object_id, navigator)
            if case is not decoy:
                expected.add(("viewed", object_type, str(object_id)))

    assert found(trail.about_resident(person.id)) == expected


def test_outcome_reports_lead_to_everyone_they_carry(app):
    admin = make_user(Role.ADMIN)
    person, someone_else = make_resident(), make_resident()
    closed = make_referral(resident=person)
    practice_id = closed.practice_id
    day = date(2026, 8, 3)

    def report(key):
        made = OutcomeReport(
            claim_key=key,
            kind=ReportKind.SCHEDULED,
            practice_id=practice_id,
            period_start=day,
            period_end=day,
        )
        db.session.add(made)
        db.session.flush()
        return made

    scheduled, for_others = report("scheduled:1"), report("scheduled:2")
    queued = QueuedOutcome(referral_id=closed.id, practice_id=practice_id, report_id=scheduled.id)
    others = QueuedOutcome(
        referral_id=make_referral(resident=someone_else).id,
        practice_id=practice_id,
        report_id=for_others.id,
    )
    db.session.add_all([queued, others])
    db.session.flush()
    # A notice is claimed for one queued change and leaves it waiting for the regular report.
    notice = report(f"notice:{queued.id}")
    db.session.commit()
    for made in (scheduled, for_others, notice):
        event("viewed", "outcome_report", made.id, admin)

    assert found(trail.about_resident(person.id)) == {
        ("viewed", "outcome_report", str(scheduled.id)),
        ("viewed", "outcome_report", str(notice.id)),
    }
    assert found(trail.about_resident(someone_else.id)) == {
        ("viewed", "outcome_report", str(for_others.id))
    }


def test_a_volunteers_trail_holds_their_own_records_and_no_one_elses(app):
    coordinator = make_user(Role.COORDINATOR)
    volunteer, other = make_volunteer(), make_volunteer()
    module = make_training_module()
    case = make_referral()

    def records_of(who):
        hours = VolunteerHours(
            volunteer_id=who.id, worked_on=date(2026, 8, 1), kind=HoursKind.TRAINING, minutes=60
        )
        db.session.add(hours)
        db.session.commit()
        return [
            ("viewed", "volunteer", who.id),
            ("changed", "volunteer_dbs", who.id),
            ("created", "training_record", make_training_record(who, module).id),
            ("created", "volunteer_hours", hours.id),
            ("viewed", "buddy_match", make_buddy_match(case, who, coordinator).id),
            ("viewed_list", "buddy_matches", who.id),
            ("user_invited", "user", who.user_id),
            ("viewed", "audit_trail_volunteer", who.id),
        ]

    mine = records_of(volunteer)
    for action, object_type, object_id in [*mine, *records_of(other)]:
        event(action, object_type, object_id, coordinator)
    # The same number naming a case or a month's export is not about the volunteer.
    event("viewed", "case", volunteer.id, coordinator)
    event("exported", "volunteer_hours", "2026-01..2026-03", coordinator)

    assert found(trail.about_volunteer(volunteer.id)) == {
        (action, object_type, str(object_id)) for action, object_type, object_id in mine
    }


def test_a_buddy_match_is_about_both_the_resident_and_the_volunteer(app):
    coordinator = make_user(Role.COORDINATOR)
    volunteer = make_volunteer()
    case = make_referral()
    match = make_buddy_match(case, volunteer, coordinator)
    event("changed", "buddy_match", match.id, coordinator)
    expected = {("changed", "buddy_match", str(match.id))}
    assert found(trail.about_resident(case.resident_id)) == expected
    assert found(trail.about_volunteer(volunteer.id)) == expected


def test_a_proposed_buddy_is_read_by_the_referral_id_it_was_written_with(app):
    """ "created buddy_match" rows hold the referral's id; later steps hold the match's."""
    coordinator = make_user(Role.COORDINATOR)
    volunteer = make_volunteer()
    case = make_referral()
    other_case = make_referral()
    match = make_buddy_match(other_case, volunteer, coordinator)
    while match.id < case.id:
        match = make_buddy_match(other_case, volunteer, coordinator)
    assert match.id == case.id  # the same number, meaning two different records
    proposed = event("created", "buddy_match", case.id, coordinator)
    ended = event("changed", "buddy_match", match.id, coordinator)

    assert found(trail.about_resident(case.resident_id)) == {
        ("created", "buddy_match", str(case.id))
    }
    assert found(trail.about_resident(other_case.resident_id)) == {
        ("changed", "buddy_match", str(match.id))
    }
    assert found(trail.about_volunteer(volunteer.id)) == {("changed", "buddy_match", str(match.id))}
    assert [r.record for r in trail.describe([proposed, ended])] == [
        f"Buddy proposed for case {case.reference}",
        f"Buddy match of {volunteer.user.full_name} with case {other_case.reference}",
    ]


def test_events_about_a_person_come_newest_first(app):
    navigator = make_user(Role.NAVIGATOR)
    case = make_referral()
    now = utcnow()
    older = event("viewed", "case", case.id, navigator, now - timedelta(days=2))
    newer = event("viewed", "referral", case.id, navigator, now - timedelta(days=1))
    events = db.session.scalars(trail.events_about_resident(case.resident_id)).all()
    assert [e.id for e in events] == [newer.id, older.id]


# --- finding the person -------------------------------------------------------------------------


def test_a_reference_is_found_in_any_case_trimmed_with_or_without_its_prefix(app):
    case = make_referral(reference="SP-7K3M9Q")
    for typed in ("SP-7K3M9Q", "  sp-7k3m9q ", "7k3m9q", "Sp-7K3M 9Q"):
        person = trail.find_person(typed)
        assert person is not None, typed
        assert (person.kind, person.id) == (trail.RESIDENT, case.resident_id)
        assert person.references == ("SP-7K3M9Q",)


def test_an_nhs_number_finds_the_resident_with_all_their_referrals(app):
    number = valid_nhs_number(4242)
    person = make_resident(nhs_number=number)
    first = make_referral(resident=person, received_at=utcnow() - timedelta(days=400))
    second = make_referral(resident=person)
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    for typed in (number, spaced, f" {number[:3]}-{number[3:6]}-{number[6:]} "):
        found_person = trail.find_person(typed)
        assert found_person is not None, typed
        assert found_person.id == person.id
        assert found_person.references == (first.reference, second.reference)
        assert found_person.search_text == second.reference


def test_a_volunteers_email_finds_the_volunteer_whatever_its_case(app):
    volunteer = make_volunteer()
    person = trail.find_person("  " + volunteer.user.email.upper())
    assert person is not None
    assert (person.kind, person.id, person.name) == (
        trail.VOLUNTEER,
        volunteer.id,
        volunteer.user.full_name,
    )
    assert person.search_text == volunteer.user.email


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("SP-ZZZZZZ", "No referral has this reference. Check it, or search by NHS number"),
        ("999 000 0000", "Enter a valid NHS number. Check it against a letter or the NHS App"),
        (
            "12345",
            "An NHS number must be 10 digits, and no referral has this reference. "
            "Check it and try again",
        ),
        ("nobody@example.org", "No volunteer has this email address. Check it and try again"),
        ("Mrs Jones", trail.PERSON_HINT),
    ],
)
def test_nobody_found_says_why(app, typed, message):
    make_referral()
    assert trail.find_person(typed) is None
    assert trail.person_problem(typed) == message


def test_a_valid_nhs_number_nobody_has_says_so(app):
    make_resident()
    unused = valid_nhs_number(777)
    assert trail.find_person(unused) is None
    assert trail.person_problem(unused) == "No one with this NHS number has been referred"


def test_a_staff_email_is_pointed_to_the_done_by_box(app):
    coordinator = make_user(Role.COORDINATOR)
    assert trail.find_person(coordinator.email) is None
    assert "enter it in 'Done by'" in trail.person_problem(coordinator.email)


# --- filters ------------------------------------------------------------------------------------


def at_utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ids(filters) -> list[int]:
    return [e.id for e in trail.search_events(filters).items]


def test_dates_are_whole_uk_days_both_ends_included(app):
    navigator = make_user(Role.NAVIGATOR)
    case = make_referral()
    last_of_july = event("viewed", "case", case.id, navigator, at_utc(2026, 7, 31, 22, 59))
    # 23:30 UTC on 31 July is 00:30 on 1 August in London (BST).
    first_of_august = event("viewed", "case", case.id, navigator, at_utc(2026, 7, 31, 23, 30))
    last_of_august = event("viewed", "case", case.id, navigator, at_utc(2026, 8, 31, 22, 59, 59))
    first_of_september = event("viewed", "case", case.id, navigator, at_utc(2026, 8, 31, 23))
    # In winter London is on UTC: 23:30 UTC on 31 December is still 31 December.
    new_years_eve = event("viewed", "case", case.id, navigator, at_utc(2026, 12, 31, 23, 30))

    august = trail.TrailFilters(date_from=date(2026, 8, 1), date_to=date(2026, 8, 31))
    assert ids(august) == [last_of_august.id, first_of_august.id]
    one_day = trail.TrailFilters(date_from=date(2026, 8, 1), date_to=date(2026, 8, 1))
    assert ids(one_day) == [first_of_august.id]
    until_july = trail.TrailFilters(date_to=date(2026, 7, 31))
    assert ids(until_july) == [last_of_july.id]
    from_september = trail.TrailFilters(date_from=date(2026, 9, 1), date_to=date(2026, 12, 31))
    assert ids(from_september) == [new_years_eve.id, first_of_september.id]


def test_user_action_and_type_filters_narrow_together(app):
    navigator, coordinator = make_user(Role.NAVIGATOR), make_user(Role.COORDINATOR)
    case = make_referral()
    wanted = event("viewed", "case", case.id, navigator)
    event("viewed", "case", case.id, coordinator)
    event("changed", "case", case.id, navigator)
    event("viewed", "referral", case.id, navigator)

    filters = trail.TrailFilters(
        resident_id=case.resident_id, actor_id=navigator.id, action="viewed", object_type="case"
    )
    assert ids(filters) == [wanted.id]
    assert trail.find_actor(navigator.email.upper()) == navigator.id
    assert trail.find_actor(str(navigator.id)) == navigator.id
    assert trail.actor_problem("someone@example.org") is not None
    assert trail.actor_problem("not an email") is not None


def test_pages_hold_25_newest_first_and_count_them_all(app):
    navigator = make_user(Role.NAVIGATOR)
    case = make_referral()
    start = utcnow() - timedelta(hours=1)
    made = [
        event("viewed", "case", case.id, navigator, start + timedelta(minutes=i)) for i in range(30)
    ]
    first = trail.search_events(trail.TrailFilters(resident_id=case.resident_id))
    second = trail.search_events(trail.TrailFilters(resident_id=case.resident_id, page=2))
    assert first.total == 30
    assert [e.id for e in first.items] == [e.id for e in reversed(made)][:25]
    assert [e.id for e in second.items] == [e.id for e in reversed(made)][25:]


def test_query_string_filters_ignore_what_they_do_not_understand(app):
    args = {"actor": "12", "action": "deleted", "type": "case", "from": "31/07/2026", "page": "x"}
    filters = trail.TrailFilters.from_args(args, resident_id=3)
    assert filters == trail.TrailFilters(resident_id=3, actor_id=12, object_type="case")
    assert filters.query_args() == {"actor": "12", "type": "case"}


# --- in words -----------------------------------------------------------------------------------


def test_events_are_described_with_who_their_role_then_and_the_record(app):
    navigator = make_user(Role.NAVIGATOR, full_name="Nadia Navigator")
    volunteer = make_volunteer(user_kw={"full_name": "Val Volunteer"})
    case = make_referral(reference="SP-ABC234")
    contact = make_contact(case, navigator)
    match = make_buddy_match(case, volunteer, navigator)
    gone = make_user(Role.COORDINATOR)
    rows = [
        event("viewed", "case", case.id, navigator),
        event("created", "contact", contact.id, navigator),
        event("changed", "buddy_match", match.id, navigator),
        event("viewed", "volunteer", volunteer.id, gone),
        event("login_failed", "user", None),
        event("viewed", "case", 999_999, navigator),
        event("exported", "volunteer_hours", "2026-01..2026-03", navigator),
        event("frobbed", "new_thing", "7", navigator),
    ]
    gid, v = gone.id, "Val Volunteer"
    db.session.delete(gone)
    db.session.commit()

    described = trail.describe(rows)

    assert [(r.actor, r.role, r.action, r.record) for r in described] == [
        ("Nadia Navigator", "Navigator", "Viewed", "Case SP-ABC234"),
        ("Nadia Navigator", "Navigator", "Created", "Contact on case SP-ABC234"),
        ("Nadia Navigator", "Navigator", "Changed", f"Buddy match of {v} with case SP-ABC234"),
        (f"Deleted user (number {gid})", "Hub coordinator", "Viewed", f"Volunteer record of {v}"),
        ("Nobody logged in", "", "Failed login", "User account"),
        ("Nadia Navigator", "Navigator", "Viewed", "Case 999999"),
        ("Nadia Navigator", "Navigator", "Exported", "Volunteer hours 2026-01..2026-03"),
        ("Nadia Navigator", "Navigator", "Frobbed", "New thing 7"),
    ]  # fmt: skip
    assert described[0].actor_email == navigator.email


def test_an_export_reads_every_event_in_chunks_without_repeats(app):
    navigator = make_user(Role.NAVIGATOR)
    case = make_referral()
    same_moment = utcnow()
    made = [event("viewed", "case", case.id, navigator, same_moment) for _ in range(7)]
    rows = list(trail.all_rows(trail.TrailFilters(resident_id=case.resident_id), chunk=3))
    assert [r.event.id for r in rows] == sorted((e.id for e in made), reverse=True)


# --- one table for every record type ------------------------------------------------------------


# The object types written with an f-string, and every value each can take.
F_STRING_TYPES = {
    "{kind}_suggestions": ("navigator", "buddy", "activity"),
    "audit_trail_{kind}": ("resident", "volunteer"),
    "subject_access_{kind}": ("resident", "volunteer"),
}


def test_every_object_type_the_portal_audits_is_in_the_table(app):
    """A new audit() call with a new object type fails here until KINDS names it."""
    written = set()
    call = re.compile(r'(?:audit|record_event)\(\s*f?"[^"]*",\s*(f?)"([^"]+)"')
    for path in Path("portal").rglob("*.py"):
        for is_f, object_type in call.findall(path.read_text()):
            if is_f:
                assert object_type in F_STRING_TYPES, f"{path}: list the values of {object_type}"
                written |= {object_type.format(kind=k) for k in F_STRING_TYPES[object_type]}
            else:
                written.add(object_type)
    assert "contact" in written, "no audit calls found: is the test run from the project folder?"
    assert written - set(trail.KINDS) == set()


def test_every_action_the_portal_audits_can_be_chosen_in_the_filter(app):
    first_argument = re.compile(r'(?:audit|record_event)\(\s*((?:[^,()]|"[^"]*")+?),\s*f?"')
    written = set()
    for path in Path("portal").rglob("*.py"):
        for expression in first_argument.findall(path.read_text()):
            written |= set(re.findall(r'"([^"{}]+)"', expression))
    assert "viewed" in written, "no audit calls found: is the test run from the project folder?"
    assert written - set(trail.ACTIONS) == set()
