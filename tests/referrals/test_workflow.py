"""The referral state machine: each step follows its rule, leaves a record, or changes nothing."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.cases.models import Contact, ContactMethod, ContactResult
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralSource,
    ReferralStatus,
    Route,
)
from portal.referrals.workflow import NEXT, Actor, TransitionRefused
from tests.factories import make_contact, make_practice, make_referral, make_resident

S = ReferralStatus

REFERRAL_FIELDS = (
    "status",
    "route",
    "support_level",
    "navigator_id",
    "first_contact_at",
    "triaged_at",
    "triage_note",
    "assigned_at",
    "int_neighbourhood_id",
    "int_sent_at",
    "closed_at",
    "closure_reason",
    "outcome_summary",
)


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def in_status(status: ReferralStatus, navigator=None, **kw) -> Referral:
    """A referral that has got as far as `status` by the usual road."""
    fields: dict = {"received_at": ago(days=3)}
    if status != S.RECEIVED:
        fields["first_contact_at"] = ago(days=2)
    if status in (S.TRIAGED, S.ASSIGNED, S.ACTIVE):
        fields.update(route=Route.SOCIAL_NAVIGATION, support_level=2, triaged_at=ago(days=2))
    if status in (S.ASSIGNED, S.ACTIVE):
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=1))
    if status == S.CLOSED:
        fields.update(closed_at=ago(days=1), closure_reason=ClosureReason.MOVED_AWAY)
    referral = make_referral(status=status, **{**fields, **kw})
    settle()
    return referral


def settle() -> None:
    """Load what a request already holds: the signed-in user and the referral's history.

    The factories commit, which expires everything. Reloading it here keeps the tests
    about their own rule; test_closing_works_before_the_history_is_loaded covers what
    happens when a step finds the history not loaded yet.
    """
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def commit() -> None:
    db.session.commit()
    settle()


def contact_count(referral: Referral) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Contact).where(Contact.referral_id == referral.id)
    )


def snapshot(referral: Referral) -> dict:
    pending = len(db.session.new)  # before the count below flushes anything
    return {
        "pending": pending,
        "events": len(referral.events),
        "contacts": contact_count(referral),
        **{name: getattr(referral, name) for name in REFERRAL_FIELDS},
    }


@contextmanager
def refused(referral: Referral, field: str | None = None, says: str | None = None):
    """The step inside must raise TransitionRefused and leave the referral exactly as it was."""
    db.session.flush()
    before = snapshot(referral)
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    assert caught.value.message == str(caught.value)
    if says is not None:
        assert says in caught.value.message
    assert snapshot(referral) == before


def saved_events(referral: Referral) -> list[ReferralEvent]:
    db.session.commit()
    db.session.expire_all()
    return list(referral.events)


def attempt(referral, actor, result=ContactResult.NO_ANSWER, **kw) -> Contact:
    kw.setdefault("occurred_at", ago(hours=1))
    return workflow.record_contact_attempt(
        referral, actor, method=ContactMethod.PHONE, result=result, **kw
    )


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


@pytest.fixture
def colleague(make_user):
    return make_user(Role.NAVIGATOR, full_name="Nia Colleague")


@pytest.fixture
def steps(hub, navigator, colleague):
    return SimpleNamespace(actor=hub, navigator=navigator, colleague=colleague)


# --- every allowed transition -------------------------------------------------------------


def _attempt_no_answer(r, t):
    attempt(r, t.actor)


TRANSITIONS = [
    pytest.param(
        S.RECEIVED,
        {},
        _attempt_no_answer,
        ReferralAction.CONTACT_ATTEMPT,
        S.CONTACTING,
        id="received-to-contacting-by-first-attempt",
    ),
    pytest.param(
        S.RECEIVED,
        {"first_contact_at": ago(days=1)},
        lambda r, t: workflow.triage(r, t.actor, route=Route.INT, support_level=1),
        ReferralAction.TRIAGED,
        S.TRIAGED,
        id="received-to-triaged",
    ),
    pytest.param(
        S.RECEIVED,
        {},
        lambda r, t: workflow.close(r, t.actor, ClosureReason.MOVED_AWAY),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="received-to-closed",
    ),
    pytest.param(
        S.RECEIVED,
        {},
        lambda r, t: workflow.triage(r, t.actor, route=Route.SIGNPOST, note="Age UK lunch club"),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="received-to-closed-by-signposting",
    ),
    pytest.param(
        S.CONTACTING,
        {},
        lambda r, t: workflow.triage(r, t.actor, route=Route.SOCIAL_NAVIGATION, support_level=2),
        ReferralAction.TRIAGED,
        S.TRIAGED,
        id="contacting-to-triaged",
    ),
    pytest.param(
        S.CONTACTING,
        {},
        lambda r, t: workflow.close(r, t.actor, ClosureReason.DECLINED, "Does not want help"),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="contacting-to-closed",
    ),
    pytest.param(
        S.CONTACTING,
        {},
        lambda r, t: workflow.triage(
            r, t.actor, route=Route.NOT_APPROPRIATE, note="Needs the crisis team"
        ),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="contacting-to-closed-as-not-appropriate",
    ),
    pytest.param(
        S.TRIAGED,
        {},
        lambda r, t: workflow.assign(r, t.actor, t.navigator),
        ReferralAction.ASSIGNED,
        S.ASSIGNED,
        id="triaged-to-assigned",
    ),
    pytest.param(
        S.TRIAGED,
        {},
        lambda r, t: workflow.close(r, t.actor, ClosureReason.REFERRED_ON),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="triaged-to-closed",
    ),
    pytest.param(
        S.ASSIGNED,
        {},
        lambda r, t: workflow.assign(r, t.actor, t.colleague),
        ReferralAction.ASSIGNED,
        S.ASSIGNED,
        id="assigned-to-assigned-by-handover",
    ),
    pytest.param(
        S.ASSIGNED,
        {},
        lambda r, t: workflow.activate(r, t.actor),
        ReferralAction.ACTIVATED,
        S.ACTIVE,
        id="assigned-to-active",
    ),
    pytest.param(
        S.ASSIGNED,
        {},
        lambda r, t: workflow.close(r, t.actor, ClosureReason.GOALS_MET, "Walking group weekly"),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="assigned-to-closed",
    ),
    pytest.param(
        S.ACTIVE,
        {},
        lambda r, t: workflow.assign(r, t.actor, t.colleague),
        ReferralAction.ASSIGNED,
        S.ACTIVE,
        id="active-to-active-by-handover",
    ),
    pytest.param(
        S.ACTIVE,
        {},
        lambda r, t: workflow.close(r, t.actor, ClosureReason.CONNECTED, "Joined a choir"),
        ReferralAction.CLOSED,
        S.CLOSED,
        id="active-to-closed",
    ),
    pytest.param(
        S.CLOSED,
        {"route": Route.SOCIAL_NAVIGATION, "support_level": 2, "assigned_at": ago(days=5)},
        lambda r, t: _reopen_navigated(r, t, reached=False),
        ReferralAction.REOPENED,
        S.ASSIGNED,
        id="closed-to-assigned-by-reopening-before-the-person-was-reached",
    ),
    pytest.param(
        S.CLOSED,
        {"route": Route.SOCIAL_NAVIGATION, "support_level": 2, "assigned_at": ago(days=5)},
        lambda r, t: _reopen_navigated(r, t, reached=True),
        ReferralAction.REOPENED,
        S.ACTIVE,
        id="closed-to-active-by-reopening-after-the-person-was-reached",
    ),
]


def _reopen_navigated(referral, t, reached: bool) -> None:
    referral.navigator_id = t.navigator.id
    if reached:
        make_contact(referral, t.navigator, days_ago=2)
        settle()
    workflow.reopen(referral, t.actor, "The person asked for more help")


def test_the_transition_table_is_what_the_tests_cover():
    covered = {(p.values[0], p.values[4]) for p in TRANSITIONS}
    allowed = {(before, after) for before, nexts in NEXT.items() for after in nexts}
    assert covered == allowed
    # A closed referral only comes back through reopen(), to its navigator.
    assert NEXT[S.CLOSED] == frozenset({S.ASSIGNED, S.ACTIVE})


@pytest.mark.parametrize(("start", "extra", "step", "action", "end"), TRANSITIONS)
def test_each_allowed_transition_moves_and_records_who_and_when(
    steps, start, extra, step, action, end
):
    referral = in_status(start, steps.navigator, **extra)
    before_ids = {e.id for e in referral.events}
    started = utcnow()

    step(referral, steps)
    finished = utcnow()

    assert referral.status == end
    new = [e for e in saved_events(referral) if e.id not in before_ids]
    moves = [e for e in new if e.from_status is not None]
    assert len(moves) == 1
    move = moves[0]
    assert (move.action, move.from_status, move.to_status) == (action, start, end)
    for event in new:
        assert event.actor_id == steps.actor.user.id
        assert event.actor_label == steps.actor.label
        assert started <= event.at <= finished
    assert referral.status == end  # as saved, on this database


def test_actor_label_names_the_person_and_their_role(coordinator):
    coordinator.full_name = "Cara Coordinator"
    assert Actor.of(coordinator).label == "Cara Coordinator (Hub coordinator)"
    assert Actor.of(coordinator).user is coordinator


def test_receive_opens_the_history_with_who_sent_it(app):
    referral = make_referral(source=ReferralSource.SELF)
    workflow.receive(referral, workflow.SELF_REFERRAL_FORM)

    (event,) = saved_events(referral)
    assert (event.action, event.from_status, event.to_status) == (
        ReferralAction.RECEIVED,
        None,
        S.RECEIVED,
    )
    assert event.actor_id is None
    assert event.actor_label == "The person, using the online self-referral form"
    assert referral.status == S.RECEIVED


# --- illegal steps change nothing ---------------------------------------------------------


CLOSED_MESSAGE = "This referral is closed, so it cannot be changed. Make a new referral if needed."


def test_triage_on_a_closed_referral_is_refused(hub):
    referral = in_status(S.CLOSED)
    with refused(referral, says=CLOSED_MESSAGE):
        workflow.triage(referral, hub, route=Route.SIGNPOST)


def test_triage_twice_is_refused(hub):
    referral = in_status(S.CONTACTING)
    workflow.triage(referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=2)
    commit()

    with refused(referral, says="already been triaged"):
        workflow.triage(referral, hub, route=Route.INT, support_level=3)
    assert referral.route == Route.SOCIAL_NAVIGATION


def test_triage_after_assignment_is_refused(hub, navigator):
    referral = in_status(S.ASSIGNED, navigator)
    with refused(referral, says="Change the navigator from the case instead"):
        workflow.triage(referral, hub, route=Route.SIGNPOST)


def test_activating_a_received_referral_is_refused(hub):
    referral = in_status(S.RECEIVED)
    with refused(referral) as caught:
        workflow.activate(referral, hub)
    assert caught.value.message == (
        "A referral that is received cannot move to being supported. "
        "Reload the page to see where it has got to."
    )


@pytest.mark.parametrize("start", [S.CONTACTING, S.TRIAGED, S.ACTIVE])
def test_activate_is_only_from_assigned(hub, navigator, start):
    referral = in_status(start, navigator)
    with refused(referral, says="cannot move to being supported"):
        workflow.activate(referral, hub)


def test_activating_a_closed_referral_says_it_is_closed(hub):
    referral = in_status(S.CLOSED)
    with refused(referral, says=CLOSED_MESSAGE):
        workflow.activate(referral, hub)


def test_closing_works_before_the_history_is_loaded(hub):
    """As on the close page: the referral is loaded without its events, then closed.

    Setting the status before closed_at and closure_reason lets the autoflush that loads
    the history write a closed row without them, which the database refuses.
    """
    referral = in_status(S.CONTACTING)
    db.session.commit()
    assert hub.user.id  # the signed-in user, loaded as Flask-Login has it
    referral = db.session.get(Referral, referral.id)
    assert "events" in sa.inspect(referral).unloaded

    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    db.session.commit()

    db.session.expire_all()
    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.MOVED_AWAY
    assert [e.action for e in referral.events] == [ReferralAction.CLOSED]


def test_closing_a_closed_referral_is_refused(hub):
    referral = in_status(S.CLOSED)
    with refused(referral, says=CLOSED_MESSAGE):
        workflow.close(referral, hub, ClosureReason.DIED)
    assert referral.closure_reason == ClosureReason.MOVED_AWAY


def test_assigning_before_triage_is_refused(hub, navigator):
    referral = in_status(S.CONTACTING)
    with refused(referral, field="navigator_id", says="routed to social navigation"):
        workflow.assign(referral, hub, navigator)


def test_assigning_a_closed_referral_is_refused(hub, navigator):
    referral = in_status(
        S.CLOSED, route=Route.SOCIAL_NAVIGATION, support_level=2, triaged_at=ago(days=2)
    )
    with refused(referral, says=CLOSED_MESSAGE):
        workflow.assign(referral, hub, navigator)
    assert referral.navigator_id is None


def test_assigning_the_navigator_who_already_has_it_is_refused(hub, navigator):
    navigator.full_name = "Nadia Navigator"
    referral = in_status(S.ASSIGNED, navigator)
    with refused(referral, field="navigator_id", says="Nadia Navigator already has this case"):
        workflow.assign(referral, hub, navigator)


@pytest.mark.parametrize("step", [workflow.record_edit, workflow.add_information])
def test_closed_referrals_take_no_edits_or_information(hub, step):
    referral = in_status(S.CLOSED)
    argument = {"Details": ["old", "new"]} if step is workflow.record_edit else "More news"
    with refused(referral, says=CLOSED_MESSAGE):
        step(referral, hub, argument)


@pytest.mark.parametrize("start", [S.ASSIGNED, S.ACTIVE])
def test_contact_attempts_stop_here_once_a_navigator_has_the_case(hub, navigator, start):
    referral = in_status(start, navigator)
    with refused(referral, says="the navigator logs contacts on the case"):
        attempt(referral, hub)


def test_contact_attempt_on_a_closed_referral_is_refused(hub):
    referral = in_status(S.CLOSED)
    with refused(referral, says=CLOSED_MESSAGE):
        attempt(referral, hub)


# --- contact attempts ---------------------------------------------------------------------


def test_first_attempt_moves_received_to_contacting_and_saves_the_contact(hub, coordinator):
    referral = in_status(S.RECEIVED)
    when = ago(hours=2)

    contact = attempt(referral, hub, occurred_at=when, notes="Rang twice")

    (event,) = saved_events(referral)
    assert referral.status == S.CONTACTING
    assert (event.action, event.from_status, event.to_status) == (
        ReferralAction.CONTACT_ATTEMPT,
        S.RECEIVED,
        S.CONTACTING,
    )
    assert event.note == "Phone: No answer"
    assert contact.author_id == coordinator.id
    assert contact.occurred_at == when
    assert contact.result == ContactResult.NO_ANSWER
    assert contact.successful is False
    assert contact.notes == "Rang twice"
    assert contact_count(referral) == 1


def test_later_attempts_are_recorded_without_a_status_change(hub):
    referral = in_status(S.CONTACTING)
    attempt(referral, hub, result=ContactResult.LEFT_MESSAGE)

    (event,) = saved_events(referral)
    assert referral.status == S.CONTACTING
    assert event.action == ReferralAction.CONTACT_ATTEMPT
    assert (event.from_status, event.to_status) == (None, None)
    assert event.note == "Phone: Left a message"


def test_attempts_may_still_be_recorded_after_triage(hub):
    referral = in_status(S.TRIAGED)
    attempt(referral, hub)
    assert referral.status == S.TRIAGED
    assert contact_count(referral) == 1


def test_a_successful_attempt_sets_first_contact(hub):
    referral = in_status(S.RECEIVED)
    when = ago(hours=3)

    contact = attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=when)

    assert contact.successful is True
    db.session.commit()
    db.session.expire_all()
    assert referral.first_contact_at == when


def test_an_unsuccessful_attempt_leaves_first_contact_empty(hub):
    referral = in_status(S.RECEIVED)
    attempt(referral, hub, result=ContactResult.WRONG_DETAILS)
    assert referral.first_contact_at is None


def test_first_contact_is_the_earliest_successful_attempt(hub):
    referral = in_status(S.RECEIVED)
    first, later, earlier = ago(hours=5), ago(hours=1), ago(hours=30)

    attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=first)
    attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=later)
    assert referral.first_contact_at == first

    attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=earlier)
    assert referral.first_contact_at == earlier


def test_an_attempt_in_the_future_is_refused(hub):
    referral = in_status(S.RECEIVED)
    with refused(referral, field="occurred_at", says="must be in the past"):
        attempt(
            referral, hub, result=ContactResult.SPOKE, occurred_at=utcnow() + timedelta(minutes=5)
        )
    assert referral.status == S.RECEIVED


def test_an_attempt_before_the_referral_arrived_is_refused(hub):
    referral = in_status(S.RECEIVED, received_at=ago(hours=4))
    with refused(referral, field="occurred_at", says="before the referral was received"):
        attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=ago(hours=5))


def test_an_attempt_in_the_minute_the_referral_arrived_is_allowed(hub):
    # The form gives minutes only, so "the same minute" must not be refused as earlier.
    received = ago(hours=4).replace(second=40)
    referral = in_status(S.RECEIVED, received_at=received)

    attempt(referral, hub, occurred_at=received.replace(second=0, microsecond=0))

    assert referral.status == S.CONTACTING
    with refused(referral, field="occurred_at"):
        attempt(referral, hub, occurred_at=received.replace(second=0) - timedelta(minutes=1))


# --- counting failed attempts -------------------------------------------------------------


def test_failed_attempts_count_all_failures_when_never_reached(navigator):
    referral = in_status(S.CONTACTING, first_contact_at=None)
    other = in_status(S.CONTACTING, first_contact_at=None)
    for days in (3, 2, 1):
        make_contact(referral, navigator, days_ago=days, successful=False)
    make_contact(other, navigator, days_ago=1, successful=False)

    assert workflow.failed_attempts_since_last_contact(referral) == 3
    assert workflow.failed_attempts_since_last_contact(other) == 1


def test_failed_attempts_count_only_those_after_the_last_success(navigator):
    referral = in_status(S.CONTACTING)
    make_contact(referral, navigator, days_ago=6, successful=False)
    make_contact(referral, navigator, days_ago=5, successful=True)
    make_contact(referral, navigator, days_ago=4, successful=False)
    make_contact(referral, navigator, days_ago=3, successful=True)
    make_contact(referral, navigator, days_ago=2, successful=False)
    make_contact(referral, navigator, days_ago=1, successful=False)

    assert workflow.failed_attempts_since_last_contact(referral) == 2


def test_a_success_elsewhere_does_not_reset_this_referrals_count(navigator):
    referral = in_status(S.CONTACTING, first_contact_at=None)
    other = in_status(S.CONTACTING)
    make_contact(referral, navigator, days_ago=3, successful=False)
    make_contact(referral, navigator, days_ago=2, successful=False)
    make_contact(other, navigator, days_ago=1, successful=True)

    assert workflow.failed_attempts_since_last_contact(referral) == 2


def test_attempts_needed_comes_from_config(app, monkeypatch):
    assert workflow.attempts_needed() == 3
    monkeypatch.setitem(app.config, "TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT", 2)
    assert workflow.attempts_needed() == 2


# --- triage -------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [Route.SOCIAL_NAVIGATION, Route.INT, Route.BOTH])
def test_support_routes_need_a_successful_contact_first(hub, route):
    referral = in_status(S.RECEIVED)
    attempt(referral, hub)  # failed: no answer
    commit()

    with refused(referral, field="route", says="Record a successful contact"):
        workflow.triage(referral, hub, route=route, support_level=2)
    assert referral.status == S.CONTACTING


@pytest.mark.parametrize("level", [None, 0, 4])
def test_support_routes_need_a_level_of_support(hub, level):
    referral = in_status(S.CONTACTING)
    with refused(referral, field="support_level", says="Choose the level of support"):
        workflow.triage(referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=level)


@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_not_appropriate_needs_a_reason(hub, note):
    referral = in_status(S.RECEIVED)
    with refused(referral, field="note", says="Say why"):
        workflow.triage(referral, hub, route=Route.NOT_APPROPRIATE, note=note)


def test_not_appropriate_closes_with_the_reason_as_the_summary(hub):
    referral = in_status(S.RECEIVED)

    workflow.triage(referral, hub, route=Route.NOT_APPROPRIATE, note="Needs the crisis team")

    events = saved_events(referral)
    assert referral.status == S.CLOSED
    assert referral.route == Route.NOT_APPROPRIATE
    assert referral.closure_reason == ClosureReason.NOT_APPROPRIATE
    assert referral.outcome_summary == "Needs the crisis team"
    assert referral.triage_note == "Needs the crisis team"
    assert referral.support_level is None
    assert referral.triaged_at is not None
    assert referral.closed_at - referral.triaged_at < timedelta(seconds=5)
    assert [(e.action, e.from_status, e.to_status, e.note) for e in events] == [
        (ReferralAction.TRIAGED, None, None, "Not appropriate"),
        (ReferralAction.CLOSED, S.RECEIVED, S.CLOSED, "Not appropriate"),
    ]


def test_signposting_closes_as_signposted_without_contact_or_level(hub):
    referral = in_status(S.RECEIVED)

    workflow.triage(referral, hub, route=Route.SIGNPOST, support_level=2, note="Lunch club")

    events = saved_events(referral)
    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.SIGNPOSTED
    assert referral.support_level is None
    assert referral.outcome_summary == "Lunch club"
    assert [e.action for e in events] == [ReferralAction.TRIAGED, ReferralAction.CLOSED]
    assert events[0].note == "Signpost only"
    assert events[1].note == "Signposted to other support"


def test_social_navigation_without_a_navigator_ends_triaged(hub):
    referral = in_status(S.CONTACTING)

    workflow.triage(referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=3, note="Lonely")

    (event,) = saved_events(referral)
    assert referral.status == S.TRIAGED
    assert referral.support_level == 3
    assert referral.triage_note == "Lonely"
    assert referral.navigator_id is None
    assert referral.int_neighbourhood_id is None
    assert referral.int_sent_at is None
    assert event.note == "Social navigation, level 3"


def test_int_route_sends_to_the_practices_neighbourhood(hub):
    practice = make_practice()
    referral = in_status(S.CONTACTING, practice=practice)
    started = utcnow()

    workflow.triage(referral, hub, route=Route.INT, support_level=2)

    events = saved_events(referral)
    assert referral.status == S.TRIAGED
    assert referral.int_neighbourhood_id == practice.neighbourhood_id
    assert started <= referral.int_sent_at <= utcnow()
    assert referral.int_sent_at == referral.triaged_at
    assert [e.action for e in events] == [ReferralAction.TRIAGED, ReferralAction.SENT_TO_INT]
    assert events[1].note == practice.neighbourhood.name


def test_int_route_for_a_self_referral_uses_the_residents_practice(hub):
    practice = make_practice()
    resident = make_resident(practice_id=practice.id)
    referral = in_status(S.CONTACTING, resident=resident, source=ReferralSource.SELF)
    assert referral.practice_id is None

    workflow.triage(referral, hub, route=Route.BOTH, support_level=1)

    assert referral.int_neighbourhood_id == practice.neighbourhood_id


@pytest.mark.parametrize("route", [Route.INT, Route.BOTH])
def test_int_route_is_refused_when_no_practice_is_known(hub, route):
    resident = make_resident(practice_id=None)
    referral = in_status(S.CONTACTING, resident=resident, source=ReferralSource.SELF)

    with refused(referral, field="route", says="GP practice is not known"):
        workflow.triage(referral, hub, route=route, support_level=2)


def test_triage_with_a_navigator_ends_assigned(hub, navigator):
    navigator.full_name = "Nadia Navigator"
    referral = in_status(S.CONTACTING)

    workflow.triage(
        referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=2, navigator=navigator
    )

    events = saved_events(referral)
    assert referral.status == S.ASSIGNED
    assert referral.navigator_id == navigator.id
    assert referral.assigned_at is not None
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        (ReferralAction.TRIAGED, S.CONTACTING, S.TRIAGED),
        (ReferralAction.ASSIGNED, S.TRIAGED, S.ASSIGNED),
    ]
    assert events[1].note == "Nadia Navigator"


def test_both_routes_send_to_the_int_and_assign(hub, navigator):
    referral = in_status(S.CONTACTING)

    workflow.triage(referral, hub, route=Route.BOTH, support_level=2, navigator=navigator)

    events = saved_events(referral)
    assert referral.status == S.ASSIGNED
    assert referral.int_neighbourhood_id is not None
    assert [e.action for e in events] == [
        ReferralAction.TRIAGED,
        ReferralAction.SENT_TO_INT,
        ReferralAction.ASSIGNED,
    ]


@pytest.mark.parametrize("route", [Route.INT, Route.SIGNPOST, Route.NOT_APPROPRIATE])
def test_navigator_only_for_navigation_routes(hub, navigator, route):
    referral = in_status(S.CONTACTING)
    with refused(referral, field="navigator_id", says="leave the navigator empty"):
        workflow.triage(
            referral, hub, route=route, support_level=2, navigator=navigator, note="Reason"
        )


def test_navigator_must_have_the_navigator_role(hub, coordinator):
    referral = in_status(S.CONTACTING)
    with refused(referral, field="navigator_id", says="Choose an active navigator"):
        workflow.triage(
            referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=2, navigator=coordinator
        )


def test_navigator_must_be_active(hub, make_user):
    former = make_user(Role.NAVIGATOR, is_active=False)
    referral = in_status(S.CONTACTING)
    with refused(referral, field="navigator_id", says="Choose an active navigator"):
        workflow.triage(
            referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=1, navigator=former
        )


@pytest.mark.parametrize("level", [2, 3])
def test_volunteer_navigators_are_refused_above_level_one(hub, make_user, level):
    volunteer = make_user(Role.NAVIGATOR, is_volunteer_navigator=True)
    referral = in_status(S.CONTACTING)
    with refused(referral, field="navigator_id", says="level 1 (preventative) only"):
        workflow.triage(
            referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=level, navigator=volunteer
        )


def test_volunteer_navigators_take_level_one(hub, make_user):
    volunteer = make_user(Role.NAVIGATOR, is_volunteer_navigator=True)
    referral = in_status(S.CONTACTING)

    workflow.triage(
        referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=1, navigator=volunteer
    )

    assert referral.status == S.ASSIGNED
    assert referral.navigator_id == volunteer.id


# --- assignment and activation ------------------------------------------------------------


def test_assign_from_triaged_names_the_navigator(hub, navigator):
    navigator.full_name = "Nadia Navigator"
    referral = in_status(S.TRIAGED)
    started = utcnow()

    workflow.assign(referral, hub, navigator)

    (event,) = saved_events(referral)
    assert referral.status == S.ASSIGNED
    assert referral.navigator_id == navigator.id
    assert started <= referral.assigned_at <= utcnow()
    assert event.note == "Nadia Navigator"


def test_reassigning_keeps_both_names_in_the_history(hub, navigator, colleague):
    navigator.full_name = "Nadia Navigator"
    referral = in_status(S.ASSIGNED, navigator)

    workflow.assign(referral, hub, colleague)

    (event,) = saved_events(referral)
    assert referral.navigator_id == colleague.id
    assert referral.status == S.ASSIGNED
    assert (event.from_status, event.to_status) == (S.ASSIGNED, S.ASSIGNED)
    assert event.note == "Nia Colleague (was Nadia Navigator)"


def test_reassigning_an_active_case_keeps_it_active(hub, navigator, colleague):
    referral = in_status(S.ACTIVE, navigator)
    workflow.assign(referral, hub, colleague)
    assert referral.status == S.ACTIVE
    assert referral.navigator_id == colleague.id


def test_int_only_referrals_have_no_navigator(hub, navigator):
    referral = in_status(S.TRIAGED, route=Route.INT)
    with refused(referral, field="navigator_id", says="Only referrals routed to social navigation"):
        workflow.assign(referral, hub, navigator)


def test_assigning_a_level_two_case_to_a_volunteer_is_refused(hub, navigator, make_user):
    volunteer = make_user(Role.NAVIGATOR, is_volunteer_navigator=True)
    referral = in_status(S.ASSIGNED, navigator, support_level=2)
    with refused(referral, field="navigator_id", says="Volunteer navigators"):
        workflow.assign(referral, hub, volunteer)


def test_assigning_an_inactive_navigator_is_refused(hub, make_user):
    former = make_user(Role.NAVIGATOR, is_active=False)
    referral = in_status(S.TRIAGED)
    with refused(referral, field="navigator_id", says="Choose an active navigator"):
        workflow.assign(referral, hub, former)


def test_activate_starts_support(navigator):
    referral = in_status(S.ASSIGNED, navigator)
    workflow.activate(referral, Actor.of(navigator))

    (event,) = saved_events(referral)
    assert referral.status == S.ACTIVE
    assert event.action == ReferralAction.ACTIVATED
    assert event.actor_id == navigator.id


# --- closure ------------------------------------------------------------------------------


def test_closing_records_reason_summary_and_time(hub):
    referral = in_status(S.TRIAGED)
    started = utcnow()

    workflow.close(referral, hub, ClosureReason.REFERRED_ON, "To the memory clinic")

    (event,) = saved_events(referral)
    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.REFERRED_ON
    assert referral.outcome_summary == "To the memory clinic"
    assert started <= referral.closed_at <= utcnow()
    assert event.at == referral.closed_at
    assert event.note == "Referred on to another service"


@pytest.mark.parametrize(
    "reason",
    [
        ClosureReason.NOT_APPROPRIATE,
        ClosureReason.DECLINED,
        ClosureReason.GOALS_MET,
        ClosureReason.CONNECTED,
    ],
)
@pytest.mark.parametrize("summary", [None, "", "  "])
def test_some_closures_need_a_summary_for_the_gp(hub, navigator, reason, summary):
    referral = in_status(S.ACTIVE, navigator)
    with refused(referral, field="summary", says="Write a short summary for the GP report"):
        workflow.close(referral, hub, reason, summary)


@pytest.mark.parametrize(
    "reason", [ClosureReason.MOVED_AWAY, ClosureReason.DIED, ClosureReason.REFERRED_ON]
)
def test_other_closures_need_no_summary(hub, navigator, reason):
    referral = in_status(S.ACTIVE, navigator)
    workflow.close(referral, hub, reason)
    assert referral.status == S.CLOSED
    assert referral.outcome_summary is None


@pytest.mark.parametrize("reason", [ClosureReason.GOALS_MET, ClosureReason.CONNECTED])
@pytest.mark.parametrize("start", [S.RECEIVED, S.CONTACTING, S.TRIAGED])
def test_goals_met_and_connected_only_after_a_navigator_has_supported(hub, reason, start):
    referral = in_status(start)
    with refused(referral, field="reason", says="is for people a navigator has supported"):
        workflow.close(referral, hub, reason, "Went well")


@pytest.mark.parametrize("start", [S.ASSIGNED, S.ACTIVE])
def test_goals_met_after_assignment(hub, navigator, start):
    referral = in_status(start, navigator)
    workflow.close(referral, hub, ClosureReason.GOALS_MET, "Went well")
    assert referral.closure_reason == ClosureReason.GOALS_MET


def test_unable_to_contact_needs_the_configured_number_of_failed_attempts(app, hub, monkeypatch):
    monkeypatch.setitem(app.config, "TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT", 2)
    referral = in_status(S.RECEIVED, first_contact_at=None)
    attempt(referral, hub, occurred_at=ago(hours=5))
    commit()

    with refused(referral, field="reason") as caught:
        workflow.close(referral, hub, ClosureReason.UNABLE_TO_CONTACT)
    assert caught.value.message == (
        "Make 2 attempts to reach the person before closing as unable to contact "
        "(1 recorded since they were last reached)"
    )

    attempt(referral, hub, occurred_at=ago(hours=4))
    workflow.close(referral, hub, ClosureReason.UNABLE_TO_CONTACT)

    saved_events(referral)
    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.UNABLE_TO_CONTACT


def test_unable_to_contact_counts_only_attempts_since_the_person_was_reached(app, hub, monkeypatch):
    monkeypatch.setitem(app.config, "TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT", 2)
    referral = in_status(S.RECEIVED, first_contact_at=None)
    attempt(referral, hub, occurred_at=ago(hours=6))
    attempt(referral, hub, occurred_at=ago(hours=5))
    attempt(referral, hub, result=ContactResult.SPOKE, occurred_at=ago(hours=4))
    attempt(referral, hub, occurred_at=ago(hours=3))
    commit()

    with refused(referral, field="reason", says="(1 recorded since they were last reached)"):
        workflow.close(referral, hub, ClosureReason.UNABLE_TO_CONTACT)

    attempt(referral, hub, occurred_at=ago(hours=2))
    workflow.close(referral, hub, ClosureReason.UNABLE_TO_CONTACT)
    assert referral.status == S.CLOSED


def test_unable_to_contact_uses_the_default_of_three(hub):
    referral = in_status(S.RECEIVED, first_contact_at=None)
    for hours in (4, 3):
        attempt(referral, hub, occurred_at=ago(hours=hours))
    with refused(referral, field="reason", says="Make 3 attempts"):
        workflow.close(referral, hub, ClosureReason.UNABLE_TO_CONTACT)


# --- steps that do not move the status ----------------------------------------------------


def test_record_edit_keeps_before_and_after(hub):
    referral = in_status(S.CONTACTING)
    workflow.record_edit(referral, hub, {"Phone": ["01632 960001", "07700 900982"]})

    (event,) = saved_events(referral)
    assert event.action == ReferralAction.EDITED
    assert event.changes == {"Phone": ["01632 960001", "07700 900982"]}
    assert (event.from_status, event.to_status) == (None, None)
    assert event.actor_id == hub.user.id


def test_record_edit_with_no_changes_adds_nothing(hub):
    referral = in_status(S.CONTACTING)
    workflow.record_edit(referral, hub, {})
    assert saved_events(referral) == []


def test_add_information_records_the_practices_words(practice_user):
    referral = in_status(S.TRIAGED)
    workflow.add_information(referral, Actor.of(practice_user), "Now lives with daughter")

    (event,) = saved_events(referral)
    assert event.action == ReferralAction.INFORMATION_ADDED
    assert event.note == "Now lives with daughter"
    assert event.actor_id == practice_user.id
    assert event.actor_label.endswith("(GP practice user)")


def test_add_note_is_attributed_to_the_portal(app):
    referral = in_status(S.RECEIVED)
    workflow.add_note(referral, "Check the NHS number")

    (event,) = saved_events(referral)
    assert event.action == ReferralAction.NOTE
    assert event.note == "Check the NHS number"
    assert event.actor_id is None
    assert event.actor_label == "The portal"


def test_stamp_versions_marks_new_events_with_the_version_they_produced(hub, navigator):
    referral = in_status(S.TRIAGED)
    version_before = referral.version
    workflow.add_note(referral, "Earlier note")
    workflow.stamp_versions(referral)
    commit()
    (earlier,) = referral.events
    assert earlier.version == version_before

    workflow.assign(referral, hub, navigator)
    workflow.stamp_versions(referral)
    db.session.commit()
    db.session.expire_all()

    assert referral.version == version_before + 1
    earlier_again, assigned = referral.events
    assert earlier_again.version == version_before
    assert assigned.action == ReferralAction.ASSIGNED
    assert assigned.version == referral.version
