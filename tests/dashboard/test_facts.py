"""The dashboards' per-referral facts: marked stale in the same transaction as a change,
worked out again before a dashboard reads, and the same whether refreshed or rebuilt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import create_app, scheduler
from portal.auth.models import Role
from portal.cases.models import Contact
from portal.dashboard import facts, kpis
from portal.dashboard.facts import REASON_BITS
from portal.dashboard.kpis import Scope
from portal.dashboard.models import (
    ActivityReferralFacts,
    ReferralFacts,
    StaleReferral,
    StaleVolunteerMonth,
    VolunteerTimeMonth,
    referral_months,
)
from portal.directory.models import (
    CATEGORY_BITS,
    Activity,
    ActivityCategory,
    ActivityReferral,
    ActivityReferralStatus,
)
from portal.extensions import db
from portal.jobs.models import JobRun
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
)
from portal.volunteers.models import HoursKind, VolunteerHours
from tests.factories import (
    make_activity,
    make_contact,
    make_practice,
    make_referral,
    make_user,
    make_volunteer,
)


def utc(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _stale() -> dict[int, int]:
    return dict(db.session.execute(sa.select(StaleReferral.referral_id, StaleReferral.marks)).all())


def _facts(referral_id: int) -> ReferralFacts | None:
    db.session.expire_all()
    return db.session.get(ReferralFacts, referral_id)


def _measure(referral, recorder, scale, stage, at, score=None, answers=None, declined=False):
    db.session.add(
        MeasureResponse(
            referral_id=referral.id,
            scale=scale,
            stage=stage,
            score=None if declined else score,
            answers=None if declined else answers,
            declined=declined,
            recorded_by_id=recorder.id,
            recorded_at=at,
        )
    )
    db.session.commit()


def test_a_new_referral_is_marked_and_refresh_works_out_its_facts(app):
    practice = make_practice()
    # 23:30 UTC on 31 July is 00:30 on 1 August in London.
    referral = make_referral(
        practice=practice,
        received_at=utc(2026, 7, 31, 23, 30),
        reasons=(ReferralReason.LONELINESS, ReferralReason.HOUSING),
    )
    assert referral.id in _stale()

    assert facts.refresh() == 1  # one referral, and no volunteer time
    db.session.commit()

    row = _facts(referral.id)
    assert row.received_on == date(2026, 8, 1)
    assert row.practice_id == practice.id
    assert row.source == ReferralSource.PRACTICE
    bits = REASON_BITS[ReferralReason.LONELINESS] | REASON_BITS[ReferralReason.HOUSING]
    assert row.reasons_mask == bits
    assert (row.contacted, row.engaged, row.goals_met) == (False, False, False)
    assert row.days_to_first_contact is None and row.days_to_triage is None
    assert _stale() == {}
    assert facts.refresh() == 0


def test_working_days_engagement_and_goals_are_worked_out(app):
    navigator = make_user(Role.NAVIGATOR)
    # Received Friday 22 May 2026; Monday 25 May is the spring bank holiday.
    referral = make_referral(
        received_at=utc(2026, 5, 22, 10),
        first_contact_at=utc(2026, 5, 27, 10),  # Wed: Tue 26 and Wed 27 are working days
        triaged_at=utc(2026, 5, 26, 9),
        assigned_at=utc(2026, 5, 28, 9),
        status=ReferralStatus.CLOSED,
        closure_reason=ClosureReason.GOALS_MET,
        closed_at=utc(2026, 7, 1),
    )
    # A successful contact before assignment does not count as engaging with a navigator.
    make_contact(referral, navigator, occurred_at=utc(2026, 5, 27, 10))
    facts.refresh()
    row = _facts(referral.id)
    assert (row.days_to_first_contact, row.days_to_triage) == (2, 1)
    assert (row.contacted, row.engaged, row.goals_met) == (True, False, True)

    make_contact(referral, navigator, occurred_at=utc(2026, 5, 29, 10), successful=False)
    facts.refresh()
    assert _facts(referral.id).engaged is False

    make_contact(referral, navigator, occurred_at=utc(2026, 6, 2, 10))
    facts.refresh()
    assert _facts(referral.id).engaged is True


def test_first_baseline_and_last_closing_are_kept_declined_skipped(app):
    navigator = make_user(Role.NAVIGATOR)
    referral = make_referral(received_at=utc(2026, 3, 2))
    swemwbs, ucla3, ons4 = Scale.SWEMWBS, Scale.UCLA3, Scale.ONS4
    base, close = Stage.BASELINE, Stage.CLOSING
    _measure(referral, navigator, swemwbs, base, utc(2026, 3, 3), declined=True)
    _measure(referral, navigator, swemwbs, base, utc(2026, 3, 4), score=19.25)
    _measure(referral, navigator, swemwbs, base, utc(2026, 3, 5), score=21.0)
    _measure(referral, navigator, swemwbs, Stage.REVIEW, utc(2026, 4, 1), score=30.0)
    _measure(referral, navigator, swemwbs, close, utc(2026, 6, 1), score=23.5)
    _measure(referral, navigator, swemwbs, close, utc(2026, 6, 2), score=24.11)
    _measure(referral, navigator, swemwbs, close, utc(2026, 6, 3), declined=True)
    _measure(referral, navigator, ucla3, base, utc(2026, 3, 4), score=8)
    _measure(referral, navigator, ons4, base, utc(2026, 3, 4), answers=[3, 4, 5, 8])
    _measure(referral, navigator, ons4, close, utc(2026, 6, 1), answers=[6, 7, 7, 4])
    facts.refresh()

    row = _facts(referral.id)
    assert (row.swemwbs_baseline, row.swemwbs_closing) == (19.25, 24.11)
    assert (row.ucla3_baseline, row.ucla3_closing) == (8, None)
    baseline = [getattr(row, f"ons4_baseline_{i}") for i in range(1, 5)]
    closing = [getattr(row, f"ons4_closing_{i}") for i in range(1, 5)]
    assert (baseline, closing) == ([3, 4, 5, 8], [6, 7, 7, 4])


def _refreshed_referral(**kw) -> Referral:
    referral = make_referral(**kw)
    facts.refresh()
    db.session.commit()
    assert _stale() == {}
    return referral


def test_changes_that_matter_mark_the_referral_and_others_do_not(app):
    navigator = make_user(Role.NAVIGATOR)
    referral = _refreshed_referral(received_at=utc(2026, 3, 2))

    referral.next_contact_on = date(2026, 3, 9)
    referral.triage_note = "Prefers mornings"
    db.session.commit()
    assert _stale() == {}, "a note or a date the facts do not use changes nothing"

    referral.first_contact_at = utc(2026, 3, 3)
    db.session.commit()
    assert _stale() == {referral.id: 1}
    facts.refresh()

    contact = make_contact(referral, navigator, occurred_at=utc(2026, 3, 4))
    assert _stale() == {referral.id: 1}
    facts.refresh()

    contact.successful = False
    db.session.commit()
    assert referral.id in _stale()
    facts.refresh()

    db.session.delete(db.session.get(Contact, contact.id))
    db.session.commit()
    assert referral.id in _stale()
    facts.refresh()

    referral.reasons.append(ReferralReasonLink(reason=ReferralReason.MONEY))
    db.session.commit()
    assert referral.id in _stale()
    facts.refresh()
    assert _facts(referral.id).reasons_mask & REASON_BITS[ReferralReason.MONEY]

    _measure(referral, navigator, Scale.UCLA3, Stage.BASELINE, utc(2026, 3, 5), score=7)
    assert referral.id in _stale()
    facts.refresh()
    assert _facts(referral.id).ucla3_baseline == 7


def test_a_contact_moved_to_another_referral_marks_both(app):
    navigator = make_user(Role.NAVIGATOR)
    first = _refreshed_referral()
    second = _refreshed_referral()
    contact = make_contact(first, navigator)
    facts.refresh()
    db.session.commit()

    contact.referral_id = second.id
    db.session.commit()
    assert set(_stale()) == {first.id, second.id}


def test_a_change_during_a_refresh_keeps_the_referral_stale(app):
    referral = make_referral()
    seen = db.session.execute(sa.select(StaleReferral.referral_id, StaleReferral.marks)).all()
    facts._save([rid for rid, _ in seen])
    # Another request changes the referral after the refresh read it.
    facts.mark_stale(db.session.connection(), [referral.id])
    facts._clear(StaleReferral, seen)
    db.session.commit()
    assert _stale() == {referral.id: 2}


def test_a_deleted_referral_loses_its_facts(app):
    referral = _refreshed_referral()
    assert _facts(referral.id) is not None
    referral_id = referral.id
    db.session.delete(referral)
    db.session.commit()
    facts.refresh()
    db.session.commit()
    assert _facts(referral_id) is None
    assert _stale() == {}


def _all_facts() -> list[tuple]:
    columns = [c for c in ReferralFacts.__table__.columns if c.name != "worked_out_at"]
    return [
        tuple(row)
        for row in db.session.execute(sa.select(*columns).order_by(ReferralFacts.referral_id))
    ]


def test_rebuild_gives_the_same_facts_and_finds_rows_written_without_the_orm(app):
    navigator = make_user(Role.NAVIGATOR)
    for day in (2, 9, 16):
        referral = make_referral(
            received_at=utc(2026, 3, day), first_contact_at=utc(2026, 3, day + 3)
        )
        make_contact(referral, navigator, occurred_at=utc(2026, 3, day + 3))
        _measure(referral, navigator, Scale.UCLA3, Stage.BASELINE, utc(2026, 3, day), score=day)
    facts.refresh()
    db.session.commit()
    refreshed = _all_facts()

    db.session.execute(sa.delete(ReferralFacts))
    db.session.commit()
    assert facts.rebuild() == 3
    db.session.commit()
    assert _all_facts() == refreshed

    # A bulk load (as the benchmark does) bypasses the ORM and marks nothing.
    db.session.execute(
        sa.update(Referral).where(Referral.id == referral.id).values(first_contact_at=None)
    )
    db.session.commit()
    assert _stale() == {}
    facts.rebuild()
    db.session.commit()
    assert _facts(referral.id).contacted is False


def test_the_dashboard_commits_its_refresh(app, client, login):
    make_referral(received_at=datetime.now(UTC) - timedelta(days=3))
    login(make_user(Role.COMMISSIONER))
    assert client.get("/dashboard").status_code == 200
    db.session.rollback()
    assert _stale() == {}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferralFacts)) == 1


def test_the_nightly_job_and_the_command_rebuild(app):
    make_referral()
    make_referral()
    db.session.execute(sa.delete(ReferralFacts))
    db.session.commit()

    scheduler.use_app(app)
    scheduler.rebuild_dashboard_facts()
    db.session.expire_all()
    run = db.session.get(JobRun, "rebuild_dashboard_facts")
    assert run.last_result == "worked out the dashboard facts of 2 referrals"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferralFacts)) == 2

    make_referral()
    result = app.test_cli_runner().invoke(args=["refresh-dashboard-facts"])
    assert result.output.strip() == "Worked out 1 changed referrals and volunteer months."
    result = app.test_cli_runner().invoke(args=["refresh-dashboard-facts", "--rebuild"])
    assert result.output.strip() == "Worked out the facts of 3 referrals."


def test_the_migration_marks_every_existing_referral(tmp_path):
    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.db"})
    with app.app_context():
        upgrade()
        ids = [make_referral().id for _ in range(3)]
        volunteer = make_volunteer()
        # A buddy's contact late on 31 May (UTC): 1 June in London.
        referral = db.session.get(Referral, ids[0])
        make_contact(
            referral, volunteer.user, occurred_at=utc(2026, 5, 31, 23, 30), duration_minutes=30
        )
        db.session.add(
            VolunteerHours(
                volunteer_id=volunteer.id,
                worked_on=date(2026, 3, 31),
                kind=HoursKind.EVENT,
                minutes=60,
            )
        )
        db.session.commit()
        downgrade(revision="0008")
        upgrade()
        assert sorted(_stale()) == ids
        months = set(db.session.scalars(sa.select(StaleVolunteerMonth.month)))
        assert {date(2026, 3, 1), date(2026, 4, 1), date(2026, 6, 1)} <= months
        assert facts.refresh() == 3 + len(months)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferralFacts)) == 3
        assert _volunteer_months() == {date(2026, 3, 1): (60, 1), date(2026, 6, 1): (30, 1)}
        db.session.remove()
        db.engine.dispose()


def _month_rows() -> list[tuple]:
    t = referral_months
    columns = [c for c in t.columns if c.name != "id"]
    rows = db.session.execute(sa.select(*columns)).all()
    return sorted((tuple(r) for r in rows), key=repr)


def test_months_are_added_up_again_for_the_months_a_change_touches(app):
    practice = make_practice()
    july = make_referral(practice=practice, received_at=utc(2026, 7, 10))
    make_referral(practice=practice, received_at=utc(2026, 7, 20), source=ReferralSource.SELF)
    august = make_referral(practice=practice, received_at=utc(2026, 8, 3))
    facts.refresh()
    db.session.commit()
    t = referral_months
    received = dict(
        db.session.execute(
            sa.select(t.c.month, sa.func.sum(t.c.received)).group_by(t.c.month)
        ).all()
    )
    assert {str(m)[:7]: n for m, n in received.items()} == {"2026-07": 2, "2026-08": 1}

    # Moving a referral's date moves it between months: both are added up again.
    db.session.get(Referral, august.id).received_at = utc(2026, 7, 30)
    db.session.get(Referral, july.id).first_contact_at = utc(2026, 7, 11)
    db.session.commit()
    facts.refresh()
    db.session.commit()
    refreshed = _month_rows()
    facts.rebuild()
    db.session.commit()
    assert _month_rows() == refreshed
    months = {str(row[0])[:7] for row in refreshed}
    assert months == {"2026-07"}


def test_activity_referral_facts_follow_status_and_activity_changes(app):
    navigator = make_user(Role.NAVIGATOR)
    referral = make_referral(received_at=utc(2026, 7, 10))
    activity = make_activity()
    suggested = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=ActivityReferralStatus.SUGGESTED,
        created_by_id=navigator.id,
    )
    db.session.add(suggested)
    db.session.commit()
    facts.refresh()
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityReferralFacts)) == 0

    suggested.status = ActivityReferralStatus.SENT
    db.session.commit()
    facts.refresh()
    db.session.commit()
    row = db.session.get(ActivityReferralFacts, suggested.id)
    assert (row.received_on, row.taken_up) == (date(2026, 7, 10), False)
    assert row.organisation_id == activity.organisation_id

    suggested.status = ActivityReferralStatus.ATTENDED
    db.session.commit()
    facts.refresh()
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ActivityReferralFacts, suggested.id).taken_up is True

    # An organisation changing what kinds its activity is changes the uptake by kind.
    activity = db.session.get(Activity, activity.id)
    kinds = list(ActivityCategory)[:2]
    activity.categories = [k.value for k in kinds]
    db.session.commit()
    assert referral.id in _stale()
    facts.refresh()
    db.session.commit()
    db.session.expire_all()
    mask = CATEGORY_BITS[kinds[0].value] | CATEGORY_BITS[kinds[1].value]
    assert db.session.get(ActivityReferralFacts, suggested.id).categories_mask == mask


@pytest.fixture
def four_months(app):
    """Referrals on most days from June to September 2026, at two practices."""
    navigator = make_user(Role.NAVIGATOR)
    volunteers = [make_volunteer(), make_volunteer(), make_volunteer()]
    practices = [make_practice(), make_practice()]
    day, n = date(2026, 6, 1), 0
    while day <= date(2026, 9, 30):
        n += 1
        at = datetime(day.year, day.month, day.day, 8 + n % 15, tzinfo=UTC)
        referral = make_referral(
            practice=practices[n % 2],
            received_at=at,
            first_contact_at=at + timedelta(days=n % 4) if n % 3 else None,
            reasons=(ReferralReason.LONELINESS,) if n % 2 else (ReferralReason.MONEY,),
        )
        volunteer = volunteers[n % 3]
        # Some in the last UTC hour of a day: the next day (and month) in London.
        late = datetime(day.year, day.month, day.day, 22 + n % 2, 30, tzinfo=UTC)
        make_contact(referral, volunteer.user, occurred_at=late, duration_minutes=n % 50)
        if n % 4 == 0:
            db.session.add(
                VolunteerHours(
                    volunteer_id=volunteer.id,
                    worked_on=day,
                    kind=HoursKind.TRAINING,
                    minutes=15 + n,
                )
            )
            db.session.commit()
        if n % 5 == 0:
            _measure(referral, navigator, Scale.UCLA3, Stage.BASELINE, at, score=7)
            _measure(referral, navigator, Scale.UCLA3, Stage.CLOSING, at, score=3 + n % 7)
        day += timedelta(days=1 + n % 2)
    facts.refresh()
    db.session.commit()
    return [p.id for p in practices]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    start=st.dates(date(2026, 5, 20), date(2026, 10, 10)),
    days=st.integers(0, 140),
    narrowed=st.booleans(),
)
def test_whole_months_and_part_months_add_up_to_the_same_as_the_facts(
    four_months, start, days, narrowed
):
    end = start + timedelta(days=days)
    practices = (four_months[0],) if narrowed else None
    scope = Scope(start, end, practices)
    summary = kpis.summarise(scope)
    f = ReferralFacts
    where = [f.received_on >= start, f.received_on <= end]
    if narrowed:
        where.append(f.practice_id == four_months[0])
    direct = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(f.days_to_first_contact),
            sa.func.count(f.ucla3_closing - f.ucla3_baseline),
            sa.func.sum(f.ucla3_closing - f.ucla3_baseline),
        ).where(*where)
    ).one()
    assert summary.total("received") == direct[0]
    assert summary.total("contacted") == direct[1]
    assert summary.total("ucla3_people") == direct[2]
    assert summary.total("ucla3_total") == (direct[3] or 0)

    # Volunteer time: whole months from their totals, the rest from the records.
    given = facts.time_given([(start, end)]).subquery()
    raw = {
        month: (round((minutes or 0) / 60, 1), people)
        for month, minutes, people in db.session.execute(
            sa.select(
                given.c.month,
                sa.func.sum(given.c.minutes),
                sa.func.count(sa.distinct(given.c.volunteer_id)),
            ).group_by(given.c.month)
        )
    }
    for month in kpis.volunteer_time_by_month(scope):
        assert (month.hours, month.volunteers) == raw.get(month.month, (0, 0))


def _volunteer_months() -> dict[date, tuple[int, int]]:
    t = VolunteerTimeMonth
    rows = db.session.execute(sa.select(t.month, t.minutes, t.volunteers)).all()
    return {month: (minutes, people) for month, minutes, people in rows}


def test_volunteer_time_is_added_up_again_for_the_months_a_change_touches(app):
    volunteer = make_volunteer()
    referral = make_referral()
    hours = VolunteerHours(
        volunteer_id=volunteer.id, worked_on=date(2026, 6, 10), kind=HoursKind.TRAVEL, minutes=40
    )
    db.session.add(hours)
    db.session.commit()
    # 23:30 UTC on 31 July is 1 August in London.
    make_contact(
        referral, volunteer.user, occurred_at=utc(2026, 7, 31, 23, 30), duration_minutes=25
    )
    facts.refresh()
    db.session.commit()
    assert _volunteer_months() == {date(2026, 6, 1): (40, 1), date(2026, 8, 1): (25, 1)}

    hours = db.session.get(VolunteerHours, hours.id)
    hours.worked_on = date(2026, 9, 2)
    db.session.commit()
    stale = {m for (m,) in db.session.execute(sa.select(StaleVolunteerMonth.month))}
    assert stale == {date(2026, 6, 1), date(2026, 9, 1)}
    facts.refresh()
    db.session.commit()
    refreshed = _volunteer_months()
    assert refreshed == {date(2026, 8, 1): (25, 1), date(2026, 9, 1): (40, 1)}
    facts.rebuild()
    db.session.commit()
    assert _volunteer_months() == refreshed


def test_months_that_follow_each_other_are_read_as_one_range():
    months = [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 4, 1)]
    assert facts._spans(months) == [
        (date(2025, 12, 1), date(2026, 2, 28)),
        (date(2026, 4, 1), date(2026, 4, 30)),
    ]
    assert facts._spans([]) == []
