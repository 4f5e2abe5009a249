"""The rules of case work: contacts, edits, goals, wellbeing measures and closing a case.

Each refusal names its form field and leaves the records exactly as they were.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_login import login_user
from werkzeug.exceptions import NotFound

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases import work
from portal.cases.models import Contact, ContactMethod, ContactResult, Goal, GoalStatus
from portal.cases.work import ContactDetails
from portal.db_types import utcnow
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.measures.scales import AnswersRefused
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralSource,
    ReferralStatus,
    Route,
)
from portal.referrals.workflow import Actor, TransitionRefused
from portal.reports.models import QueuedOutcome
from tests.factories import (
    make_contact,
    make_goal,
    make_practice,
    make_referral,
    make_resident,
)

S = ReferralStatus
CLOSED_MESSAGE = "This referral is closed, so it cannot be changed."
ONS4 = [7, 6, 8, 3]
SWEMWBS = [3] * 7
UCLA3 = [3, 3, 2]
GOOD_ANSWERS = {Scale.ONS4: ONS4, Scale.SWEMWBS: SWEMWBS, Scale.UCLA3: UCLA3}


# --- helpers -------------------------------------------------------------------------------


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def settle() -> None:
    """Reload what the factories' commits expired, as a request would already hold it."""
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def case(status: ReferralStatus = S.ASSIGNED, navigator=None, **kw) -> Referral:
    """A referral that reached `status` by the usual road, received 30 days ago."""
    fields: dict = {"received_at": ago(days=30)}
    if status != S.RECEIVED:
        fields["first_contact_at"] = ago(days=29)
    if status in (S.TRIAGED, S.ASSIGNED, S.ACTIVE, S.CLOSED):
        fields.update(route=Route.SOCIAL_NAVIGATION, support_level=2, triaged_at=ago(days=29))
    if status in (S.ASSIGNED, S.ACTIVE, S.CLOSED) and navigator is not None:
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=28))
    if status == S.CLOSED:
        fields.update(closed_at=ago(days=1), closure_reason=ClosureReason.MOVED_AWAY)
    referral = make_referral(status=status, **{**fields, **kw})
    settle()
    return referral


def details(**kw) -> ContactDetails:
    return ContactDetails(
        **{
            "occurred_at": ago(hours=1),
            "method": ContactMethod.PHONE,
            "result": ContactResult.SPOKE,
            "duration_minutes": 30,
            **kw,
        }
    )


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


REFERRAL_FIELDS = (
    "status",
    "first_contact_at",
    "next_contact_on",
    "navigator_id",
    "closed_at",
    "closure_reason",
    "outcome_summary",
)


def state(referral: Referral) -> dict:
    pending = len(db.session.new) + len(db.session.deleted)  # before the counts autoflush
    fields = {name: getattr(referral, name) for name in REFERRAL_FIELDS}
    return {
        "pending": pending,
        **fields,
        **{
            model.__name__: count(model)
            for model in (Contact, Goal, MeasureResponse, ReferralEvent, Alert, QueuedOutcome)
        },
    }


@contextmanager
def refused(referral: Referral, field: str | None = None, says: str | None = None):
    """The step inside raises TransitionRefused and leaves every record as it was."""
    db.session.flush()
    before = state(referral)
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    assert caught.value.message == str(caught.value)
    if says is not None:
        assert says in caught.value.message
    assert state(referral) == before


def saved(referral: Referral) -> Referral:
    """Commit, then read the referral back from the database."""
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Referral, referral.id)


def events(referral: Referral, action: ReferralAction) -> list[ReferralEvent]:
    return [e for e in referral.events if e.action == action]


@pytest.fixture
def me(navigator) -> Actor:
    return Actor.of(navigator)


@pytest.fixture
def assigned(navigator) -> Referral:
    return case(S.ASSIGNED, navigator)


@pytest.fixture
def active(navigator) -> Referral:
    return case(S.ACTIVE, navigator)


# --- who may work on a case ----------------------------------------------------------------


def test_may_work_on_is_the_cases_navigator_or_hub_staff(make_user, navigator):
    referral = case(S.ACTIVE, navigator)
    other_navigator = make_user(Role.NAVIGATOR)
    allowed = {
        role: work.may_work_on(make_user(role), referral) for role in Role if role != Role.NAVIGATOR
    }
    assert work.may_work_on(navigator, referral) is True
    assert work.may_work_on(other_navigator, referral) is False
    assert allowed == {
        Role.ADMIN: True,
        Role.COORDINATOR: True,
        Role.VOLUNTEER: False,
        Role.ORGANISATION_MEMBER: False,
        Role.PRACTICE_USER: False,
        Role.COMMISSIONER: False,
    }


def _answer(app, user, check, referral_id: int) -> int:
    with app.test_request_context():
        login_user(user)
        try:
            check(referral_id)
        except NotFound:
            return 404
        return 200


@pytest.mark.parametrize("role", list(Role))
def test_the_light_access_check_answers_as_reading_the_case_does(app, make_user, navigator, role):
    """The case and plan pages refuse with case_access_or_404 before writing their audit row."""
    referral = case(S.ACTIVE, navigator)
    viewer = navigator if role == Role.NAVIGATOR else make_user(role)
    answers = {
        (who, which): (
            _answer(app, user, work.case_or_404, referral_id),
            _answer(app, user, work.case_access_or_404, referral_id),
        )
        for who, user in (("viewer", viewer), ("other navigator", make_user(Role.NAVIGATOR)))
        for which, referral_id in (("case", referral.id), ("missing", referral.id + 1000))
    }
    allowed = role in (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)
    assert answers == {
        ("viewer", "case"): (200, 200) if allowed else (404, 404),
        ("viewer", "missing"): (404, 404),
        ("other navigator", "case"): (404, 404),
        ("other navigator", "missing"): (404, 404),
    }


# --- logging a contact: refusals -----------------------------------------------------------


def test_a_contact_in_the_future_is_refused(assigned, me):
    with refused(assigned, field="occurred_at", says="must be in the past"):
        work.log_contact(assigned, me, details(occurred_at=utcnow() + timedelta(minutes=10)))
    assert assigned.status == S.ASSIGNED


def test_a_contact_seconds_ahead_of_the_clock_is_allowed(assigned, me):
    # A minute's grace for a browser clock a little ahead of the server's.
    contact = work.log_contact(assigned, me, details(occurred_at=utcnow() + timedelta(seconds=20)))
    db.session.commit()
    assert count(Contact, Contact.id == contact.id) == 1


def test_a_contact_before_the_referral_was_received_is_refused(navigator, me):
    referral = case(S.ASSIGNED, navigator, received_at=ago(days=10))
    received = f"({referral.received_at:%d/%m/%Y})"
    with refused(referral, field="occurred_at") as caught:
        work.log_contact(referral, me, details(occurred_at=ago(days=11)))
    assert caught.value.message == (
        f"The contact cannot be before the referral was received {received}"
    )


@pytest.mark.parametrize("minutes", [-1, 721, 10_000])
def test_duration_outside_0_to_720_minutes_is_refused(assigned, me, minutes):
    with refused(assigned, field="duration_minutes", says="between 0 minutes and 12 hours"):
        work.log_contact(assigned, me, details(duration_minutes=minutes))


@pytest.mark.parametrize("minutes", [0, 720, None])
def test_duration_at_the_limits_or_left_out_is_allowed(active, me, minutes):
    contact = work.log_contact(active, me, details(duration_minutes=minutes))
    db.session.commit()
    db.session.expire_all()
    assert contact.duration_minutes == minutes


@pytest.mark.parametrize("note", [None, "", "  \n "])
def test_a_concern_without_a_note_is_refused(assigned, me, coordinator, note):
    with refused(assigned, field="safeguarding_note", says="Describe the concern"):
        work.log_contact(assigned, me, details(concern_raised=True, safeguarding_note=note))


def test_a_next_contact_date_in_the_past_is_refused(assigned, me):
    yesterday = date.today() - timedelta(days=1)
    with refused(assigned, field="next_contact_on", says="today or later"):
        work.log_contact(assigned, me, details(), next_contact_on=yesterday)
    assert assigned.status == S.ASSIGNED


@pytest.mark.parametrize("status", [S.RECEIVED, S.CONTACTING, S.TRIAGED])
def test_contacts_before_assignment_belong_on_the_triage_page(navigator, me, status):
    referral = case(status, navigator)
    with refused(referral, says="Until then, record attempts on the triage page"):
        work.log_contact(referral, me, details())


def test_a_contact_on_a_closed_case_is_refused(navigator, me):
    referral = case(S.CLOSED, navigator)
    with refused(referral, says=CLOSED_MESSAGE):
        work.log_contact(referral, me, details())


# --- logging a contact: what it does -------------------------------------------------------


def test_first_successful_contact_starts_support(assigned, me, navigator):
    when = ago(hours=2)
    contact = work.log_contact(
        assigned, me, details(occurred_at=when, notes="Talked about the choir")
    )

    referral = saved(assigned)
    assert referral.status == S.ACTIVE
    (activated,) = events(referral, ReferralAction.ACTIVATED)
    assert (activated.from_status, activated.to_status) == (S.ASSIGNED, S.ACTIVE)
    assert activated.actor_id == navigator.id
    stored = db.session.get(Contact, contact.id)
    assert stored.author_id == navigator.id
    assert stored.occurred_at == when
    assert stored.successful is True
    assert stored.result == ContactResult.SPOKE
    assert stored.method == ContactMethod.PHONE
    assert stored.duration_minutes == 30
    assert stored.notes == "Talked about the choir"
    assert stored.concern_raised is False
    assert stored.safeguarding_note is None


def test_first_successful_contact_sets_first_contact_when_there_was_none(navigator, me):
    referral = case(S.ASSIGNED, navigator, first_contact_at=None)
    when = ago(hours=3)
    work.log_contact(referral, me, details(occurred_at=when))
    assert saved(referral).first_contact_at == when


def test_a_later_success_keeps_the_earlier_first_contact(assigned, me):
    first = assigned.first_contact_at
    work.log_contact(assigned, me, details())
    assert saved(assigned).first_contact_at == first


@pytest.mark.parametrize(
    "result",
    [
        ContactResult.NO_ANSWER,
        ContactResult.LEFT_MESSAGE,
        ContactResult.WRONG_DETAILS,
        ContactResult.MESSAGE_SENT,
    ],
)
def test_attempts_do_not_start_support(navigator, me, result):
    referral = case(S.ASSIGNED, navigator, first_contact_at=None)
    contact = work.log_contact(referral, me, details(result=result))

    referral = saved(referral)
    assert referral.status == S.ASSIGNED
    assert referral.first_contact_at is None
    assert events(referral, ReferralAction.ACTIVATED) == []
    stored = db.session.get(Contact, contact.id)
    assert stored.successful is False
    assert stored.result == result


def test_a_success_on_an_active_case_adds_no_history(active, me):
    before = len(active.events)
    work.log_contact(active, me, details())
    referral = saved(active)
    assert referral.status == S.ACTIVE
    assert len(referral.events) == before
    assert count(Contact, Contact.referral_id == referral.id) == 1


def test_a_safeguarding_note_is_kept_only_with_a_concern(active, me):
    contact = work.log_contact(
        active, me, details(concern_raised=False, safeguarding_note="Typed then unticked")
    )
    db.session.commit()
    assert db.session.get(Contact, contact.id).safeguarding_note is None


# --- next contact date ---------------------------------------------------------------------


def test_the_next_contact_date_given_is_kept(active, me):
    planned = date.today() + timedelta(days=3)
    work.log_contact(active, me, details(), next_contact_on=planned)
    assert saved(active).next_contact_on == planned


def test_today_is_allowed_as_the_next_contact_date(active, me):
    work.log_contact(active, me, details(result=ContactResult.NO_ANSWER), date.today())
    assert saved(active).next_contact_on == date.today()


def test_a_given_date_is_kept_after_an_attempt_too(active, me):
    planned = date.today() + timedelta(days=2)
    work.log_contact(active, me, details(result=ContactResult.NO_ANSWER), planned)
    assert saved(active).next_contact_on == planned


def test_a_success_without_a_date_is_due_again_before_it_would_be_overdue(active, me):
    when = ago(days=2)
    work.log_contact(active, me, details(occurred_at=when))
    assert saved(active).next_contact_on == when.date() + timedelta(days=14)


def test_the_default_gap_comes_from_config(app, active, me, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_CONTACT_OVERDUE_DAYS", 7)
    when = ago(days=1)
    work.log_contact(active, me, details(occurred_at=when))
    assert saved(active).next_contact_on == when.date() + timedelta(days=7)


def test_an_old_success_without_a_date_is_due_today_not_in_the_past(active, me):
    work.log_contact(active, me, details(occurred_at=ago(days=20)))
    assert saved(active).next_contact_on == date.today()


def test_an_attempt_without_a_date_leaves_the_plan_alone(navigator, me):
    planned = date.today() + timedelta(days=4)
    referral = case(S.ACTIVE, navigator, next_contact_on=planned)
    work.log_contact(referral, me, details(result=ContactResult.LEFT_MESSAGE))
    assert saved(referral).next_contact_on == planned


# --- concerns ------------------------------------------------------------------------------


def test_a_concern_alerts_every_active_coordinator_and_nobody_else(make_user):
    navigator = make_user(Role.NAVIGATOR, full_name="Nadia Navigator")
    me = Actor.of(navigator)
    first = make_user(Role.COORDINATOR)
    second = make_user(Role.COORDINATOR)
    away = make_user(Role.COORDINATOR, is_active=False)
    admin = make_user(Role.ADMIN)
    other_navigator = make_user(Role.NAVIGATOR)
    resident = make_resident(given_name="Ada", family_name="Lovelace")
    referral = case(S.ACTIVE, navigator, resident=resident)

    contact = work.log_contact(
        referral, me, details(concern_raised=True, safeguarding_note="Bruising on arms")
    )
    db.session.commit()

    alerts = db.session.scalars(sa.select(Alert).order_by(Alert.user_id)).all()
    assert sorted(a.user_id for a in alerts) == sorted([first.id, second.id])
    assert away.id not in {a.user_id for a in alerts}
    assert {admin.id, other_navigator.id, navigator.id}.isdisjoint(a.user_id for a in alerts)
    for alert in alerts:
        assert alert.kind == AlertKind.CONCERN_RAISED
        assert alert.referral_id == referral.id
        assert alert.read_at is None
        assert alert.message == (
            f"Safeguarding concern on {referral.reference} (Ada Lovelace), "
            "raised by Nadia Navigator (Navigator). Read it on the case and act today."
        )
    stored = db.session.get(Contact, contact.id)
    assert stored.concern_raised is True
    assert stored.safeguarding_note == "Bruising on arms"


def test_a_contact_without_a_concern_alerts_nobody(active, me, coordinator):
    work.log_contact(active, me, details())
    db.session.commit()
    assert count(Alert) == 0


# --- editing a contact ---------------------------------------------------------------------


def test_editable_by_the_author_within_the_window(navigator, make_user, active):
    fresh = make_contact(active, navigator, created_at=ago(hours=23))
    stale = make_contact(active, navigator, created_at=ago(hours=25))
    someone_else = make_user(Role.NAVIGATOR)

    assert work.editable_by(fresh, navigator) is True
    assert work.editable_by(stale, navigator) is False
    assert work.editable_by(fresh, someone_else) is False


def _contact_state(contact: Contact) -> dict:
    return {name: getattr(contact, name) for name in work.CONTACT_LABELS} | {
        "successful": contact.successful,
        "version": contact.version,
    }


def test_editing_a_contact_25_hours_old_is_refused(active, navigator, me):
    contact = make_contact(active, navigator, created_at=ago(hours=25))
    settle()
    before = _contact_state(contact)
    with refused(active, says="only be changed in the 24 hours after it was logged"):
        work.edit_contact(contact, me, details(notes="Late correction"), contact.version)
    assert _contact_state(contact) == before


def test_the_edit_window_comes_from_config(app, active, navigator, me, monkeypatch):
    monkeypatch.setitem(app.config, "CONTACT_EDIT_HOURS", 48)
    contact = make_contact(active, navigator, created_at=ago(hours=25))
    settle()
    assert work.editable_by(contact, navigator) is True
    changes = work.edit_contact(contact, me, details(notes="Within 48 hours"), None)
    assert changes["Notes"] == [None, "Within 48 hours"]


def test_editing_someone_elses_contact_is_refused(active, make_user, me):
    author = make_user(Role.COORDINATOR)
    contact = make_contact(active, author)
    settle()
    before = _contact_state(contact)
    with refused(active, says="Only the person who logged a contact can change it"):
        work.edit_contact(contact, me, details(notes="Not mine"), contact.version)
    assert _contact_state(contact) == before


def test_editing_from_a_stale_copy_is_refused(active, navigator, me):
    contact = make_contact(active, navigator)
    settle()
    before = _contact_state(contact)
    with refused(active, field="version", says="changed since you opened it"):
        work.edit_contact(contact, me, details(notes="From another tab"), contact.version - 1)
    assert _contact_state(contact) == before


def test_an_edit_is_checked_like_a_new_contact(active, navigator, me):
    contact = make_contact(active, navigator)
    settle()
    before = _contact_state(contact)
    with refused(active, field="duration_minutes"):
        work.edit_contact(contact, me, details(duration_minutes=721), contact.version)
    assert _contact_state(contact) == before


def test_editing_a_contact_on_a_closed_case_is_refused(navigator, me):
    referral = case(S.CLOSED, navigator)
    contact = make_contact(referral, navigator)
    settle()
    with refused(referral, says=CLOSED_MESSAGE):
        work.edit_contact(contact, me, details(notes="After closure"), contact.version)


def test_an_edit_records_before_and_after_in_the_history(active, navigator, me):
    when = ago(days=1).replace(second=0, microsecond=0)
    contact = make_contact(
        active, navigator, occurred_at=when, duration_minutes=20, result=ContactResult.SPOKE
    )
    settle()
    version = contact.version

    changes = work.edit_contact(
        contact,
        me,
        details(
            occurred_at=when,
            method=ContactMethod.HOME_VISIT,
            duration_minutes=45,
            notes="Talked about the lunch club",
        ),
        version,
    )

    expected = {
        "How": ["Phone", "Home visit"],
        "Minutes": [20, 45],
        "Notes": [None, "Talked about the lunch club"],
    }
    assert changes == expected
    referral = saved(active)
    (edited,) = events(referral, ReferralAction.CONTACT_EDITED)
    assert edited.changes == expected
    assert edited.note == f"Contact of {when:%d/%m/%Y %H:%M} UTC (Home visit)"
    assert edited.actor_id == navigator.id
    assert (edited.from_status, edited.to_status) == (None, None)
    stored = db.session.get(Contact, contact.id)
    assert stored.method == ContactMethod.HOME_VISIT
    assert stored.duration_minutes == 45
    assert stored.notes == "Talked about the lunch club"
    assert stored.version == version + 1


def test_a_changed_time_and_result_are_shown_in_words(active, navigator, me):
    before = ago(days=1).replace(second=0, microsecond=0)
    after = before - timedelta(hours=2)
    contact = make_contact(
        active, navigator, occurred_at=before, duration_minutes=30, result=ContactResult.SPOKE
    )
    settle()

    changes = work.edit_contact(
        contact, me, details(occurred_at=after, result=ContactResult.LEFT_MESSAGE), None
    )

    assert changes == {
        "When": [before.isoformat(timespec="minutes"), after.isoformat(timespec="minutes")],
        "What happened": ["Spoke to the person", "Left a message"],
    }
    db.session.commit()
    assert db.session.get(Contact, contact.id).successful is False


def test_an_edit_that_changes_nothing_records_nothing(active, navigator, me):
    when = ago(days=1)
    contact = make_contact(
        active, navigator, occurred_at=when, duration_minutes=30, result=ContactResult.SPOKE
    )
    settle()
    version = contact.version
    history = len(active.events)

    assert work.edit_contact(contact, me, details(occurred_at=when), version) == {}

    referral = saved(active)
    assert len(referral.events) == history
    assert db.session.get(Contact, contact.id).version == version


def test_correcting_an_attempt_to_a_success_starts_support(navigator, me):
    referral = case(S.ASSIGNED, navigator)
    contact = work.log_contact(referral, me, details(result=ContactResult.NO_ANSWER))
    db.session.commit()
    settle()
    assert referral.status == S.ASSIGNED

    work.edit_contact(contact, me, details(occurred_at=contact.occurred_at), contact.version)

    referral = saved(referral)
    assert referral.status == S.ACTIVE
    assert [e.action for e in referral.events][-2:] == [
        ReferralAction.ACTIVATED,
        ReferralAction.CONTACT_EDITED,
    ]


def test_a_concern_added_by_an_edit_alerts_the_coordinators(active, navigator, me, coordinator):
    contact = make_contact(active, navigator, result=ContactResult.SPOKE)
    settle()

    changes = work.edit_contact(
        contact, me, details(concern_raised=True, safeguarding_note="Not eating"), None
    )
    db.session.commit()

    assert changes["Concern raised"] == [False, True]
    assert changes["Safeguarding note"] == [None, "Not eating"]
    (alert,) = db.session.scalars(sa.select(Alert)).all()
    assert (alert.user_id, alert.kind) == (coordinator.id, AlertKind.CONCERN_RAISED)


def test_editing_a_contact_that_already_had_a_concern_does_not_alert_again(
    active, navigator, me, coordinator
):
    contact = make_contact(
        active,
        navigator,
        result=ContactResult.SPOKE,
        concern_raised=True,
        safeguarding_note="Not eating",
    )
    settle()

    work.edit_contact(
        contact,
        me,
        details(
            occurred_at=contact.occurred_at,
            duration_minutes=contact.duration_minutes,
            concern_raised=True,
            safeguarding_note="Not eating; GP told",
        ),
        None,
    )
    db.session.commit()
    assert count(Alert) == 0


# --- goals ---------------------------------------------------------------------------------


def test_add_goal_keeps_the_persons_words(active, navigator, me):
    goal = work.add_goal(active, me, "  Go to the Tuesday choir  ")
    db.session.commit()
    stored = db.session.get(Goal, goal.id)
    assert stored.description == "Go to the Tuesday choir"
    assert stored.set_on == date.today()
    assert stored.status == GoalStatus.OPEN
    assert stored.closed_on is None
    assert stored.created_by_id == navigator.id
    assert stored.referral_id == active.id


def test_add_goal_with_an_earlier_date(active, me):
    goal = work.add_goal(active, me, "Walk to the shop", set_on=date.today() - timedelta(days=3))
    db.session.commit()
    assert db.session.get(Goal, goal.id).set_on == date.today() - timedelta(days=3)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_a_goal_needs_words(active, me, text):
    with refused(active, field="description", says="in the person's own words"):
        work.add_goal(active, me, text)


def test_a_goal_set_in_the_future_is_refused(active, me):
    with refused(active, field="set_on", says="cannot be in the future"):
        work.add_goal(active, me, "Join a club", set_on=date.today() + timedelta(days=1))


def test_a_goal_on_a_closed_case_is_refused(navigator, me):
    referral = case(S.CLOSED, navigator)
    with refused(referral, says=CLOSED_MESSAGE):
        work.add_goal(referral, me, "Too late")


def _goal(referral, author, **kw) -> Goal:
    goal = make_goal(referral, author, set_on=date.today() - timedelta(days=10), **kw)
    settle()
    return goal


@pytest.mark.parametrize(
    ("status", "words"),
    [(GoalStatus.ACHIEVED, "achieved"), (GoalStatus.DROPPED, "no longer relevant")],
)
def test_achieving_or_dropping_a_goal_dates_it_and_records_it(active, navigator, me, status, words):
    goal = _goal(active, navigator)
    on = date.today() - timedelta(days=2)

    work.change_goal(goal, me, status, on)

    referral = saved(active)
    stored = db.session.get(Goal, goal.id)
    assert stored.status == status
    assert stored.closed_on == on
    (event,) = events(referral, ReferralAction.GOAL_CHANGED)
    assert event.note == f"“Get out of the house”: open → {words} on {on:%d/%m/%Y}"
    assert event.actor_id == navigator.id


def test_a_goal_closed_without_a_date_is_closed_today(active, navigator, me):
    goal = _goal(active, navigator)
    work.change_goal(goal, me, GoalStatus.ACHIEVED)
    db.session.commit()
    assert db.session.get(Goal, goal.id).closed_on == date.today()


def test_opening_a_goal_again_clears_its_date(active, navigator, me):
    goal = _goal(
        active,
        navigator,
        status=GoalStatus.ACHIEVED,
        closed_on=date.today() - timedelta(days=1),
    )

    work.change_goal(goal, me, GoalStatus.OPEN)

    referral = saved(active)
    stored = db.session.get(Goal, goal.id)
    assert stored.status == GoalStatus.OPEN
    assert stored.closed_on is None
    (event,) = events(referral, ReferralAction.GOAL_CHANGED)
    assert event.note == "“Get out of the house”: achieved → open"


def _goal_state(goal: Goal) -> tuple:
    return (goal.status, goal.closed_on)


def test_changing_a_goal_to_its_own_status_is_refused(active, navigator, me):
    goal = _goal(active, navigator)
    with refused(active, field="status", says="This goal is already open"):
        work.change_goal(goal, me, GoalStatus.OPEN)
    assert _goal_state(goal) == (GoalStatus.OPEN, None)


def test_a_goal_change_dated_in_the_future_is_refused(active, navigator, me):
    goal = _goal(active, navigator)
    with refused(active, field="on", says="cannot be in the future"):
        work.change_goal(goal, me, GoalStatus.ACHIEVED, date.today() + timedelta(days=1))
    assert _goal_state(goal) == (GoalStatus.OPEN, None)


def test_a_goal_change_dated_before_the_goal_was_set_is_refused(active, navigator, me):
    goal = _goal(active, navigator)
    with refused(active, field="on", says="before the goal was set"):
        work.change_goal(goal, me, GoalStatus.DROPPED, date.today() - timedelta(days=11))
    assert _goal_state(goal) == (GoalStatus.OPEN, None)


def test_a_goal_on_a_closed_case_cannot_change(navigator, me):
    referral = case(S.CLOSED, navigator)
    goal = _goal(referral, navigator)
    with refused(referral, says=CLOSED_MESSAGE):
        work.change_goal(goal, me, GoalStatus.ACHIEVED)


# --- wellbeing measures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "answers", "score"),
    [
        (Scale.ONS4, ONS4, None),
        (Scale.SWEMWBS, SWEMWBS, 19.25),
        (Scale.UCLA3, UCLA3, 8.0),
    ],
)
def test_a_measure_stores_its_answers_and_score(active, navigator, me, scale, answers, score):
    response = work.record_measure(active, me, scale, Stage.BASELINE, answers)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(MeasureResponse, response.id)
    assert stored.referral_id == active.id
    assert (stored.scale, stored.stage) == (scale, Stage.BASELINE)
    assert stored.answers == answers
    assert stored.score == score
    assert stored.declined is False
    assert stored.recorded_by_id == navigator.id


def test_answers_from_a_form_are_stored_as_numbers(active, me):
    response = work.record_measure(active, me, Scale.UCLA3, Stage.REVIEW, ["3", " 3", "2"])
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(MeasureResponse, response.id)
    assert stored.answers == [3, 3, 2]
    assert stored.score == 8.0


def test_measures_are_allowed_on_an_assigned_case(assigned, me):
    work.record_measure(assigned, me, Scale.UCLA3, Stage.BASELINE, UCLA3)
    db.session.commit()
    assert count(MeasureResponse) == 1


@pytest.mark.parametrize(
    ("scale", "answers", "missing"),
    [
        (Scale.ONS4, [7, 6], {2, 3}),
        (Scale.SWEMWBS, [3, 3, None, 3, 3, 3, 3], {2}),
        (Scale.UCLA3, [], {0, 1, 2}),
    ],
)
def test_unanswered_items_are_refused(active, me, scale, answers, missing):
    db.session.flush()
    before = state(active)
    with pytest.raises(AnswersRefused) as caught:
        work.record_measure(active, me, scale, Stage.BASELINE, answers)
    assert set(caught.value.errors) == missing
    for index in missing:
        assert caught.value.errors[index].startswith("Answer ")
    assert state(active) == before


def test_answers_out_of_range_are_refused(active, me):
    db.session.flush()
    before = state(active)
    with pytest.raises(AnswersRefused) as caught:
        work.record_measure(active, me, Scale.UCLA3, Stage.REVIEW, [3, 4, 0])
    assert caught.value.errors == {
        1: "Left out must be a whole number from 1 to 3",
        2: "Isolated must be a whole number from 1 to 3",
    }
    assert state(active) == before


@pytest.mark.parametrize("stage", [Stage.BASELINE, Stage.CLOSING])
def test_baseline_and_closing_are_recorded_once_per_scale(active, me, stage):
    first = work.record_measure(active, me, Scale.UCLA3, stage, UCLA3)
    db.session.commit()
    settle()
    on = f"{first.recorded_at:%d/%m/%Y}"

    with refused(active, field="stage") as caught:
        work.record_measure(active, me, Scale.UCLA3, stage, [1, 1, 1])
    assert caught.value.message == (
        f"The {stage.label.lower()} UCLA 3-item loneliness scale was already recorded on "
        f"{on}. Record a review instead."
    )


def test_a_declined_baseline_counts_as_the_baseline(active, me):
    work.record_measure(active, me, Scale.SWEMWBS, Stage.BASELINE, declined=True)
    db.session.commit()
    settle()
    with refused(active, field="stage", says="already recorded"):
        work.record_measure(active, me, Scale.SWEMWBS, Stage.BASELINE, SWEMWBS)


def test_a_baseline_on_one_scale_does_not_block_the_others(active, me):
    for scale, answers in GOOD_ANSWERS.items():
        work.record_measure(active, me, scale, Stage.BASELINE, answers)
    db.session.commit()
    assert count(MeasureResponse, MeasureResponse.stage == Stage.BASELINE) == 3


def test_reviews_may_be_recorded_again_and_again(active, me):
    for answers in ([1, 1, 1], [2, 2, 2], [3, 3, 3]):
        work.record_measure(active, me, Scale.UCLA3, Stage.REVIEW, answers)
        db.session.commit()
    scores = db.session.scalars(sa.select(MeasureResponse.score).order_by(MeasureResponse.id)).all()
    assert scores == [3.0, 6.0, 9.0]


def test_a_declined_measure_is_stored_without_answers(active, navigator, me):
    response = work.record_measure(active, me, Scale.ONS4, Stage.REVIEW, declined=True)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(MeasureResponse, response.id)
    assert stored.declined is True
    assert stored.answers is None
    assert stored.score is None
    assert stored.recorded_by_id == navigator.id


@pytest.mark.parametrize("status", [S.RECEIVED, S.CONTACTING, S.TRIAGED])
def test_measures_wait_for_a_navigator(navigator, me, status):
    referral = case(status, navigator)
    with refused(referral, says="once a navigator is supporting the person"):
        work.record_measure(referral, me, Scale.UCLA3, Stage.BASELINE, UCLA3)


def test_measures_on_a_closed_case_are_refused(navigator, me):
    referral = case(S.CLOSED, navigator)
    with refused(referral, says=CLOSED_MESSAGE):
        work.record_measure(referral, me, Scale.UCLA3, Stage.REVIEW, UCLA3)


# --- progress ------------------------------------------------------------------------------


def _response(referral, author, scale, stage, answers=None, days_ago=0, declined=False):
    from portal.measures.scales import score

    response = MeasureResponse(
        referral_id=referral.id,
        scale=scale,
        stage=stage,
        answers=answers,
        score=None if declined else score(scale, answers),
        declined=declined,
        recorded_by_id=author.id,
        recorded_at=ago(days=days_ago),
    )
    db.session.add(response)
    db.session.commit()
    return response


def test_progress_compares_the_baseline_with_the_latest(active, navigator):
    base = _response(active, navigator, Scale.SWEMWBS, Stage.BASELINE, [2] * 7, days_ago=30)
    review = _response(active, navigator, Scale.SWEMWBS, Stage.REVIEW, [3] * 7, days_ago=15)
    _response(active, navigator, Scale.SWEMWBS, Stage.REVIEW, declined=True, days_ago=10)
    closing = _response(active, navigator, Scale.SWEMWBS, Stage.CLOSING, [4] * 7, days_ago=1)

    by_scale = {p.scale: p for p in work.progress(work.responses(active.id))}

    assert list(by_scale) == list(Scale)
    swemwbs = by_scale[Scale.SWEMWBS]
    assert swemwbs.baseline.id == base.id
    assert swemwbs.latest.id == closing.id
    assert [r.id for r in swemwbs.recorded] == [base.id, review.id, closing.id]
    assert [r.stage for r in swemwbs.declined] == [Stage.REVIEW]
    (change,) = swemwbs.changes
    assert (change.before.value, change.after.value) == (15.32, 25.03)
    assert change.difference == 9.71
    assert change.direction == "better"
    ((result, points),) = swemwbs.series
    assert result.name == "Mental wellbeing (SWEMWBS metric score)"
    assert [(r.id, v.value) for r, v in points] == [
        (base.id, 15.32),
        (review.id, 19.25),
        (closing.id, 25.03),
    ]


def test_progress_with_nothing_recorded_or_only_a_baseline(active, navigator):
    _response(active, navigator, Scale.UCLA3, Stage.BASELINE, [3, 3, 3], days_ago=5)

    by_scale = {p.scale: p for p in work.progress(work.responses(active.id))}

    ucla = by_scale[Scale.UCLA3]
    assert ucla.baseline is not None
    assert ucla.latest is None
    assert ucla.changes == []
    ons4 = by_scale[Scale.ONS4]
    assert (ons4.baseline, ons4.latest, ons4.recorded, ons4.declined) == (None, None, [], [])
    assert ons4.series == []


def test_progress_charts_each_ons4_item_separately(active, navigator):
    _response(active, navigator, Scale.ONS4, Stage.BASELINE, [2, 3, 4, 9], days_ago=20)
    _response(active, navigator, Scale.ONS4, Stage.REVIEW, [5, 6, 7, 4], days_ago=2)

    ons4 = next(p for p in work.progress(work.responses(active.id)) if p.scale == Scale.ONS4)

    assert [(result.name, [v.value for _, v in points]) for result, points in ons4.series] == [
        ("Life satisfaction", [2.0, 5.0]),
        ("Worthwhile", [3.0, 6.0]),
        ("Happiness", [4.0, 7.0]),
        ("Anxiety", [9.0, 4.0]),
    ]
    assert [c.direction for c in ons4.changes] == ["better"] * 4


# --- closing a case ------------------------------------------------------------------------


def _all_closing_measures(referral, actor) -> None:
    for scale, answers in GOOD_ANSWERS.items():
        work.record_measure(referral, actor, scale, Stage.CLOSING, answers)
    db.session.commit()
    settle()


def queued(referral) -> list[QueuedOutcome]:
    return list(
        db.session.scalars(sa.select(QueuedOutcome).where(QueuedOutcome.referral_id == referral.id))
    )


def test_closing_needs_an_outcome(active, me):
    with refused(active, field="reason", says="Choose the outcome of the support"):
        work.close_case(active, me, None, "Summary")


@pytest.mark.parametrize("reason", [ClosureReason.SIGNPOSTED, ClosureReason.NOT_APPROPRIATE])
def test_triage_outcomes_are_not_case_outcomes(active, me, reason):
    with refused(active, field="reason", says="Choose one of the outcomes listed"):
        work.close_case(active, me, reason, "Summary", closing_measures_declined=True)


@pytest.mark.parametrize("status", [S.RECEIVED, S.CONTACTING, S.TRIAGED])
def test_referrals_in_triage_close_from_the_triage_page(navigator, me, status):
    referral = case(status, navigator)
    with refused(referral, says="from the triage page"):
        work.close_case(referral, me, ClosureReason.MOVED_AWAY, None)


def test_closing_a_closed_case_is_refused(navigator, me):
    referral = case(S.CLOSED, navigator)
    with refused(referral, says=CLOSED_MESSAGE):
        work.close_case(referral, me, ClosureReason.DIED, None)


def test_closing_without_closing_measures_or_the_tick_is_refused(active, me):
    with refused(active, field="closing_measures_declined") as caught:
        work.close_case(active, me, ClosureReason.GOALS_MET, "Walks twice a week")
    assert caught.value.message == (
        "Record the closing wellbeing measures first (ONS4 personal wellbeing, "
        "Short Warwick-Edinburgh Mental Wellbeing Scale, UCLA 3-item loneliness scale "
        "still to do), or tick that the person chose not to answer them"
    )


def test_the_refusal_names_only_the_scales_still_to_do(active, me):
    work.record_measure(active, me, Scale.ONS4, Stage.CLOSING, ONS4)
    db.session.commit()
    settle()
    with refused(active, field="closing_measures_declined") as caught:
        work.close_case(active, me, ClosureReason.CONNECTED, "Joined a choir")
    assert "(Short Warwick-Edinburgh Mental Wellbeing Scale, UCLA 3-item loneliness scale " in (
        caught.value.message
    )
    assert "ONS4" not in caught.value.message


def test_baseline_and_review_do_not_count_as_closing_measures(active, me):
    for scale, answers in GOOD_ANSWERS.items():
        work.record_measure(active, me, scale, Stage.BASELINE, answers)
        work.record_measure(active, me, scale, Stage.REVIEW, answers)
    db.session.commit()
    settle()
    with refused(active, field="closing_measures_declined"):
        work.close_case(active, me, ClosureReason.GOALS_MET, "Done")


def test_the_tick_records_the_missing_closing_measures_as_declined(active, navigator, me):
    work.record_measure(active, me, Scale.UCLA3, Stage.CLOSING, UCLA3)
    db.session.commit()
    settle()
    started = utcnow()

    work.close_case(
        active, me, ClosureReason.GOALS_MET, "Walks twice a week", closing_measures_declined=True
    )

    referral = saved(active)
    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.GOALS_MET
    assert referral.outcome_summary == "Walks twice a week"
    assert started <= referral.closed_at <= utcnow()
    assert referral.next_contact_on is None
    closing = {r.scale: r.declined for r in work.responses(referral.id) if r.stage == Stage.CLOSING}
    assert closing == {Scale.UCLA3: False, Scale.ONS4: True, Scale.SWEMWBS: True}
    for response in work.responses(referral.id):
        assert response.recorded_by_id == navigator.id
    (row,) = queued(referral)
    assert row.practice_id == referral.practice_id
    assert row.report_id is None
    (closed,) = events(referral, ReferralAction.CLOSED)
    assert (closed.from_status, closed.to_status) == (S.ACTIVE, S.CLOSED)
    assert closed.actor_id == navigator.id


def test_with_every_closing_measure_recorded_no_tick_is_needed(active, me):
    _all_closing_measures(active, me)
    work.close_case(active, me, ClosureReason.CONNECTED, "Joined a choir")
    referral = saved(active)
    assert referral.status == S.CLOSED
    assert not any(r.declined for r in work.responses(referral.id))
    assert count(MeasureResponse) == 3
    assert len(queued(referral)) == 1


@pytest.mark.parametrize("reason", [ClosureReason.DIED, ClosureReason.MOVED_AWAY])
def test_some_outcomes_need_no_closing_measures(active, me, reason):
    work.close_case(active, me, reason, None)
    referral = saved(active)
    assert referral.status == S.CLOSED
    assert referral.closure_reason == reason
    assert count(MeasureResponse) == 0
    (row,) = queued(referral)
    assert row.practice_id == referral.practice_id


def test_unable_to_contact_needs_no_closing_measures(navigator, me):
    referral = case(S.ASSIGNED, navigator)
    for days in (3, 2, 1):
        work.log_contact(
            referral, me, details(result=ContactResult.NO_ANSWER, occurred_at=ago(days=days))
        )
    db.session.commit()
    settle()

    work.close_case(referral, me, ClosureReason.UNABLE_TO_CONTACT, None)

    referral = saved(referral)
    assert referral.closure_reason == ClosureReason.UNABLE_TO_CONTACT
    assert count(MeasureResponse) == 0


def test_the_workflows_own_rules_still_apply_when_closing_a_case(active, me):
    # Goals met needs a summary for the GP; the refusal comes from workflow.close.
    _all_closing_measures(active, me)
    with refused(active, field="summary", says="Write a short summary for the GP report"):
        work.close_case(active, me, ClosureReason.GOALS_MET, "  ")


def test_a_refused_close_leaves_no_declined_measures_behind(active, me):
    with refused(active, field="summary"):
        work.close_case(active, me, ClosureReason.DECLINED, None, closing_measures_declined=True)


def test_a_case_with_no_practice_anywhere_closes_with_nothing_queued(navigator, me):
    resident = make_resident(practice_id=None)
    referral = case(S.ACTIVE, navigator, resident=resident, source=ReferralSource.SELF)
    assert referral.practice_id is None

    work.close_case(referral, me, ClosureReason.MOVED_AWAY, None)

    referral = saved(referral)
    assert referral.status == S.CLOSED
    assert count(QueuedOutcome) == 0


def test_a_self_referral_is_reported_to_the_persons_own_practice(navigator, me):
    practice = make_practice()
    resident = make_resident(practice_id=practice.id)
    referral = case(S.ACTIVE, navigator, resident=resident, source=ReferralSource.SELF)

    work.close_case(referral, me, ClosureReason.DIED, None)

    (row,) = queued(saved(referral))
    assert row.practice_id == practice.id
