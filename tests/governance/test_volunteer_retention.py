"""Retention for former volunteers: some years after they left, a volunteer's record loses
what identifies them and their login closes; their hours still count.

The job is given the day it runs, so each test fixes the clock by choosing that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import scheduler
from portal.audit.models import AuditEvent
from portal.auth.models import RecoveryCode, User
from portal.dashboard import kpis
from portal.extensions import db
from portal.governance import retention
from portal.volunteers.models import (
    BuddyMatchStatus,
    HoursKind,
    LeftReason,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)
from tests.factories import (
    PASSWORD,
    make_buddy_match,
    make_referral,
    make_training_module,
    make_training_record,
    make_user,
    make_volunteer,
)

TODAY = date(2026, 11, 23)
SECRETS = ("Gwendolyn", "Fairweather", "gwen.fairweather", "07700 900 733", "CV5 8QT", "Hedley")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def left_on(day: date, **kw) -> Volunteer:
    return make_volunteer(
        status=VolunteerStatus.LEFT,
        left_reason=LeftReason.MOVED,
        status_changed_at=at(day),
        **kw,
    )


def gwen(day: date) -> Volunteer:
    return left_on(
        day,
        user_kw={
            "full_name": "Gwendolyn Fairweather",
            "email": "gwen.fairweather@example.org",
            "phone": "07700 900 733",
        },
        postcode="CV5 8QT",
        gender="Woman",
        languages=["Welsh"],
        motivation="Since Gwendolyn retired from the library",
        referee_1_name="Hedley Marsh",
        referee_1_contact="hedley@example.org",
        dbs_certificate_number="001234567890",
        status_note="Moved to be near Hedley",
    )


@pytest.fixture
def six_years(app):
    assert app.config["RETENTION_MONTHS"]["former_volunteer"] == 72
    return app


def test_only_volunteers_who_left_before_the_period_and_are_matched_to_nobody_are_due(
    six_years,
):
    old = left_on(date(2020, 11, 22))
    just_inside = left_on(date(2020, 11, 23))
    still_here = make_volunteer(
        status=VolunteerStatus.PAUSED, status_changed_at=at(date(2015, 1, 1))
    )
    still_matched = left_on(date(2019, 5, 5))
    make_buddy_match(make_referral(), still_matched, make_user(), status=BuddyMatchStatus.ACTIVE)
    ended = left_on(date(2019, 5, 6))
    make_buddy_match(
        make_referral(),
        ended,
        make_user(),
        status=BuddyMatchStatus.ENDED,
        ended_at=at(date(2019, 5, 6)),
    )

    assert retention.volunteers_due(TODAY) == [old.id, ended.id]
    assert still_here.id not in retention.volunteers_due(TODAY + timedelta(days=4000))
    # A day later the one who left on the cutoff day is due too.
    assert just_inside.id in retention.volunteers_due(TODAY + timedelta(days=1))


def test_anonymising_clears_what_identifies_them_and_closes_their_login(
    six_years, client, smtp_server
):
    volunteer = gwen(date(2019, 2, 1))
    user_id = volunteer.user_id
    db.session.add(RecoveryCode(user_id=user_id, code_hash="x" * 64))
    db.session.add(
        VolunteerHours(
            volunteer_id=volunteer.id,
            worked_on=date(2018, 6, 1),
            kind=HoursKind.TRAINING,
            minutes=90,
            notes="Drove Hedley to the course",
        )
    )
    make_training_record(
        volunteer, make_training_module(name="Listening skills"), notes="Gwendolyn did well"
    )
    db.session.commit()

    assert retention.anonymise_former_volunteers(TODAY) == 1
    db.session.expire_all()

    volunteer = db.session.get(Volunteer, volunteer.id)
    assert volunteer.anonymised_at is not None
    # What the figures are made of stays.
    assert volunteer.status == VolunteerStatus.LEFT
    assert volunteer.left_reason == LeftReason.MOVED
    hours = db.session.scalars(sa.select(VolunteerHours)).one()
    assert (hours.minutes, hours.notes) == (90, None)
    user = db.session.get(User, user_id)
    assert user.full_name == "Anonymised volunteer" and not user.is_active
    assert user.password_hash is None and user.totp_secret is None
    assert db.session.scalars(sa.select(RecoveryCode)).all() == []
    # Done by the job, in the audit trail.
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "anonymised")).one()
    assert (event.object_type, event.object_id) == ("volunteer", str(volunteer.id))
    assert event.actor_id is None and event.actor_role == "retention job"
    # Nothing is left that names them, in any table.
    for table in db.metadata.sorted_tables:
        if table.name == "audit_events":
            continue
        for row in db.session.execute(sa.select(table)).mappings():
            text = repr(dict(row))
            for secret in SECRETS:
                assert secret not in text, (table.name, secret)
    # They cannot log in with what they had (a failed login counts towards the limit, under
    # the address typed, for 15 minutes: that is why this comes after the scan).
    answer = client.post(
        "/login", data={"email": "gwen.fairweather@example.org", "password": PASSWORD}
    )
    assert answer.status_code != 302


def test_running_again_changes_nothing_more(six_years):
    gwen(date(2019, 2, 1))
    assert retention.anonymise_former_volunteers(TODAY) == 1
    assert retention.anonymise_former_volunteers(TODAY) == 0
    assert retention.anonymise_former_volunteers(TODAY + timedelta(days=400)) == 0


def test_the_volunteer_time_figures_are_the_same_after(six_years):
    for n in range(3):
        volunteer = gwen(date(2019, 2, 1)) if n == 0 else left_on(date(2019, 3, n))
        db.session.add(
            VolunteerHours(
                volunteer_id=volunteer.id,
                worked_on=date(2018, 6, 1 + n),
                kind=HoursKind.ADMIN,
                minutes=30 + n,
                notes="Hours with Hedley",
            )
        )
    db.session.commit()
    scope = kpis.Scope(date(2018, 1, 1), date(2018, 12, 31))
    before = kpis.volunteer_time_by_month(scope)
    db.session.commit()
    assert retention.anonymise_former_volunteers(TODAY) == 3
    db.session.expire_all()
    assert kpis.volunteer_time_by_month(scope) == before
    assert any(month.hours for month in before)


def test_a_shorter_period_from_the_settings(app):
    periods = app.config["RETENTION_MONTHS"]
    app.config["RETENTION_MONTHS"] = {**periods, "former_volunteer": 12}
    try:
        volunteer = left_on(date(2025, 11, 1))
        assert retention.volunteers_due(TODAY) == [volunteer.id]
    finally:
        app.config["RETENTION_MONTHS"] = periods


def test_the_daily_job_is_scheduled_and_runs(app, monkeypatch):
    jobs = {job.id: job for job in scheduler.build_scheduler(app).get_jobs()}
    assert str(jobs["anonymise_former_volunteers"].trigger) == "cron[hour='3', minute='40']"
    volunteer = gwen(date(2019, 2, 1))
    db.session.commit()
    monkeypatch.setattr("portal.db_types.london_today", lambda: TODAY)
    scheduler.use_app(app)
    scheduler.anonymise_former_volunteers()
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).anonymised_at is not None
