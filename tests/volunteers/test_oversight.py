"""What coordinators watch: quiet buddies, hours given per month (and its CSV), the board."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from portal.db_types import utcnow
from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.referrals.models import Referral, ReferralStatus, Route
from portal.volunteers.models import (
    BuddyMatchStatus,
    HoursKind,
    LeftReason,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)
from portal.volunteers.oversight import (
    BOARD_PAGE_SIZE,
    BoardFilters,
    HoursRow,
    board,
    hours_by_month,
    hours_csv,
    quiet_buddies,
    status_counts,
)
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_referral,
    make_training_module,
    make_volunteer,
)

S = VolunteerStatus
M = BuddyMatchStatus
TODAY = date.today()


# --- helpers -------------------------------------------------------------------------------


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def case(navigator=None) -> Referral:
    fields = {
        "status": ReferralStatus.ACTIVE,
        "received_at": ago(days=90),
        "first_contact_at": ago(days=89),
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 2,
        "triaged_at": ago(days=89),
    }
    if navigator is not None:
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=88))
    return make_referral(**fields)


def person(name: str, status: VolunteerStatus = S.ACTIVE, **kw) -> Volunteer:
    if status == S.LEFT:
        kw.setdefault("left_reason", LeftReason.OTHER)
    return make_volunteer(status, user_kw={"full_name": name, "password": None}, **kw)


def hours(volunteer: Volunteer, day: date, minutes: int) -> None:
    db.session.add(
        VolunteerHours(
            volunteer_id=volunteer.id, worked_on=day, kind=HoursKind.ADMIN, minutes=minutes
        )
    )
    db.session.commit()


# --- quiet buddies --------------------------------------------------------------------------


def test_quiet_buddies_are_active_matches_with_no_contact_from_their_volunteer(app, navigator):
    def match(volunteer=None, referral=None, **kw):
        return make_buddy_match(
            referral or case(navigator), volunteer or make_compliant_volunteer(), navigator, **kw
        )

    never = match(responded_at=ago(days=20))
    recent = match(responded_at=ago(days=20))
    make_contact(recent.referral, recent.volunteer.user, days_ago=3)
    lapsed = match(responded_at=ago(days=40))
    last_seen = ago(days=16)
    make_contact(lapsed.referral, lapsed.volunteer.user, occurred_at=last_seen)
    match(responded_at=ago(days=5))  # new: not quiet yet
    # Counted from when the volunteer accepted, not from when they were asked.
    match(responded_at=ago(days=10), proposed_at=ago(days=40))
    unanswered = match(responded_at=None, proposed_at=ago(days=30))
    # The navigator's own contact is not the volunteer's.
    navigated = match(responded_at=ago(days=25))
    make_contact(navigated.referral, navigator, days_ago=1)
    # Two buddies for one person: the other buddy's contact does not count for this one.
    shared = case(navigator)
    idle = match(referral=shared, responded_at=ago(days=18))
    busy = match(referral=shared, responded_at=ago(days=18))
    make_contact(shared, busy.volunteer.user, days_ago=2)
    # A contact with someone else they buddy does not count either.
    elsewhere = match(volunteer=idle.volunteer, responded_at=ago(days=30))
    make_contact(elsewhere.referral, idle.volunteer.user, days_ago=1)
    # Only active matches are watched.
    match(status=M.PROPOSED, responded_at=None, proposed_at=ago(days=60))
    match(status=M.DECLINED, responded_at=ago(days=60))
    match(status=M.ENDED, responded_at=ago(days=60), ended_at=ago(days=50))

    quiet = quiet_buddies(14)

    assert [(q.match.id, q.last_contact_at, q.days) for q in quiet] == [
        (unanswered.id, None, 30),
        (navigated.id, None, 25),
        (never.id, None, 20),
        (idle.id, None, 18),
        (lapsed.id, last_seen, 16),
    ]
    assert quiet[0].match.volunteer.user.full_name
    assert quiet[0].match.referral.resident.given_name


def test_quiet_buddies_uses_the_number_of_days_given(app, navigator):
    twenty = make_buddy_match(case(navigator), make_compliant_volunteer(), navigator)
    assert [q.match.id for q in quiet_buddies(14)] == [twenty.id]
    assert [q.match.id for q in quiet_buddies(19)] == [twenty.id]
    assert quiet_buddies(21) == []


# --- hours by month -------------------------------------------------------------------------


@pytest.fixture
def hours_dataset(navigator):
    referral = case(navigator)
    alice = person("alice Ash")
    bob = person("Bob Brown")
    for when, minutes in [
        (utc(2024, 12, 31, 23, 30), 15),  # before the range (midnight in London, GMT)
        (utc(2025, 1, 15, 10), 30),
        (utc(2025, 1, 20, 10), 45),
        (utc(2025, 2, 3, 10), 60),
        (utc(2025, 3, 1, 0, 30), 20),  # the end is not included
    ]:
        make_contact(referral, alice.user, occurred_at=when, duration_minutes=minutes)
    make_contact(referral, navigator, occurred_at=utc(2025, 1, 15, 11), duration_minutes=100)
    hours(alice, date(2024, 12, 31), 60)
    hours(alice, date(2025, 1, 10), 120)
    hours(alice, date(2025, 3, 1), 90)
    hours(bob, date(2025, 2, 14), 30)
    hours(bob, date(2025, 2, 15), 15)
    return alice, bob


def test_hours_by_month_adds_contacts_and_hours_per_volunteer_and_month(app, hours_dataset):
    alice, bob = hours_dataset

    rows = hours_by_month(date(2025, 1, 1), date(2025, 3, 1))

    # By month, then by name ignoring case: "alice" before "Bob".
    assert rows == [
        HoursRow(alice.id, "alice Ash", "2025-01", 2, 75, 120),
        HoursRow(alice.id, "alice Ash", "2025-02", 1, 60, 0),
        HoursRow(bob.id, "Bob Brown", "2025-02", 0, 0, 45),
    ]
    assert [r.total_minutes for r in rows] == [195, 60, 45]


def test_hours_by_month_range_ends_before_its_end(app, hours_dataset):
    alice, _ = hours_dataset
    assert hours_by_month(date(2025, 3, 1), date(2025, 4, 1)) == [
        HoursRow(alice.id, "alice Ash", "2025-03", 1, 20, 90)
    ]
    assert hours_by_month(date(2025, 1, 1), date(2025, 1, 2)) == []
    assert hours_by_month(date(2025, 4, 1), date(2025, 5, 1)) == []


def test_hours_by_month_keeps_to_the_months_asked_for(app, navigator):
    # 00:30 on 1 July in London (23:30 on 30 June in UTC): the volunteer gave that time
    # in July, and the July report counts it. A July report has no June row.
    volunteer = person("Ann Summer")
    make_contact(
        case(navigator),
        volunteer.user,
        occurred_at=local_to_utc(datetime(2025, 7, 1, 0, 30)),
        duration_minutes=40,
    )

    rows = hours_by_month(date(2025, 7, 1), date(2025, 8, 1))

    assert [(r.month, r.contacts, r.contact_minutes) for r in rows] == [("2025-07", 1, 40)]


# --- the CSV --------------------------------------------------------------------------------


def test_hours_csv_has_the_header_and_hours_to_two_places():
    text = hours_csv([HoursRow(1, "Ann Able", "2025-01", 2, 75, 120)])
    assert list(csv.reader(io.StringIO(text))) == [
        [
            "Month",
            "Volunteer",
            "Contacts logged",
            "Hours with people",
            "Other hours",
            "Total hours",
        ],
        ["2025-01", "Ann Able", "2", "1.25", "2.00", "3.25"],
    ]


def test_hours_csv_with_no_rows_is_just_the_header():
    assert list(csv.reader(io.StringIO(hours_csv([])))) == [
        ["Month", "Volunteer", "Contacts logged", "Hours with people", "Other hours", "Total hours"]
    ]


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://evil.example","x")', "+44 7700 900000", "-1+1", "@SUM(A1)", "\tTab"],
)
def test_hours_csv_neutralises_formulas_in_names(name):
    text = hours_csv([HoursRow(1, name, "2025-01", 0, 0, 60)])
    (_, row) = list(csv.reader(io.StringIO(text)))
    assert row[1] == "'" + name


@pytest.mark.parametrize("name", ["Ann = Able", "O'Brien", "Zoë + co"])
def test_hours_csv_leaves_ordinary_names_alone(name):
    (_, row) = list(csv.reader(io.StringIO(hours_csv([HoursRow(1, name, "2025-01", 0, 0, 1)]))))
    assert row[1] == name


# --- board filters --------------------------------------------------------------------------


def test_board_filters_keep_what_they_understand():
    filters = BoardFilters.from_args(MultiDict({"status": "paused", "role": "buddy", "q": " Ann "}))
    assert filters == BoardFilters(status="paused", role="buddy", q="Ann")
    assert filters.as_args() == {"status": "paused", "role": "buddy", "q": "Ann"}


@pytest.mark.parametrize(
    "args",
    [
        {"status": "nonsense", "role": "admin"},
        {"status": "ACTIVE", "role": "Buddy"},
        {"status": "", "role": ""},
        {"status": "<script>", "role": "' OR 1=1 --"},
        {},
    ],
)
def test_board_filters_ignore_junk(args):
    filters = BoardFilters.from_args(MultiDict({**args, "unknown": "x"}))
    assert (filters.status, filters.role) == ("", "")
    assert filters.as_args() == {}


def test_board_filters_cut_a_long_search():
    filters = BoardFilters.from_args(MultiDict({"q": "  " + "a" * 300}))
    assert filters.q == "a" * 100


# --- the board ------------------------------------------------------------------------------


@pytest.fixture
def crowd(app):
    return {
        "ann": person("Ann Active", role_buddy=True),
        "amy": person("Amy Active", role_buddy=True),
        "nav": person("Neil Applied", S.APPLIED, role_buddy=False, role_navigator=True),
        "bef": person("Pam Paused", S.PAUSED, role_buddy=False, role_befriender=True),
        "left": person("Len Left", S.LEFT, role_buddy=True),
        "pct": person("100% Sure", S.VETTING, role_buddy=True),
    }


def test_status_counts_every_status(app, crowd):
    assert status_counts(BoardFilters()) == {
        S.APPLIED: 1,
        S.VETTING: 1,
        S.ACTIVE: 2,
        S.PAUSED: 1,
        S.LEFT: 1,
    }


def test_status_counts_follow_role_and_search_but_not_status(app, crowd):
    assert status_counts(BoardFilters(role="buddy")) == {
        S.APPLIED: 0,
        S.VETTING: 1,
        S.ACTIVE: 2,
        S.PAUSED: 0,
        S.LEFT: 1,
    }
    assert status_counts(BoardFilters(status="active", q="active")) == {
        S.APPLIED: 0,
        S.VETTING: 0,
        S.ACTIVE: 2,
        S.PAUSED: 0,
        S.LEFT: 0,
    }
    # "%" is a letter to search for, not a wildcard.
    assert status_counts(BoardFilters(q="%"))[S.VETTING] == 1
    assert sum(status_counts(BoardFilters(q="%")).values()) == 1
    assert sum(status_counts(BoardFilters(q="_")).values()) == 0


def test_status_counts_search_email_too(app, crowd):
    email = crowd["bef"].user.email
    counts = status_counts(BoardFilters(q=email.upper()))
    assert counts[S.PAUSED] == 1
    assert sum(counts.values()) == 1


def test_board_filters_by_status_role_and_search(app, crowd):
    def names(filters):
        _, rows = board(filters, None, TODAY)
        return sorted(r.volunteer.user.full_name for r in rows)

    assert names(BoardFilters(status="active")) == ["Amy Active", "Ann Active"]
    assert names(BoardFilters(role="befriender")) == ["Pam Paused"]
    assert names(BoardFilters(role="navigator", status="active")) == []
    assert names(BoardFilters(q="ann")) == ["Ann Active"]
    assert len(names(BoardFilters())) == 6


def test_the_board_pages_newest_application_first(app):
    people = [person(f"Volunteer {i:02d}", S.APPLIED, applied_at=ago(days=i)) for i in range(27)]
    newest_first = [v.id for v in people]

    first, rows = board(BoardFilters(), None, TODAY)
    assert (first.page, first.total, first.pages, first.has_next) == (1, 27, 2, True)
    assert [r.volunteer.id for r in rows] == newest_first[:BOARD_PAGE_SIZE]

    second, rows = board(BoardFilters(), "2", TODAY)
    assert (second.page, second.has_next, second.has_prev) == (2, False, True)
    assert [r.volunteer.id for r in rows] == newest_first[BOARD_PAGE_SIZE:]

    for junk in ("abc", "", "²", "-1"):
        page, rows = board(BoardFilters(), junk, TODAY)
        assert page.page == 1
        assert len(rows) == BOARD_PAGE_SIZE

    beyond, rows = board(BoardFilters(), "9", TODAY)
    assert (beyond.page, beyond.total, rows) == (9, 27, [])


def test_board_rows_carry_compliance_and_current_buddies(app, navigator):
    make_training_module(name="Induction")
    ready = make_compliant_volunteer(max_buddies=3)
    for status in (M.PROPOSED, M.ACTIVE, M.DECLINED):
        make_buddy_match(case(navigator), ready, navigator, status=status)
    make_buddy_match(case(navigator), ready, navigator, status=M.ENDED, ended_at=ago(days=1))
    waiting = person("Wendy Waiting", S.VETTING, dbs_level=None)

    _, rows = board(BoardFilters(), None, TODAY)

    by_id = {r.volunteer.id: r for r in rows}
    assert by_id[ready.id].buddies == 2
    assert by_id[ready.id].compliance.compliant is True
    assert by_id[waiting.id].buddies == 0
    assert by_id[waiting.id].compliance.reasons == [
        "Their status is vetting, not active",
        "No DBS check recorded: an enhanced check is needed",
        "Training not done: Induction",
    ]
