"""The demo hub: `flask seed-demo` fills an empty database with fictional, consistent data."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from urllib.parse import urlsplit

import nhs_number
import pytest
import sqlalchemy as sa

from portal.auth.models import Role, User
from portal.auth.passwords import password_problems
from portal.cases.models import Contact, Goal, GoalStatus
from portal.db_types import utcnow
from portal.demo import DEMO_PASSWORD, DemoRefused, demo_logins, seed
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Organisation,
)
from portal.measures.models import MeasureResponse, Scale
from portal.referrals.models import (
    OPEN_STATUSES,
    Neighbourhood,
    Practice,
    Referral,
    ReferralSource,
    ReferralStatus,
    Resident,
)
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)
from portal.volunteers.training import is_in_date
from tests.audit_guard import audit_guard_lifted

EMAILS = {
    Role.ADMIN: "admin@demo.example.org",
    Role.COORDINATOR: "coordinator@demo.example.org",
    Role.NAVIGATOR: "navigator@demo.example.org",
    Role.VOLUNTEER: "volunteer@demo.example.org",
    Role.ORGANISATION_MEMBER: "organisation@demo.example.org",
    Role.PRACTICE_USER: "practice@demo.example.org",
    Role.COMMISSIONER: "commissioner@demo.example.org",
}


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def demo_user(db, role: Role) -> User:
    return db.session.scalar(sa.select(User).where(User.email == EMAILS[role]))


def test_demo_password_passes_the_password_policy(app):
    assert password_problems(DEMO_PASSWORD) == []


def test_demo_logins_is_empty_before_seeding(db):
    assert demo_logins() == []


def test_seed_returns_one_login_per_role_and_demo_logins_matches(db):
    logins = seed()
    assert [label for label, _, _ in logins] == [role.label for role in Role]
    assert [email for _, email, _ in logins] == [EMAILS[role] for role in Role]
    for role in Role:
        user = demo_user(db, role)
        assert user.role == role
        assert user.is_active
    assert demo_logins() == logins


def test_seed_refuses_a_database_that_has_users(db):
    seed()
    users = count(db, User)
    with pytest.raises(DemoRefused) as refused:
        seed()
    assert "\n" not in str(refused.value)
    assert count(db, User) == users


def test_seed_refuses_even_a_single_user(db, make_user):
    make_user(Role.ADMIN)
    with pytest.raises(DemoRefused):
        seed()
    assert count(db, Referral) == 0
    assert demo_logins() == []


def test_seed_builds_the_minimum_hub(db):
    seed()
    assert count(db, Neighbourhood) >= 3
    assert count(db, Practice) >= 12
    assert count(db, Organisation) >= 12
    assert count(db, Organisation, Organisation.verified_at.is_(None)) >= 1
    assert count(db, Activity) >= 30
    assert count(db, Volunteer) >= 40
    assert count(db, Resident) >= 150
    assert count(db, User, User.role == Role.NAVIGATOR) == 5
    assert count(db, User, User.role == Role.COORDINATOR) == 2
    assert count(db, User, User.role == Role.ADMIN) == 1
    assert count(db, User, User.role == Role.COMMISSIONER) == 1
    for status in VolunteerStatus:
        assert count(db, Volunteer, Volunteer.status == status) > 0, status
    for status in ReferralStatus:
        assert count(db, Referral, Referral.status == status) > 0, status
    for status in ActivityReferralStatus:
        assert count(db, ActivityReferral, ActivityReferral.status == status) > 0, status
    for status in BuddyMatchStatus:
        assert count(db, BuddyMatch, BuddyMatch.status == status) > 0, status
    for status in GoalStatus:
        assert count(db, Goal, Goal.status == status) > 0, status
    for status in (ActivityStatus.PUBLISHED, ActivityStatus.DRAFT, ActivityStatus.PAUSED):
        assert count(db, Activity, Activity.status == status) > 0, status
    closure_reasons = db.session.scalars(
        sa.select(Referral.closure_reason).distinct().where(Referral.closure_reason.is_not(None))
    ).all()
    assert len(closure_reasons) >= 5
    sources = db.session.scalars(sa.select(Referral.source).distinct()).all()
    assert set(sources) == set(ReferralSource)
    six_months_ago = date.today() - timedelta(days=183)
    assert count(db, Activity, Activity.last_confirmed_on < six_months_ago) > 0


def test_residents_are_fictional_and_valid(db):
    seed()
    residents = db.session.scalars(sa.select(Resident)).all()
    numbers = [r.nhs_number for r in residents]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert number.startswith("999")
        assert nhs_number.is_valid(number), number
    assert len({(r.given_name, r.family_name) for r in residents}) == len(residents)
    for resident in residents:
        assert resident.postcode.startswith("CV")
        assert resident.phone is None or resident.phone.startswith("07700 900")
        assert resident.email is None or resident.email.endswith(".invalid")
    ages = [(date.today() - r.date_of_birth).days // 365 for r in residents]
    assert sum(60 <= age <= 95 for age in ages) >= len(ages) * 0.7
    assert any(r.interpreter_needed for r in residents)
    assert any(r.accessibility_needs for r in residents)
    assert {r.language for r in residents} >= {"English", "Punjabi", "Polish", "Urdu"}


def test_referral_timelines_are_consistent(db):
    seed()
    now = utcnow()
    referrals = db.session.scalars(sa.select(Referral)).all()
    references = [r.reference for r in referrals]
    assert len(set(references)) == len(references)
    for r in referrals:
        assert r.reference.startswith("SP-")
        assert 1 <= len(r.reasons) <= 3
        assert r.consent_given
        if r.source == ReferralSource.PRACTICE:
            assert r.practice_id is not None
        moments = [
            m
            for m in (r.received_at, r.first_contact_at, r.triaged_at, r.assigned_at, r.closed_at)
            if m is not None
        ]
        assert moments == sorted(moments), r.reference
        assert moments[-1] <= now
        if r.status in (ReferralStatus.TRIAGED, ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE):
            assert r.route is not None and r.support_level is not None
            assert r.navigator_id is not None
        if r.status in (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE):
            assert r.assigned_at is not None
        if r.status == ReferralStatus.CLOSED:
            assert r.closed_at is not None and r.closure_reason is not None
        else:
            assert r.closed_at is None
    assert now - min(r.received_at for r in referrals) > timedelta(days=240)
    for contact in db.session.scalars(sa.select(Contact)):
        assert 5 <= contact.duration_minutes <= 90
        assert contact.occurred_at <= now


def test_measures_are_scored_like_the_real_scales(db):
    seed()
    responses = db.session.scalars(
        sa.select(MeasureResponse).where(MeasureResponse.declined.is_(False))
    ).all()
    assert {r.scale for r in responses} == set(Scale)
    for r in responses:
        if r.scale == Scale.ONS4:
            assert len(r.answers) == 4 and all(0 <= a <= 10 for a in r.answers)
            assert r.score is None
        elif r.scale == Scale.SWEMWBS:
            assert len(r.answers) == 7 and all(1 <= a <= 5 for a in r.answers)
            assert 7.0 <= r.score <= 35.0
        else:
            assert len(r.answers) == 3 and all(1 <= a <= 3 for a in r.answers)
            assert r.score == sum(r.answers)


def test_demo_navigator_has_an_overdue_open_case(db):
    seed()
    navigators = db.session.scalars(sa.select(User).where(User.role == Role.NAVIGATOR)).all()
    assert all(25 <= n.caseload_capacity <= 40 for n in navigators)
    assert sum(n.is_volunteer_navigator for n in navigators) == 1
    navigator = demo_user(db, Role.NAVIGATOR)
    open_cases = db.session.scalars(
        sa.select(Referral).where(
            Referral.navigator_id == navigator.id, Referral.status.in_(OPEN_STATUSES)
        )
    ).all()
    assert open_cases
    assert len(open_cases) <= navigator.caseload_capacity
    overdue = 0
    for case in open_cases:
        last = db.session.scalar(
            sa.select(sa.func.max(Contact.occurred_at)).where(
                Contact.referral_id == case.id, Contact.successful.is_(True)
            )
        )
        if last is None or (utcnow() - last.replace(tzinfo=utcnow().tzinfo)).days > 14:
            overdue += 1
    assert overdue >= 1


def test_demo_volunteer_is_an_active_trained_buddy(db):
    seed()
    volunteer = db.session.scalar(
        sa.select(Volunteer).where(Volunteer.user_id == demo_user(db, Role.VOLUNTEER).id)
    )
    assert volunteer.status == VolunteerStatus.ACTIVE
    assert volunteer.role_buddy
    assert volunteer.dbs_level is not None and len(volunteer.dbs_certificate_number) == 12
    statuses = db.session.scalars(
        sa.select(BuddyMatch.status).where(BuddyMatch.volunteer_id == volunteer.id)
    ).all()
    assert BuddyMatchStatus.ACTIVE in statuses
    assert BuddyMatchStatus.PROPOSED in statuses
    required = db.session.scalars(
        sa.select(TrainingModule).where(TrainingModule.required_for_buddy.is_(True))
    ).all()
    records = db.session.scalars(
        sa.select(TrainingRecord).where(TrainingRecord.volunteer_id == volunteer.id)
    ).all()
    for module in required:
        done = [r.completed_on for r in records if r.module_id == module.id]
        assert done, module.name
        assert is_in_date(max(done), module.valid_for_months, date.today()), module.name
    # Elsewhere, some volunteers' training has run out.
    modules = {m.id: m for m in db.session.scalars(sa.select(TrainingModule))}
    expired = [
        r
        for r in db.session.scalars(sa.select(TrainingRecord))
        if not is_in_date(r.completed_on, modules[r.module_id].valid_for_months, date.today())
    ]
    assert expired
    left = db.session.scalars(
        sa.select(Volunteer).where(Volunteer.status == VolunteerStatus.LEFT)
    ).all()
    assert all(v.left_reason for v in left)


def test_demo_organisation_and_practice_have_work_waiting(db):
    seed()
    member = demo_user(db, Role.ORGANISATION_MEMBER)
    organisation = db.session.get(Organisation, member.organisation_id)
    assert organisation.is_verified
    assert count(
        db,
        Activity,
        Activity.organisation_id == organisation.id,
        Activity.status == ActivityStatus.PUBLISHED,
    )
    sent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ActivityReferral)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .where(
            Activity.organisation_id == organisation.id,
            ActivityReferral.status == ActivityReferralStatus.SENT,
        )
    )
    assert sent >= 1
    practice_user = demo_user(db, Role.PRACTICE_USER)
    statuses = db.session.scalars(
        sa.select(Referral.status)
        .distinct()
        .where(Referral.practice_id == practice_user.practice_id)
    ).all()
    assert len(statuses) >= 4


def test_every_demo_login_reaches_its_start_page(app, db):
    logins = seed()
    pages = {}
    for _, email, _ in logins:
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        path = urlsplit(response.headers["Location"]).path
        page = client.get(path)
        assert page.status_code == 200, (email, path)
        pages[email] = page.get_data(as_text=True)
    assert "Contact overdue" in pages[EMAILS[Role.NAVIGATOR]]
    assert "Waiting for your answer" in pages[EMAILS[Role.VOLUNTEER]]
    assert "People I buddy" in pages[EMAILS[Role.VOLUNTEER]]


def _snapshot(db) -> dict:
    tables = {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
        if t.name not in ("audit_events", "rate_limit_counters")
    }
    referrals = db.session.execute(
        sa.select(
            Referral.reference,
            Referral.status,
            Referral.closure_reason,
            Resident.given_name,
            Resident.family_name,
            Resident.nhs_number,
        )
        .join(Resident, Resident.id == Referral.resident_id)
        .order_by(Referral.reference)
    ).all()
    users = db.session.execute(sa.select(User.email, User.full_name).order_by(User.email)).all()
    activities = db.session.execute(
        sa.select(Activity.title, Activity.status, Activity.uuid).order_by(Activity.title)
    ).all()
    return {
        "tables": tables,
        "referrals": [tuple(r) for r in referrals],
        "users": [tuple(u) for u in users],
        "activities": [tuple(a) for a in activities],
    }


def _empty_everything(db) -> None:
    db.session.remove()
    with db.engine.begin() as conn, audit_guard_lifted(conn):
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def test_seed_is_deterministic(db):
    seed()
    first = _snapshot(db)
    _empty_everything(db)
    assert demo_logins() == []
    seed()
    assert _snapshot(db) == first


def test_every_referral_has_a_history_that_ends_where_it_is(db):
    from portal.referrals.models import ReferralAction, Route

    seed()
    for referral in db.session.scalars(sa.select(Referral)).unique():
        events = referral.events
        assert events[0].action == ReferralAction.RECEIVED, referral.reference
        assert [e.at for e in events] == sorted(e.at for e in events), referral.reference
        moves = [e for e in events if e.to_status is not None]
        assert moves[-1].to_status == referral.status, referral.reference
        # Each move starts where the one before it ended.
        for before, after in itertools.pairwise(moves):
            assert after.from_status == before.to_status, referral.reference
        sent = [e for e in events if e.action == ReferralAction.SENT_TO_INT]
        assert bool(sent) == (referral.route in (Route.INT, Route.BOTH)), referral.reference
        assert (referral.int_neighbourhood_id is not None) == bool(sent), referral.reference


def test_demo_directory_has_fresh_and_stale_listings_and_shares_only_with_consent(app, db):
    from portal.directory import listings, search
    from portal.directory.models import ActivityAttendance
    from portal.directory.schedule import next_session

    seed()
    today = date.today()
    listed = db.session.scalars(search.listed()).all()
    stale = [a for a in listed if listings.is_stale(a, today)]
    assert stale and len(stale) < len(listed)
    # Every listing with set days has a next session the directory can show.
    for activity in listed:
        if activity.days and activity.frequency.value != "by_arrangement":
            assert next_session(
                activity.frequency, activity.days, today, activity.starts_on, activity.monthly_week
            ), activity.title
    for link in db.session.scalars(sa.select(ActivityReferral)):
        if link.status in (ActivityReferralStatus.SIGNPOSTED, ActivityReferralStatus.SUGGESTED):
            assert link.person_name is None and link.shared_phone is None
        else:
            assert link.consent_confirmed and link.person_name
            assert link.respond_by and link.respond_by > link.sent_at.date()
        if link.status == ActivityReferralStatus.ATTENDED:
            assert any(record.attended for record in link.attendance), link.id
        if link.status == ActivityReferralStatus.STOPPED:
            assert link.ended_at and link.end_reason
    assert count(db, ActivityAttendance) > 0
