"""Reopening a closed case, and what assigning and closing now add: the next contact date,
the navigator's alert, and the outcome queued for the practice."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases import work
from portal.cases.models import Contact, ContactResult
from portal.db_types import utcnow
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
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
from portal.referrals.workflow import PORTAL, Actor, TransitionRefused
from portal.reports.models import OutcomeReport, QueuedOutcome
from tests.factories import make_contact, make_practice, make_referral, make_resident

S = ReferralStatus
UCLA3 = [3, 3, 2]


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def settle() -> None:
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def commit() -> None:
    db.session.commit()
    settle()


def open_case(navigator, status: ReferralStatus = S.ACTIVE, **kw) -> Referral:
    """A case with `navigator` since 10 days ago, received 20 days ago."""
    referral = make_referral(
        status=status,
        **{
            "received_at": ago(days=20),
            "first_contact_at": ago(days=19),
            "route": Route.SOCIAL_NAVIGATION,
            "support_level": 2,
            "triaged_at": ago(days=19),
            "navigator_id": navigator.id,
            "assigned_at": ago(days=10),
            **kw,
        },
    )
    settle()
    return referral


def closed_case(navigator, hub: Actor, reason=ClosureReason.MOVED_AWAY, summary=None, **kw):
    """Closed through the workflow, so its outcome is queued as in real use."""
    referral = open_case(navigator, **kw)
    workflow.close(referral, hub, reason, summary)
    commit()
    return referral


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def queued(referral) -> list[QueuedOutcome]:
    return list(
        db.session.scalars(
            sa.select(QueuedOutcome)
            .where(QueuedOutcome.referral_id == referral.id)
            .order_by(QueuedOutcome.id)
        )
    )


def alerts(user=None) -> list[Alert]:
    query = sa.select(Alert).order_by(Alert.id)
    if user is not None:
        query = query.where(Alert.user_id == user.id)
    return list(db.session.scalars(query))


FIELDS = (
    "status",
    "navigator_id",
    "closed_at",
    "closure_reason",
    "outcome_summary",
    "next_contact_on",
    "assigned_at",
)


def state(referral) -> dict:
    pending = len(db.session.new) + len(db.session.deleted)
    return {
        "pending": pending,
        **{name: getattr(referral, name) for name in FIELDS},
        "events": count(ReferralEvent, ReferralEvent.referral_id == referral.id),
        "queued": count(QueuedOutcome),
        "alerts": count(Alert),
    }


@contextmanager
def refused(referral, field=None, says=None):
    db.session.flush()
    before = state(referral)
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    if says is not None:
        assert says in caught.value.message
    assert state(referral) == before


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


# --- who and what may be reopened ----------------------------------------------------------


@pytest.mark.parametrize("status", [S.ASSIGNED, S.ACTIVE])
def test_only_a_closed_case_can_be_reopened(navigator, hub, status):
    referral = open_case(navigator, status)
    with refused(referral, says="Only a closed case can be reopened"):
        workflow.reopen(referral, hub, "Asked for more help")


def test_a_referral_still_in_triage_cannot_be_reopened(hub):
    referral = make_referral(status=S.CONTACTING)
    settle()
    with refused(referral, says="Only a closed case can be reopened"):
        workflow.reopen(referral, hub, "Asked for more help")


@pytest.mark.parametrize(
    "role", [Role.NAVIGATOR, Role.VOLUNTEER, Role.PRACTICE_USER, Role.COMMISSIONER]
)
def test_only_coordinators_and_admins_reopen(navigator, hub, make_user, role):
    referral = closed_case(navigator, hub)
    actor = navigator if role == Role.NAVIGATOR else make_user(role)
    with refused(referral, says="Only a hub coordinator can reopen a case"):
        workflow.reopen(referral, Actor.of(actor), "Asked for more help")


def test_the_portal_itself_cannot_reopen(navigator, hub):
    referral = closed_case(navigator, hub)
    with refused(referral, says="Only a hub coordinator can reopen a case"):
        workflow.reopen(referral, PORTAL, "Automatic")


@pytest.mark.parametrize("reason", [None, "", "  \n"])
def test_reopening_needs_a_reason(navigator, hub, reason):
    referral = closed_case(navigator, hub)
    with refused(referral, field="reason", says="Say why the case is being reopened"):
        workflow.reopen(referral, hub, reason)


def test_a_signposted_referral_never_had_a_navigator(hub):
    referral = make_referral(status=S.CONTACTING, received_at=ago(days=3))
    settle()
    workflow.triage(referral, hub, route=Route.SIGNPOST, note="Lunch club")
    commit()
    assert referral.status == S.CLOSED
    with refused(referral, says="never had a navigator"):
        workflow.reopen(referral, hub, "Wants a navigator after all")


def test_an_int_only_referral_cannot_be_reopened_as_a_case(hub):
    referral = make_referral(
        status=S.TRIAGED,
        received_at=ago(days=3),
        first_contact_at=ago(days=2),
        route=Route.INT,
        support_level=2,
        triaged_at=ago(days=2),
    )
    settle()
    workflow.close(referral, hub, ClosureReason.REFERRED_ON)
    commit()
    with refused(referral, says="Make a new referral for the person instead"):
        workflow.reopen(referral, hub, "Back again")


def test_an_admin_may_reopen(navigator, hub, admin):
    referral = closed_case(navigator, hub)
    workflow.reopen(referral, Actor.of(admin), "Closed by mistake")
    commit()
    assert referral.status in (S.ASSIGNED, S.ACTIVE)
    assert referral.closed_at is None


# --- where it goes back to -----------------------------------------------------------------


def test_a_case_whose_person_was_reached_goes_back_to_active(navigator, hub):
    referral = open_case(navigator)
    make_contact(referral, navigator, days_ago=5, successful=True)
    settle()
    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    commit()

    workflow.reopen(referral, hub, "Moved back")
    commit()

    assert referral.status == S.ACTIVE


def test_a_case_never_reached_since_assignment_goes_back_to_assigned(navigator, hub):
    referral = open_case(navigator)
    # Reached during triage, before the navigator had it; tried since, without luck.
    make_contact(referral, navigator, days_ago=15, successful=True)
    make_contact(referral, navigator, days_ago=5, successful=False)
    settle()
    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    commit()

    workflow.reopen(referral, hub, "Moved back")
    commit()

    assert referral.status == S.ASSIGNED


def test_reopening_clears_the_closure_and_plans_a_first_contact(navigator, hub):
    referral = closed_case(navigator, hub, ClosureReason.DECLINED, "Did not want help")
    assert referral.closed_at is not None

    workflow.reopen(referral, hub, "Changed their mind")
    db.session.commit()
    db.session.expire_all()

    assert referral.closed_at is None
    assert referral.closure_reason is None
    assert referral.outcome_summary is None
    assert referral.navigator_id == navigator.id
    assert referral.next_contact_on == date.today() + timedelta(days=5)


def test_the_first_contact_gap_comes_from_config(app, navigator, hub, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_FIRST_CONTACT_DAYS", 2)
    referral = closed_case(navigator, hub)
    workflow.reopen(referral, hub, "Moved back")
    assert referral.next_contact_on == date.today() + timedelta(days=2)


def test_reopening_is_recorded_with_the_reason_and_the_old_outcome(make_user, navigator):
    coordinator = make_user(Role.COORDINATOR, full_name="Cara Coordinator")
    hub = Actor.of(coordinator)
    referral = closed_case(navigator, hub, ClosureReason.MOVED_AWAY)
    started = utcnow()

    workflow.reopen(referral, hub, "  Moved back to the area  ")
    db.session.commit()
    db.session.expire_all()

    reopened = [e for e in referral.events if e.action == ReferralAction.REOPENED]
    (event,) = reopened
    assert (event.from_status, event.to_status) == (S.CLOSED, S.ASSIGNED)
    assert event.note == "Moved back to the area (was: Moved away)"
    assert event.actor_id == coordinator.id
    assert event.actor_label == "Cara Coordinator (Hub coordinator)"
    assert started <= event.at <= utcnow()
    # The closure stays in the history.
    assert [e.action for e in referral.events] == [ReferralAction.CLOSED, ReferralAction.REOPENED]


# --- the outcome queue ---------------------------------------------------------------------


def test_reopening_withdraws_the_unsent_outcome(navigator, hub):
    referral = closed_case(navigator, hub)
    assert len(queued(referral)) == 1

    workflow.reopen(referral, hub, "Moved back")
    commit()

    assert queued(referral) == []


def test_an_outcome_already_sent_stays_in_its_report(navigator, hub):
    referral = closed_case(navigator, hub)
    (row,) = queued(referral)
    report = OutcomeReport(
        claim_key="test:sent-before-reopening",
        practice_id=row.practice_id,
        period_start=date.today() - timedelta(days=7),
        period_end=date.today(),
        referral_ids=[referral.id],
    )
    db.session.add(report)
    db.session.flush()
    row.report_id = report.id
    other = closed_case(navigator, hub)  # unsent, for another case: left alone
    commit()

    workflow.reopen(referral, hub, "Moved back")
    commit()

    assert [(q.id, q.report_id) for q in queued(referral)] == [(row.id, report.id)]
    assert len(queued(other)) == 1


def test_closing_again_queues_a_new_outcome(navigator, hub):
    referral = closed_case(navigator, hub)
    workflow.reopen(referral, hub, "Moved back")
    commit()

    workflow.close(referral, hub, ClosureReason.DIED)
    commit()

    assert referral.status == S.CLOSED
    assert referral.closure_reason == ClosureReason.DIED
    (row,) = queued(referral)
    assert row.practice_id == referral.practice_id


# --- the navigator is told -----------------------------------------------------------------


def test_the_navigator_is_alerted(make_user):
    navigator = make_user(Role.NAVIGATOR, full_name="Nadia Navigator")
    coordinator = make_user(Role.COORDINATOR, full_name="Cara Coordinator")
    hub = Actor.of(coordinator)
    resident = make_resident(given_name="Ada", family_name="Lovelace")
    referral = closed_case(navigator, hub, resident=resident)

    workflow.reopen(referral, hub, "Moved back")
    commit()

    (alert,) = alerts()
    assert alert.user_id == navigator.id
    assert alert.kind == AlertKind.CASE_REOPENED
    assert alert.referral_id == referral.id
    assert alert.read_at is None
    assert alert.message == (
        f"{referral.reference} (Ada Lovelace) was reopened by "
        "Cara Coordinator (Hub coordinator): Moved back"
    )
    assert alerts(coordinator) == []


# --- closing measures after a reopen -------------------------------------------------------


def _closing_measures(referral, actor) -> None:
    answers = {Scale.ONS4: [7, 6, 8, 3], Scale.SWEMWBS: [3] * 7, Scale.UCLA3: UCLA3}
    for scale, given in answers.items():
        work.record_measure(referral, actor, scale, Stage.CLOSING, given)
    commit()


def test_closing_measures_can_be_recorded_again_after_a_reopen(navigator, hub):
    me = Actor.of(navigator)
    referral = open_case(navigator)
    _closing_measures(referral, me)
    with pytest.raises(TransitionRefused) as caught:
        work.record_measure(referral, me, Scale.UCLA3, Stage.CLOSING, UCLA3)
    assert caught.value.field == "stage"
    work.close_case(referral, me, ClosureReason.GOALS_MET, "Joined a choir")
    commit()

    workflow.reopen(referral, hub, "Choir stopped")
    commit()
    work.record_measure(referral, me, Scale.UCLA3, Stage.CLOSING, [1, 1, 1])
    commit()

    closing = db.session.scalars(
        sa.select(MeasureResponse.score)
        .where(MeasureResponse.scale == Scale.UCLA3, MeasureResponse.stage == Stage.CLOSING)
        .order_by(MeasureResponse.id)
    ).all()
    assert closing == [8.0, 3.0]
    # ...and only once again.
    with pytest.raises(TransitionRefused):
        work.record_measure(referral, me, Scale.UCLA3, Stage.CLOSING, UCLA3)


def test_closing_measures_from_before_the_reopen_do_not_close_it_again(navigator, hub):
    me = Actor.of(navigator)
    referral = open_case(navigator)
    _closing_measures(referral, me)
    work.close_case(referral, me, ClosureReason.GOALS_MET, "Joined a choir")
    commit()
    workflow.reopen(referral, hub, "Choir stopped")
    commit()

    with refused(referral, field="closing_measures_declined") as caught:
        work.close_case(referral, me, ClosureReason.CONNECTED, "New choir")
    assert "ONS4 personal wellbeing" in caught.value.message

    _closing_measures(referral, me)
    work.close_case(referral, me, ClosureReason.CONNECTED, "New choir")
    commit()
    assert referral.status == S.CLOSED
    assert count(MeasureResponse, MeasureResponse.declined.is_(True)) == 0


# --- assigning: next contact and the navigator's alert -------------------------------------


def triaged(**kw) -> Referral:
    referral = make_referral(
        status=S.TRIAGED,
        **{
            "received_at": ago(days=3),
            "first_contact_at": ago(days=2),
            "route": Route.SOCIAL_NAVIGATION,
            "support_level": 2,
            "triaged_at": ago(days=2),
            **kw,
        },
    )
    settle()
    return referral


def test_assigning_plans_the_first_contact(navigator, hub):
    referral = triaged()
    workflow.assign(referral, hub, navigator)
    commit()
    assert referral.next_contact_on == date.today() + timedelta(days=5)


def test_the_first_contact_days_come_from_config(app, navigator, hub, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_FIRST_CONTACT_DAYS", 1)
    referral = triaged()
    workflow.assign(referral, hub, navigator)
    assert referral.next_contact_on == date.today() + timedelta(days=1)


def test_handing_over_an_active_case_keeps_its_plan(navigator, hub, make_user):
    planned = date.today() + timedelta(days=12)
    referral = open_case(navigator, S.ACTIVE, next_contact_on=planned)
    workflow.assign(referral, hub, make_user(Role.NAVIGATOR))
    commit()
    assert referral.next_contact_on == planned


def test_handing_over_an_active_case_without_a_plan_gets_one(navigator, hub, make_user):
    referral = open_case(navigator, S.ACTIVE, next_contact_on=None)
    workflow.assign(referral, hub, make_user(Role.NAVIGATOR))
    commit()
    assert referral.next_contact_on == date.today() + timedelta(days=5)


def test_handing_over_an_assigned_case_restarts_the_plan(navigator, hub, make_user):
    referral = open_case(navigator, S.ASSIGNED, next_contact_on=date.today() + timedelta(days=20))
    workflow.assign(referral, hub, make_user(Role.NAVIGATOR))
    commit()
    assert referral.next_contact_on == date.today() + timedelta(days=5)


def test_the_new_navigator_is_alerted(make_user):
    navigator = make_user(Role.NAVIGATOR)
    hub = Actor.of(make_user(Role.COORDINATOR, full_name="Cara Coordinator"))
    resident = make_resident(given_name="Ada", family_name="Lovelace")
    referral = triaged(resident=resident)

    workflow.assign(referral, hub, navigator)
    commit()

    (alert,) = alerts()
    assert (alert.user_id, alert.kind, alert.referral_id) == (
        navigator.id,
        AlertKind.CASE_ASSIGNED,
        referral.id,
    )
    assert alert.message == (
        f"{referral.reference} (Ada Lovelace) is now on your caseload. "
        "Assigned by Cara Coordinator (Hub coordinator)."
    )


def test_a_handover_alert_names_the_previous_navigator(make_user, hub):
    before = make_user(Role.NAVIGATOR, full_name="Nadia Navigator")
    after = make_user(Role.NAVIGATOR)
    referral = open_case(before, S.ACTIVE)

    workflow.assign(referral, hub, after)
    commit()

    (alert,) = alerts()
    assert alert.user_id == after.id
    assert ", handed over from Nadia Navigator. Assigned by " in alert.message
    assert alerts(before) == []


def test_a_navigator_taking_a_case_themselves_gets_no_alert(navigator):
    referral = triaged()
    workflow.assign(referral, Actor.of(navigator), navigator)
    commit()
    assert referral.navigator_id == navigator.id
    assert alerts() == []


def test_assigning_a_closed_referral_is_refused_and_alerts_nobody(navigator, hub):
    referral = closed_case(navigator, hub)
    with refused(referral, says="This referral is closed"):
        workflow.assign(referral, hub, navigator)


# --- closing queues the outcome ------------------------------------------------------------


def test_closing_queues_the_outcome_for_the_referring_practice(hub):
    practice = make_practice()
    referral = triaged(practice=practice)
    started = utcnow()

    workflow.close(referral, hub, ClosureReason.REFERRED_ON)
    commit()

    (row,) = queued(referral)
    assert row.practice_id == practice.id
    assert row.report_id is None
    assert started <= row.queued_at <= utcnow()


def test_closing_a_self_referral_queues_for_the_persons_practice(hub):
    practice = make_practice()
    resident = make_resident(practice_id=practice.id)
    referral = triaged(resident=resident, source=ReferralSource.SELF)
    assert referral.practice_id is None

    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    commit()

    (row,) = queued(referral)
    assert row.practice_id == practice.id


def test_nothing_is_queued_when_no_practice_is_known(hub):
    resident = make_resident(practice_id=None)
    referral = triaged(resident=resident, source=ReferralSource.SELF)

    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    commit()

    assert referral.status == S.CLOSED
    assert count(QueuedOutcome) == 0


def test_signposting_at_triage_queues_the_outcome_too(hub):
    practice = make_practice()
    referral = make_referral(status=S.CONTACTING, practice=practice, received_at=ago(days=2))
    settle()

    workflow.triage(referral, hub, route=Route.SIGNPOST, note="Lunch club")
    commit()

    (row,) = queued(referral)
    assert row.practice_id == practice.id


def test_closing_clears_the_next_contact_date(navigator, hub):
    referral = open_case(navigator, next_contact_on=date.today() + timedelta(days=3))
    workflow.close(referral, hub, ClosureReason.DIED)
    commit()
    assert referral.next_contact_on is None


def test_contacts_before_the_reopen_are_kept(navigator, hub):
    referral = open_case(navigator)
    make_contact(referral, navigator, days_ago=2, result=ContactResult.SPOKE)
    settle()
    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    commit()
    workflow.reopen(referral, hub, "Moved back")
    commit()
    assert count(Contact, Contact.referral_id == referral.id) == 1
