"""Retention: closed cases past the period lose what identifies the person; figures stay.

The job is given the day it runs, so each test fixes the clock by choosing that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import scheduler
from portal.alerts.models import Alert, AlertKind
from portal.audit.models import AuditEvent
from portal.cases.models import Contact, Goal
from portal.dashboard import kpis
from portal.directory import activity_referrals
from portal.directory.models import ActivityReferral
from portal.extensions import db
from portal.governance import retention
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralStatus,
    Resident,
)
from portal.reports.models import DeliveryStatus, OutcomeReport
from tests.factories import (
    make_activity,
    make_contact,
    make_goal,
    make_organisation,
    make_referral,
    make_resident,
    make_user,
)

TODAY = date(2026, 11, 23)


def closed(resident, closed_at: datetime, **kw) -> Referral:
    return make_referral(
        resident=resident,
        status=ReferralStatus.CLOSED,
        closed_at=closed_at,
        closure_reason=ClosureReason.GOALS_MET,
        received_at=closed_at - timedelta(days=90),
        details="Lives alone since her husband died; daughter Sarah in Leeds",
        known_risks="Dog at the door",
        outcome_summary="Goes to the Tuesday walk with her neighbour Pat",
        **kw,
    )


def a_person(**kw) -> Resident:
    return make_resident(
        given_name="Winifred",
        family_name="Ashdown",
        nhs_number="9434765919",
        phone="07700 900 461",
        email="winifred@example.com",
        address="4 Orchard Row",
        postcode="CV3 6PT",
        date_of_birth=date(1941, 3, 2),
        **kw,
    )


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def eight_years(app):
    assert app.config["RETENTION_MONTHS"]["closed_case"] == 96
    return app


def test_the_cutoff_is_the_period_before_today_in_uk_time(eight_years):
    assert retention.months_before(date(2026, 11, 23), 96) == date(2018, 11, 23)
    assert retention.months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert retention.months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    # Midnight in London on that day: 00:00 GMT in November.
    assert retention.closed_case_cutoff(TODAY) == datetime(2018, 11, 23, tzinfo=UTC)


def test_only_people_whose_every_case_closed_before_the_period_are_due(eight_years):
    old = a_person()
    closed(old, at(date(2018, 11, 22)))
    closed(old, at(date(2017, 1, 5)))
    just_inside = make_resident()
    closed(just_inside, at(date(2018, 11, 23)))
    reopened = make_resident()
    closed(reopened, at(date(2015, 6, 1)))
    make_referral(resident=reopened, status=ReferralStatus.ACTIVE)
    assert retention.residents_due(TODAY) == [old.id]
    # A day later the second is due too.
    assert retention.residents_due(TODAY + timedelta(days=1)) == [old.id, just_inside.id]


def test_anonymising_clears_everything_that_identifies_the_person(eight_years, smtp_server):
    person = a_person()
    navigator = make_user()
    referral = closed(person, at(date(2018, 1, 10)), referrer_name="Dr Okafor")
    other = closed(make_resident(given_name="Keep", family_name="Me"), at(date(2018, 1, 10)))
    other_id = other.id
    make_contact(referral, navigator, notes="Talked about Sarah's visit", safeguarding_note="x")
    make_goal(referral, navigator, description="Walk to Winifred's old church again")
    activity = make_activity(make_organisation())
    link = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=activity_referrals.S.STOPPED,
        consent_confirmed=True,
        person_name="Winifred Ashdown",
        shared_phone="07700 900 461",
        shared_note="Meet her at the gate",
        end_reason="Winifred moved to Leeds",
        created_by_id=navigator.id,
    )
    db.session.add(link)
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            action=ReferralAction.NOTE,
            actor_label="Navigator",
            note="Winifred's daughter rang",
        )
    )
    db.session.add(
        Alert(
            user_id=navigator.id,
            referral_id=referral.id,
            kind=AlertKind.CONCERN_RAISED,
            message="Winifred Ashdown: concern",
        )
    )
    report = OutcomeReport(
        claim_key="retention-test",
        practice_id=referral.practice_id,
        period_start=date(2018, 1, 1),
        period_end=date(2018, 1, 31),
        referral_ids=[referral.id, other.id],
        summaries=[
            {
                "reference": referral.reference,
                "patient": {"given_name": "Winifred", "nhs_number": "9434765919"},
                "outcome": {"status": "closed", "reason": "goals_met", "summary": "Pat"},
                "what_matters": [{"goal": "church"}],
            },
            {"reference": other.reference, "patient": {"given_name": "Keep"}},
        ],
        status=DeliveryStatus.SENT,
    )
    db.session.add(report)
    db.session.commit()
    version = referral.version

    assert retention.anonymise_closed_cases(TODAY) == 2  # both people are past the period
    db.session.expire_all()

    person = db.session.get(Resident, person.id)
    assert person.anonymised_at is not None
    assert (person.given_name, person.family_name) == ("Anonymised", "person")
    for field in ("nhs_number", "phone", "email", "address", "postcode", "date_of_birth"):
        assert getattr(person, field) is None, field
    referral = db.session.get(Referral, referral.id)
    assert referral.details is None and referral.known_risks is None
    assert referral.outcome_summary is None and referral.referrer_name is None
    assert referral.version == version + 1
    # What the figures are made of stays.
    assert referral.status == ReferralStatus.CLOSED
    assert referral.closure_reason == ClosureReason.GOALS_MET
    assert referral.reason_codes and referral.practice_id is not None
    contact = db.session.scalars(sa.select(Contact).where(Contact.referral_id == referral.id)).one()
    assert contact.notes is None and contact.safeguarding_note is None
    assert contact.duration_minutes is not None or contact.occurred_at is not None
    goal = db.session.scalars(sa.select(Goal).where(Goal.referral_id == referral.id)).one()
    assert goal.description == "Anonymised"
    link = db.session.get(ActivityReferral, link.id)
    assert (link.person_name, link.shared_phone, link.shared_note, link.end_reason) == (
        None,
        None,
        None,
        None,
    )
    notes = db.session.scalars(
        sa.select(ReferralEvent.note).where(ReferralEvent.referral_id == referral.id)
    ).all()
    assert all(n is None for n in notes)
    assert db.session.scalars(sa.select(Alert)).all() == []
    mine, theirs = db.session.get(OutcomeReport, report.id).summaries
    assert mine["patient"] is None and mine["anonymised"] is True
    assert "what_matters" not in mine and "summary" not in mine["outcome"]
    assert mine["outcome"]["reason"] == "goals_met"
    assert mine["reference"] == referral.reference
    assert db.session.get(Referral, other_id).resident.anonymised_at is not None
    assert theirs["reference"] == other.reference
    # Each anonymisation is in the audit trail, done by the job, not a person.
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "anonymised")
    ).all()
    assert sorted(e.object_id for e in events) == sorted([str(person.id), str(other.resident_id)])
    assert all(e.actor_id is None and e.actor_role == "retention job" for e in events)
    # Nothing is left that names the person, in any table.
    for table in db.metadata.sorted_tables:
        if table.name in ("audit_events",):
            continue
        for row in db.session.execute(sa.select(table)).mappings():
            text = repr(dict(row))
            for secret in ("Winifred", "Ashdown", "9434765919", "Orchard Row", "Sarah", "900 461"):
                assert secret not in text, (table.name, secret)


def test_running_again_changes_nothing_more(eight_years):
    closed(a_person(), at(date(2015, 5, 5)))
    assert retention.anonymise_closed_cases(TODAY) == 1
    assert retention.anonymise_closed_cases(TODAY) == 0
    assert retention.anonymise_closed_cases(TODAY + timedelta(days=400)) == 0


def test_the_dashboard_figures_are_the_same_after(eight_years):
    navigator = make_user()
    for i in range(3):
        referral = closed(a_person() if i == 0 else make_resident(), at(date(2017, 3, 10 + i)))
        make_contact(referral, navigator)
    scope = kpis.Scope(date(2016, 1, 1), date(2018, 12, 31))
    before = kpis.summarise(scope)
    db.session.commit()
    assert retention.anonymise_closed_cases(TODAY) == 3
    db.session.expire_all()
    after = kpis.summarise(scope)
    assert after == before
    assert kpis.referrals_received(scope) == 3


def test_a_shorter_period_from_the_settings(app):
    periods = app.config["RETENTION_MONTHS"]
    app.config["RETENTION_MONTHS"] = {**periods, "closed_case": 12}
    try:
        closed(a_person(), at(date(2025, 11, 1)))
        assert retention.residents_due(TODAY) == [db.session.scalar(sa.select(Resident.id))]
    finally:
        app.config["RETENTION_MONTHS"] = periods


def test_the_daily_job_is_scheduled_and_runs(app, monkeypatch):
    jobs = {job.id: job for job in scheduler.build_scheduler(app).get_jobs()}
    assert str(jobs["anonymise_closed_cases"].trigger) == "cron[hour='3', minute='30']"
    person = a_person()
    closed(person, at(date(2015, 5, 5)))
    db.session.commit()
    monkeypatch.setattr("portal.db_types.london_today", lambda: TODAY)
    scheduler.use_app(app)
    scheduler.anonymise_closed_cases()
    db.session.expire_all()
    assert db.session.get(Resident, person.id).anonymised_at is not None
