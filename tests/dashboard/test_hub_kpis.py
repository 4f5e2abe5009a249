"""Known-answer tests for the hub dashboard's figures: small hand-made data, sums by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.auth.models import Role
from portal.dashboard import hub_kpis
from portal.dashboard.hub_kpis import (
    AwaitingResponse,
    ExpiryCounts,
    FailedReport,
    NavigatorLoad,
    QueueAge,
    RecentCount,
)
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.referrals.models import ClosureReason, ReferralSource, ReferralStatus
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.volunteers.compliance import compliance
from portal.volunteers.models import (
    LeftReason,
    TrainingModule,
    Volunteer,
    VolunteerStatus,
)
from tests.factories import (
    make_activity,
    make_contact,
    make_organisation,
    make_practice,
    make_referral,
    make_training_module,
    make_training_record,
    make_user,
    make_volunteer,
)


def utc(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def _closed(**kw) -> dict:
    return {
        "status": ReferralStatus.CLOSED,
        "closed_at": utc(2026, 5, 2),
        "closure_reason": ClosureReason.GOALS_MET,
        **kw,
    }


# --- received this week and this month ---------------------------------------------------


def test_week_start():
    assert hub_kpis.week_start(date(2026, 7, 1)) == date(2026, 6, 29)  # Wed -> Mon
    assert hub_kpis.week_start(date(2026, 6, 29)) == date(2026, 6, 29)  # a Monday
    assert hub_kpis.week_start(date(2026, 7, 5)) == date(2026, 6, 29)  # Sunday


def _received_dataset():
    pa = make_practice(name="Ash")
    pb = make_practice(name="Beech")
    pc = make_practice(name="Cherry")
    # Today is Wed 1 July 2026: this week from Mon 29 June, this month from 1 July.
    make_referral(practice=pa, received_at=utc(2026, 6, 29, 10))  # week only
    # 22:30 UTC Sun 28 June = 23:30 BST Sunday: last week.
    make_referral(practice=pa, received_at=utc(2026, 6, 28, 22, 30))
    # 23:30 UTC Sun 28 June = 00:30 BST Monday 29 June: this week, not this month.
    make_referral(practice=pa, received_at=utc(2026, 6, 28, 23, 30))
    make_referral(practice=pb, received_at=utc(2026, 7, 1, 9))  # week and month
    # 23:30 UTC 30 June = 00:30 BST 1 July: this week and this month.
    make_referral(practice=pb, received_at=utc(2026, 6, 30, 23, 30))
    make_referral(source=ReferralSource.SELF, received_at=utc(2026, 7, 1, 12))  # both
    make_referral(source=ReferralSource.PROFESSIONAL, received_at=utc(2026, 6, 30, 12))  # week
    # 23:00 UTC 1 July = midnight BST 2 July: tomorrow, not counted.
    make_referral(practice=pa, received_at=utc(2026, 7, 1, 23, 0))
    make_referral(practice=pc, received_at=utc(2026, 6, 15))  # earlier in June
    return pa, pb, pc


def test_received_by_source_week_starting_in_previous_month(app):
    _received_dataset()
    # GP practice: week = Ash 29 June, Ash 00:30 BST 29 June, Beech 1 July, Beech 00:30
    # BST 1 July = 4; month = the two Beech ones = 2. Self: 1 and 1. Professional: 1, 0.
    assert hub_kpis.received_by_source(date(2026, 7, 1)) == [
        RecentCount("GP practice", 4, 2),
        RecentCount("Self-referral", 1, 1),
        RecentCount("Other professional", 1, 0),
    ]


def test_received_by_practice_week_starting_in_previous_month(app):
    _received_dataset()
    result = hub_kpis.received_by_practice(date(2026, 7, 1))
    # Beech: 2 this week, 2 this month. No practice (self + professional): week 2,
    # month 1. Ash: week 2, month 0 (both on Monday 29 June). Cherry: nothing, left out.
    # Busiest this month first.
    assert result == [
        RecentCount("Beech", 2, 2),
        RecentCount("No practice", 2, 1),
        RecentCount("Ash", 2, 0),
    ]
    # The practice table adds up to the same totals as the source table.
    by_source = hub_kpis.received_by_source(date(2026, 7, 1))
    assert sum(r.this_week for r in result) == sum(r.this_week for r in by_source) == 6
    assert sum(r.this_month for r in result) == sum(r.this_month for r in by_source) == 3


def test_received_mid_month(app):
    _, _, pc = _received_dataset()
    # Today Thu 16 July 2026: week from Mon 13 July, month from 1 July.
    make_referral(practice=pc, received_at=utc(2026, 7, 13, 8))  # week and month
    make_referral(practice=pc, received_at=utc(2026, 7, 12, 22, 59))  # 23:59 BST Sun: month
    make_referral(practice=pc, received_at=utc(2026, 7, 16, 22, 0))  # 23:00 BST today
    make_referral(practice=pc, received_at=utc(2026, 7, 17, 9))  # tomorrow
    today = date(2026, 7, 16)
    # Cherry: week 13 and 16 July = 2; month 12, 13, 16 July = 3.
    # Beech: the two on 1 July, none this week. Ash: the one at midnight BST on 2 July.
    # No practice: the self-referral on 1 July (the professional one was in June).
    # Busiest this month first; Ash and No practice tie, so by name.
    assert hub_kpis.received_by_practice(today) == [
        RecentCount("Cherry", 2, 3),
        RecentCount("Beech", 0, 2),
        RecentCount("Ash", 0, 1),
        RecentCount("No practice", 0, 1),
    ]
    # GP practice this month: Cherry 3 + Beech 2 + Ash 1 = 6.
    assert hub_kpis.received_by_source(today) == [
        RecentCount("GP practice", 2, 6),
        RecentCount("Self-referral", 0, 1),
        RecentCount("Other professional", 0, 0),
    ]


def test_received_nothing(app):
    assert hub_kpis.received_by_source(date(2026, 7, 1)) == [
        RecentCount(s.label, 0, 0) for s in ReferralSource
    ]
    assert hub_kpis.received_by_practice(date(2026, 7, 1)) == []


# --- triage queue ------------------------------------------------------------------------


def test_triage_queue_age_counts_working_days(app):
    p = make_practice()
    S = ReferralStatus

    def waiting(received, status=S.RECEIVED, **kw):
        make_referral(practice=p, received_at=received, status=status, **kw)

    # Today is Fri 29 May 2026; Mon 25 May is the spring bank holiday.
    waiting(utc(2026, 5, 29, 9))  # today: 0
    waiting(utc(2026, 5, 28, 9))  # Thu: 1
    waiting(utc(2026, 5, 27, 9), S.CONTACTING)  # Wed: 2, not over 2
    # 23:30 UTC Tue 26 May = 00:30 BST Wed 27 May: 2 (the UTC date would make it 3).
    waiting(utc(2026, 5, 26, 23, 30))
    waiting(utc(2026, 5, 26, 9))  # Tue: 3, over 2
    # Fri 22 May: Tue 26, Wed 27, Thu 28, Fri 29 (Mon 25 a bank holiday) = 4.
    waiting(utc(2026, 5, 22, 9))
    # Thu 21 May: Fri 22 + 4 = 5, over 2 but not over 5.
    waiting(utc(2026, 5, 21, 9), S.CONTACTING)
    # Wed 20 May: 6, over 5.
    waiting(utc(2026, 5, 20, 9))
    # Not waiting for triage: triaged, assigned, being supported, closed.
    waiting(utc(2026, 5, 1, 9), S.TRIAGED)
    waiting(utc(2026, 5, 1, 9), S.ASSIGNED)
    waiting(utc(2026, 5, 1, 9), S.ACTIVE)
    waiting(utc(2026, 5, 1, 9), **_closed())

    # Waiting 8; over 2: 3, 4, 5, 6 = 4; over 5: 6 = 1; oldest 6.
    assert hub_kpis.triage_queue_age(date(2026, 5, 29)) == QueueAge(8, 4, 1, 6)
    # A week later, Fri 5 June: every age grows by 5 (1-5 June are all working days).
    # Ages 5, 6, 7, 7, 8, 9, 10, 11: all over 2; over 5: all but the first = 7.
    assert hub_kpis.triage_queue_age(date(2026, 6, 5)) == QueueAge(8, 8, 7, 11)


def test_triage_queue_age_empty(app):
    make_referral(practice=make_practice(), received_at=utc(2026, 5, 1), **_closed())
    assert hub_kpis.triage_queue_age(date(2026, 5, 29)) == QueueAge(0, 0, 0, None)


# --- caseloads ---------------------------------------------------------------------------


def test_navigator_load_use():
    assert NavigatorLoad("A", 3, 4).use == 75  # 100 * 3 / 4
    assert NavigatorLoad("A", 12, 10).use == 120  # over capacity shows over 100
    assert NavigatorLoad("A", 1, 3).use == 33  # 33.3 rounded
    assert NavigatorLoad("A", 2, 3).use == 67  # 66.7 rounded
    assert NavigatorLoad("A", 0, 10).use == 0
    assert NavigatorLoad("A", 5, None).use is None
    assert NavigatorLoad("A", 5, 0).use is None


def test_caseload_by_navigator(app):
    p = make_practice()
    alice = make_user(Role.NAVIGATOR, full_name="Alice Navigator", caseload_capacity=10)
    bob = make_user(Role.NAVIGATOR, full_name="Bob Navigator", caseload_capacity=None)
    make_user(Role.NAVIGATOR, full_name="Cara Navigator", caseload_capacity=0)
    dan = make_user(Role.NAVIGATOR, full_name="Dan Navigator", is_active=False)
    eve = make_user(Role.COORDINATOR, full_name="Eve Coordinator", caseload_capacity=5)
    S = ReferralStatus

    def case(navigator, status, **kw):
        make_referral(
            practice=p,
            received_at=utc(2026, 5, 1),
            navigator_id=navigator.id,
            status=status,
            assigned_at=utc(2026, 5, 2),
            **kw,
        )

    # Alice: assigned 2, active 1, triaged 1 (not closed) = 4; the closed one is not open.
    case(alice, S.ASSIGNED)
    case(alice, S.ASSIGNED)
    case(alice, S.ACTIVE)
    case(alice, S.TRIAGED)
    case(alice, **_closed())
    # Bob: 1 active; no capacity set.
    case(bob, S.ACTIVE)
    # Dan is no longer active and Eve is not a navigator: neither listed.
    case(dan, S.ACTIVE)
    case(eve, S.ACTIVE)

    loads = hub_kpis.caseload_by_navigator()
    assert loads == [
        NavigatorLoad("Alice Navigator", 4, 10),
        NavigatorLoad("Bob Navigator", 1, None),
        NavigatorLoad("Cara Navigator", 0, 0),
    ]
    # Alice: 100 * 4 / 10 = 40%; Bob and Cara: no capacity.
    assert [n.use for n in loads] == [40, None, None]


def test_cases_without_contact(app):
    nav = make_user(Role.NAVIGATOR)
    p = make_practice()
    now = utcnow()
    S = ReferralStatus

    def case(status, assigned_days_ago, **kw):
        return make_referral(
            practice=p,
            received_at=now - timedelta(days=60),
            navigator_id=nav.id,
            status=status,
            assigned_at=now - timedelta(days=assigned_days_ago),
            **kw,
        )

    # a. Assigned 20 days ago, never contacted: quiet for 20 days.
    case(S.ASSIGNED, 20)
    # b. Assigned 20 days ago, spoken to 3 days ago: 3.
    b = case(S.ASSIGNED, 20)
    make_contact(b, nav, days_ago=3)
    # c. Assigned 40 days ago, spoken to 15 days ago, an unanswered call 2 days ago: 15.
    c = case(S.ACTIVE, 40)
    make_contact(c, nav, days_ago=15)
    make_contact(c, nav, days_ago=2, successful=False)
    # d. Assigned 5 days ago, not yet contacted: 5.
    case(S.ACTIVE, 5)
    # e. Spoken to 13 days ago: 13.
    e = case(S.ACTIVE, 30)
    make_contact(e, nav, days_ago=13)
    # Not open cases: closed, or still in triage.
    case(S.CLOSED, 40, closed_at=now - timedelta(days=1), closure_reason=ClosureReason.DECLINED)
    case(S.TRIAGED, 40)

    # Quiet more than 14 days: a (20) and c (15).
    assert hub_kpis.cases_without_contact(14) == 2
    # More than 2 days: a 20, b 3, c 15, d 5, e 13 = 5.
    assert hub_kpis.cases_without_contact(2) == 5
    # More than 30 days: none.
    assert hub_kpis.cases_without_contact(30) == 0


# --- activity referrals waiting for an answer --------------------------------------------


def test_activity_referrals_awaiting(app):
    nav = make_user(Role.NAVIGATOR)
    r = make_referral(practice=make_practice(), received_at=utc(2026, 7, 1))
    orgs = {name: make_organisation(name=name) for name in ("Alpha", "Beta", "Gamma", "Delta")}
    St = ActivityReferralStatus

    def sent(org, respond_by, status=St.SENT):
        _save(
            ActivityReferral(
                referral_id=r.id,
                activity_id=make_activity(orgs[org]).id,
                status=status,
                respond_by=respond_by,
                created_by_id=nav.id,
                decline_reason="Full" if status == St.DECLINED else None,
            )
        )

    # Today is 15 July 2026.
    sent("Alpha", date(2026, 7, 14))  # past
    sent("Alpha", date(2026, 7, 15))  # due today: not past yet
    sent("Alpha", None)  # no date asked for
    sent("Alpha", date(2026, 7, 1), St.ACCEPTED)  # answered
    sent("Alpha", date(2026, 7, 1), St.SUGGESTED)  # never sent
    sent("Beta", date(2026, 7, 10))  # past
    sent("Beta", date(2026, 7, 1))  # past
    sent("Gamma", date(2026, 7, 20))
    sent("Delta", date(2026, 7, 1), St.DECLINED)  # answered: Delta not listed
    sent("Delta", date(2026, 7, 1), St.ATTENDED)

    # Beta 2 waiting, both past; Alpha 3 waiting, 1 past; Gamma 1, 0. Most overdue first.
    assert hub_kpis.activity_referrals_awaiting(date(2026, 7, 15)) == [
        AwaitingResponse("Beta", 2, 2),
        AwaitingResponse("Alpha", 3, 1),
        AwaitingResponse("Gamma", 1, 0),
    ]
    # A day later Alpha's 15 July one is past too: Alpha and Beta both have 2 past, so
    # the one with more waiting comes first: Alpha (3) before Beta (2).
    assert hub_kpis.activity_referrals_awaiting(date(2026, 7, 16)) == [
        AwaitingResponse("Alpha", 3, 2),
        AwaitingResponse("Beta", 2, 2),
        AwaitingResponse("Gamma", 1, 0),
    ]


# --- volunteers --------------------------------------------------------------------------


def test_volunteers_by_status(app):
    assert hub_kpis.volunteers_by_status() == [(s.label, 0) for s in VolunteerStatus]
    make_volunteer(status=VolunteerStatus.APPLIED)
    make_volunteer()
    make_volunteer()
    make_volunteer(status=VolunteerStatus.PAUSED)
    make_volunteer(status=VolunteerStatus.LEFT, left_reason=LeftReason.HEALTH)
    # Every status listed, in order; vetting has none.
    assert hub_kpis.volunteers_by_status() == [
        ("Applied", 1),
        ("Vetting", 0),
        ("Active", 2),
        ("Paused", 1),
        ("Left", 1),
    ]


def _from_compliance(today: date, within_days: int) -> ExpiryCounts:
    """The same four counts worked out one volunteer at a time with `compliance()`: what
    the coordinators' expiring list and the reminders use."""
    modules = list(db.session.scalars(sa.select(TrainingModule)))
    volunteers = db.session.scalars(
        sa.select(Volunteer).where(Volunteer.status.in_(hub_kpis.CHECKED_STATUSES))
    )
    horizon = today + timedelta(days=within_days)
    counts = [0, 0, 0, 0]
    for volunteer in volunteers:
        items = compliance(volunteer, modules, today).expiring
        for offset, kinds in ((0, ("dbs",)), (2, ("training:",))):
            mine = [i for i in items if i.subject.startswith(kinds)]
            counts[offset] += any(i.expires_on < today for i in mine)
            counts[offset + 1] += any(today <= i.expires_on <= horizon for i in mine)
    return ExpiryCounts(*counts)


def _dbs(issue: date | None, status=VolunteerStatus.ACTIVE, **kw) -> Volunteer:
    kw.setdefault("role_buddy", True)
    if status == VolunteerStatus.LEFT:
        kw["left_reason"] = LeftReason.MOVED
    return make_volunteer(status=status, dbs_issue_date=issue, **kw)


def test_volunteer_expiry_dbs(app):
    # Today 1 March 2026, 30 days ahead (to 31 March), checks last 3 years: a check
    # expires on add_months(start, 36) and counts that day; expired when that is before today.
    today = date(2026, 3, 1)
    # Expired: 28 Feb 2023 -> 28 Feb 2026.
    _dbs(date(2023, 2, 28))
    # Expiring: 1 Mar 2023 -> 1 Mar 2026 (still counts today).
    _dbs(date(2023, 3, 1))
    # Expiring: a volunteer navigator, 31 Mar 2023 -> 31 Mar 2026 (the last day ahead).
    _dbs(date(2023, 3, 31), role_buddy=False, role_navigator=True)
    # Neither: 1 Apr 2023 -> 1 Apr 2026.
    _dbs(date(2023, 4, 1))
    # Update Service: issued 2020 but checked on 10 Mar 2023 -> 10 Mar 2026: expiring.
    _dbs(date(2020, 1, 1), dbs_update_service=True, dbs_checked_at=utc(2023, 3, 10))
    # Update Service checked at 23:30 UTC 31 Mar 2023 = 00:30 BST 1 Apr 2023
    # -> 1 Apr 2026: neither (the UTC date would make it expiring).
    _dbs(date(2020, 1, 1), dbs_update_service=True, dbs_checked_at=utc(2023, 3, 31, 23, 30))
    # Update Service checked before the issue date: the issue date counts, 5 Mar 2026.
    _dbs(date(2023, 3, 5), dbs_update_service=True, dbs_checked_at=utc(2022, 1, 1))
    # A check recorded but not on the Update Service: the issue date counts, expired.
    _dbs(date(2023, 1, 10), dbs_update_service=False, dbs_checked_at=utc(2025, 1, 1))
    # Paused volunteers count: expired.
    _dbs(date(2020, 5, 5), status=VolunteerStatus.PAUSED)
    # Not counted: a befriender (no DBS needed), someone who left, an applicant, a
    # volunteer in vetting, and a buddy with no check recorded yet.
    _dbs(date(2020, 1, 1), role_buddy=False, role_befriender=True)
    _dbs(date(2020, 1, 1), status=VolunteerStatus.LEFT)
    _dbs(date(2020, 1, 1), status=VolunteerStatus.APPLIED)
    _dbs(date(2020, 1, 1), status=VolunteerStatus.VETTING)
    _dbs(None)

    # Expired: 28 Feb 2023, 10 Jan 2023, paused = 3.
    # Expiring: 1 Mar, 31 Mar, Update Service 10 Mar, issue 5 Mar = 4.
    result = hub_kpis.volunteer_expiry(today, 30, 3)
    assert result == ExpiryCounts(3, 4, 0, 0)
    assert result == _from_compliance(today, 30)
    # Looking 0 days ahead: only the check ending today (1 Mar 2026) is expiring.
    assert hub_kpis.volunteer_expiry(today, 0, 3) == ExpiryCounts(3, 1, 0, 0)
    assert hub_kpis.volunteer_expiry(today, 0, 3) == _from_compliance(today, 0)
    # Checks lasting 4 years: 28 Feb 2023 -> 2027 etc. Only 2020 starts have expired: the
    # paused volunteer (5 May 2020 -> 5 May 2024). The 2020 Update Service ones were
    # checked in 2023. Nothing ends by 31 Mar 2026.
    assert hub_kpis.volunteer_expiry(today, 30, 4) == ExpiryCounts(1, 0, 0, 0)


def test_volunteer_expiry_dbs_month_clamping(app):
    # Issued 29 Feb 2024, valid a year: add_months clamps to 28 Feb 2025, its last day.
    _dbs(date(2024, 2, 29))
    assert hub_kpis.volunteer_expiry(date(2025, 2, 28), 0, 1) == ExpiryCounts(0, 1, 0, 0)
    assert hub_kpis.volunteer_expiry(date(2025, 3, 1), 0, 1) == ExpiryCounts(1, 0, 0, 0)
    # From 1 Feb 2025, 27 days ahead reaches 28 Feb; 26 days does not.
    assert hub_kpis.volunteer_expiry(date(2025, 2, 1), 27, 1) == ExpiryCounts(0, 1, 0, 0)
    assert hub_kpis.volunteer_expiry(date(2025, 2, 1), 26, 1) == ExpiryCounts(0, 0, 0, 0)


def _training_dataset():
    safeguarding = make_training_module(
        name="Safeguarding", valid_for_months=12, required_for_buddy=True
    )
    phone = make_training_module(
        name="Phone skills",
        valid_for_months=1,
        required_for_buddy=False,
        required_for_befriender=True,
    )
    retired = make_training_module(
        name="Old course", valid_for_months=12, required_for_buddy=True, is_active=False
    )
    forever = make_training_module(name="Induction", valid_for_months=None)
    navigating = make_training_module(
        name="Navigation",
        valid_for_months=24,
        required_for_buddy=False,
        required_for_navigator=True,
    )

    def volunteer(*records, status=VolunteerStatus.ACTIVE, **roles):
        roles.setdefault("role_buddy", False)
        kw = {"left_reason": LeftReason.MOVED} if status == VolunteerStatus.LEFT else {}
        v = make_volunteer(status=status, **roles, **kw)
        for module, day in records:
            make_training_record(v, module, completed_on=day)
        return v

    # Today 1 March 2026, 30 days ahead: expired when the module's last day is before
    # 1 March; expiring when it is 1 to 31 March.
    # T1 buddy: latest safeguarding 28 Feb 2025 -> 28 Feb 2026: expired.
    volunteer((safeguarding, date(2024, 1, 1)), (safeguarding, date(2025, 2, 28)), role_buddy=True)
    # T2 buddy: an old expired record, but the latest, 20 Mar 2025 -> 20 Mar 2026: expiring.
    volunteer((safeguarding, date(2024, 1, 1)), (safeguarding, date(2025, 3, 20)), role_buddy=True)
    # T3 befriender: phone skills 31 Jan 2026 + 1 month = 28 Feb 2026 (clamped): expired.
    volunteer((phone, date(2026, 1, 31)), role_befriender=True)
    # T4 befriender: 1 Feb 2026 -> 1 Mar 2026, today: expiring.
    volunteer((phone, date(2026, 2, 1)), role_befriender=True)
    # T5 buddy + befriender, both modules expired: counted once.
    volunteer(
        (safeguarding, date(2025, 1, 1)),
        (phone, date(2026, 1, 15)),
        role_buddy=True,
        role_befriender=True,
    )
    # T6 buddy + befriender, both modules expiring (10 March): counted once.
    volunteer(
        (safeguarding, date(2025, 3, 10)),
        (phone, date(2026, 2, 10)),
        role_buddy=True,
        role_befriender=True,
    )
    # T7 volunteer navigator: navigation 15 Mar 2024 -> 15 Mar 2026: expiring.
    volunteer((navigating, date(2024, 3, 15)), role_navigator=True)
    # Not counted:
    # T8 buddy with an expired phone-skills record: the module is not for buddies.
    volunteer((phone, date(2025, 1, 1)), (safeguarding, date(2026, 1, 1)), role_buddy=True)
    # T9 buddy: the retired course and the never-expiring induction, long ago.
    volunteer((retired, date(2020, 1, 1)), (forever, date(2020, 1, 1)), role_buddy=True)
    # T10 paused buddy: counted, expired (1 June 2024 -> 1 June 2025).
    volunteer((safeguarding, date(2024, 6, 1)), role_buddy=True, status=VolunteerStatus.PAUSED)
    # T11, T12: left and vetting, expired training: not counted.
    volunteer((safeguarding, date(2020, 1, 1)), role_buddy=True, status=VolunteerStatus.LEFT)
    volunteer((safeguarding, date(2020, 1, 1)), role_buddy=True, status=VolunteerStatus.VETTING)
    # T13 a buddy who never did safeguarding: not done is not "expired".
    volunteer(role_buddy=True)
    return safeguarding, phone


def test_volunteer_expiry_training(app):
    _training_dataset()
    today = date(2026, 3, 1)
    # Expired: T1, T3, T5 (once), T10 = 4. Expiring: T2, T4, T6 (once), T7 = 4.
    # Nobody in this dataset has a DBS check recorded.
    result = hub_kpis.volunteer_expiry(today, 30, 3)
    assert result == ExpiryCounts(0, 0, 4, 4)
    assert result == _from_compliance(today, 30)
    # Looking 9 days ahead (to 10 March): T4 (1 Mar) and T6 (10 Mar) only.
    assert hub_kpis.volunteer_expiry(today, 9, 3) == ExpiryCounts(0, 0, 4, 2)
    assert hub_kpis.volunteer_expiry(today, 9, 3) == _from_compliance(today, 9)
    # The day before, 28 Feb 2026: T1 and T3 end that day, so expiring, not expired.
    # Expired: T5, T10 = 2. Expiring to 30 March: T1, T3, T4, T6, T7, T2 = 6.
    assert hub_kpis.volunteer_expiry(date(2026, 2, 28), 30, 3) == ExpiryCounts(0, 0, 2, 6)
    assert hub_kpis.volunteer_expiry(date(2026, 2, 28), 30, 3) == _from_compliance(
        date(2026, 2, 28), 30
    )


def test_volunteer_expiry_training_month_clamping(app):
    monthly = make_training_module(name="Monthly", valid_for_months=1, required_for_buddy=True)
    v = make_volunteer()
    make_training_record(v, monthly, completed_on=date(2026, 1, 31))
    # 31 Jan + 1 month = 28 Feb 2026: counts on 28 Feb, expired on 1 March.
    assert hub_kpis.volunteer_expiry(date(2026, 2, 28), 0, 3) == ExpiryCounts(0, 0, 0, 1)
    assert hub_kpis.volunteer_expiry(date(2026, 3, 1), 0, 3) == ExpiryCounts(0, 0, 1, 0)
    # Seen from 27 February, 1 day ahead reaches 28 February.
    assert hub_kpis.volunteer_expiry(date(2026, 2, 27), 1, 3) == ExpiryCounts(0, 0, 0, 1)
    assert hub_kpis.volunteer_expiry(date(2026, 2, 27), 0, 3) == ExpiryCounts(0, 0, 0, 0)


def test_volunteer_expiry_dbs_and_training_columns_are_separate(app):
    safeguarding = make_training_module(
        name="Safeguarding", valid_for_months=12, required_for_buddy=True
    )
    # One buddy with an expired DBS check and expired training: once in each column.
    v = _dbs(date(2022, 1, 1))
    make_training_record(v, safeguarding, completed_on=date(2024, 1, 1))
    today = date(2026, 3, 1)
    assert hub_kpis.volunteer_expiry(today, 30, 3) == ExpiryCounts(1, 0, 1, 0)
    assert hub_kpis.volunteer_expiry(today, 30, 3) == _from_compliance(today, 30)


def test_volunteer_expiry_expired_and_expiring_modules_counted_in_both_columns(app):
    """The docstring: a volunteer whose module "has run out (expired) or runs out within
    `within_days` days (expiring)", "counted once in each column however many items
    apply". One module run out and another running out soon: one in each column, as the
    coordinators' expiring list (built on `compliance()`) shows both items."""
    safeguarding = make_training_module(
        name="Safeguarding", valid_for_months=12, required_for_buddy=True
    )
    phone = make_training_module(
        name="Phone skills",
        valid_for_months=12,
        required_for_buddy=False,
        required_for_befriender=True,
    )
    v = make_volunteer(role_buddy=True, role_befriender=True)
    make_training_record(v, safeguarding, completed_on=date(2025, 1, 1))  # ran out 1 Jan
    make_training_record(v, phone, completed_on=date(2025, 3, 10))  # runs out 10 Mar
    today = date(2026, 3, 1)
    assert _from_compliance(today, 30) == ExpiryCounts(0, 0, 1, 1)
    assert hub_kpis.volunteer_expiry(today, 30, 3) == ExpiryCounts(0, 0, 1, 1)


def test_volunteer_expiry_nothing(app):
    assert hub_kpis.volunteer_expiry(date(2026, 3, 1), 60, 3) == ExpiryCounts(0, 0, 0, 0)
    # Modules but no records.
    make_training_module()
    make_volunteer()
    assert hub_kpis.volunteer_expiry(date(2026, 3, 1), 60, 3) == ExpiryCounts(0, 0, 0, 0)


# --- failed report deliveries ------------------------------------------------------------


def test_failed_report_deliveries(app):
    alpha = make_practice(name="Alpha")
    beta = make_practice(name="Beta")
    S = DeliveryStatus
    made = []

    def report(practice, period_end, status, error=None, kind=ReportKind.SCHEDULED):
        made.append(
            _save(
                OutcomeReport(
                    claim_key=f"failed-test:{len(made)}",
                    kind=kind,
                    practice_id=practice.id,
                    period_start=period_end.replace(day=1),
                    period_end=period_end,
                    status=status,
                    last_error=error,
                )
            )
        )
        return made[-1]

    b_june = report(beta, date(2026, 6, 30), S.FAILED, "550 mailbox unavailable")
    a_june = report(alpha, date(2026, 6, 30), S.RETRYING, "timed out")
    a_early = report(alpha, date(2026, 6, 7), S.FAILED)
    notice = report(beta, date(2026, 6, 20), S.FAILED, "refused", kind=ReportKind.NOTICE)
    for status in (S.SENT, S.CLAIMED, S.SENDING, S.INBOX_ONLY, S.EMPTY):
        report(alpha, date(2026, 5, 31), status)

    # Failed or retrying only; latest period first, then practice name.
    june_30 = [
        FailedReport(
            a_june.id, "Alpha", date(2026, 6, 1), date(2026, 6, 30), S.RETRYING, "timed out"
        ),
        FailedReport(
            b_june.id,
            "Beta",
            date(2026, 6, 1),
            date(2026, 6, 30),
            S.FAILED,
            "550 mailbox unavailable",
        ),
    ]
    notice_row = FailedReport(
        notice.id, "Beta", date(2026, 6, 1), date(2026, 6, 20), S.FAILED, "refused"
    )
    early = FailedReport(a_early.id, "Alpha", date(2026, 6, 1), date(2026, 6, 7), S.FAILED, None)
    assert hub_kpis.failed_report_deliveries() == [*june_30, notice_row, early]
    assert hub_kpis.failed_report_count() == 4
    # The list is capped; the count is not.
    assert hub_kpis.failed_report_deliveries(limit=2) == june_30


def test_failed_report_deliveries_none(app):
    assert hub_kpis.failed_report_deliveries() == []
    assert hub_kpis.failed_report_count() == 0


# --- open cases --------------------------------------------------------------------------


def test_open_case_count(app):
    p = make_practice()
    S = ReferralStatus
    for status in (S.RECEIVED, S.CONTACTING, S.TRIAGED, S.ASSIGNED, S.ASSIGNED, S.ACTIVE):
        make_referral(practice=p, received_at=utc(2026, 5, 1), status=status)
    make_referral(practice=p, received_at=utc(2026, 5, 1), **_closed())
    # Assigned 2 + being supported 1.
    assert hub_kpis.open_case_count() == 3
