"""Caseloads: whose cases are listed, in which order, under which filters, with which flags."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases.caseload import (
    PAGE_SIZE,
    SORTS,
    CaseloadFilters,
    case_rows,
    caseload_query,
    overdue_count,
    status_counts,
)
from portal.db_types import utcnow
from portal.extensions import db
from portal.paging import paginate
from portal.referrals.models import ClosureReason, Referral, ReferralStatus, Route
from tests.factories import make_contact, make_referral, make_resident

S = ReferralStatus
OVERDUE_DAYS = 14


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def in_days(n: int) -> date:
    return date.today() + timedelta(days=n)


def case(
    navigator,
    status: ReferralStatus = S.ACTIVE,
    family: str | None = None,
    given: str | None = None,
    assigned_days_ago: int = 10,
    **kw,
) -> Referral:
    names = {}
    if family is not None:
        names["family_name"] = family
    if given is not None:
        names["given_name"] = given
    fields: dict = {
        "received_at": ago(days=60),
        "first_contact_at": ago(days=59),
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 2,
        "triaged_at": ago(days=59),
        "navigator_id": navigator.id,
        "assigned_at": ago(days=assigned_days_ago),
    }
    if status == S.CLOSED:
        fields.update(closed_at=ago(days=1), closure_reason=ClosureReason.MOVED_AWAY)
    return make_referral(resident=make_resident(**names), status=status, **{**fields, **kw})


def listed(filters=None, navigator=None, viewer=None, overdue_days=OVERDUE_DAYS):
    filters = filters or CaseloadFilters()
    navigator_id = navigator.id if navigator is not None else None
    viewer_id = viewer.id if viewer is not None else (navigator_id or 0)
    query = caseload_query(filters, navigator_id, viewer_id, overdue_days)
    return db.session.execute(query).all()


def ids(rows) -> list[int]:
    return [row.id for row in rows]


def alert(user, referral, read: bool = False) -> Alert:
    made = Alert(
        user_id=user.id,
        referral_id=referral.id if referral else None,
        kind=AlertKind.CASE_ASSIGNED,
        message="Test alert",
        read_at=utcnow() if read else None,
    )
    db.session.add(made)
    db.session.commit()
    return made


# --- filters from a query string -----------------------------------------------------------


def test_filters_read_what_they_understand():
    filters = CaseloadFilters.from_args(
        MultiDict({"status": "active", "overdue": "1", "q": "  Smith ", "sort": "name"})
    )
    assert filters == CaseloadFilters(status="active", overdue=True, q="Smith", sort="name")
    assert filters.as_args() == {"status": "active", "overdue": "1", "q": "Smith", "sort": "name"}


def test_filters_ignore_what_they_do_not_understand():
    filters = CaseloadFilters.from_args(
        MultiDict(
            {"status": "closed", "overdue": "yes", "sort": "random", "navigator": "x", "q": ""}
        )
    )
    assert filters == CaseloadFilters()
    assert filters.as_args() == {}


def test_filters_keep_a_navigator_and_cut_long_searches():
    filters = CaseloadFilters.from_args(MultiDict({"navigator": "42", "q": "a" * 150}))
    assert filters.navigator == 42
    assert filters.q == "a" * 100
    assert filters.as_args() == {"navigator": "42", "q": "a" * 100}


# --- whose cases ---------------------------------------------------------------------------


@pytest.fixture
def two_caseloads(navigator, make_user):
    other = make_user(Role.NAVIGATOR)
    mine = [case(navigator, S.ASSIGNED), case(navigator, S.ACTIVE)]
    case(navigator, S.CLOSED)
    theirs = [case(other, S.ACTIVE)]
    in_triage = make_referral(status=S.TRIAGED, route=Route.SOCIAL_NAVIGATION, support_level=1)
    return {"mine": mine, "theirs": theirs, "other": other, "triage": in_triage}


def test_a_navigator_sees_only_their_own_open_cases(navigator, two_caseloads):
    assert sorted(ids(listed(navigator=navigator))) == sorted(r.id for r in two_caseloads["mine"])


def test_the_hub_sees_every_navigators_open_cases(coordinator, two_caseloads):
    expected = two_caseloads["mine"] + two_caseloads["theirs"]
    assert sorted(ids(listed(viewer=coordinator))) == sorted(r.id for r in expected)


def test_the_status_filter_picks_one_status(navigator, coordinator, two_caseloads):
    active = listed(CaseloadFilters(status="active"), viewer=coordinator)
    assert sorted(ids(active)) == sorted(
        [two_caseloads["mine"][1].id, two_caseloads["theirs"][0].id]
    )
    assigned = listed(CaseloadFilters(status="assigned"), navigator=navigator)
    assert ids(assigned) == [two_caseloads["mine"][0].id]


def test_status_counts(navigator, make_user, two_caseloads):
    assert status_counts(navigator.id) == {S.ASSIGNED: 1, S.ACTIVE: 1}
    assert status_counts(None) == {S.ASSIGNED: 1, S.ACTIVE: 2}
    assert status_counts(make_user(Role.NAVIGATOR).id) == {S.ASSIGNED: 0, S.ACTIVE: 0}


# --- sort orders ---------------------------------------------------------------------------


@pytest.fixture
def four(navigator):
    """Four cases whose order differs under every sort."""
    a = case(
        navigator,
        family="Cole",
        given="Zed",
        next_contact_on=in_days(5),
        assigned_days_ago=10,
        support_level=1,
    )
    b = case(
        navigator,
        S.ASSIGNED,
        family="adams",
        given="Bea",
        next_contact_on=None,
        assigned_days_ago=3,
        support_level=3,
    )
    c = case(
        navigator,
        family="Cole",
        given="amy",
        next_contact_on=in_days(1),
        assigned_days_ago=20,
        support_level=2,
    )
    d = case(
        navigator,
        S.ASSIGNED,
        family="Dunn",
        given="Dev",
        next_contact_on=in_days(10),
        assigned_days_ago=15,
        support_level=2,
    )
    make_contact(a, navigator, days_ago=2)
    make_contact(a, navigator, days_ago=1, successful=False)  # attempts are not contacts
    make_contact(c, navigator, days_ago=8)
    make_contact(c, navigator, days_ago=9)
    make_contact(d, navigator, days_ago=1, successful=False)
    return {"a": a, "b": b, "c": c, "d": d}


EXPECTED_ORDER = {
    "due": "cadb",  # soonest first, no date last
    "last_contact": "dbca",  # never reached first (longest assigned first), then oldest
    "name": "bcad",  # family then given name, ignoring case
    "assigned": "cdab",  # longest on the caseload first
    "level": "bcda",  # most support first, then by id
}


def test_every_sort_is_covered():
    assert set(EXPECTED_ORDER) == set(SORTS)


@pytest.mark.parametrize(("sort", "order"), EXPECTED_ORDER.items())
def test_each_sort_gives_its_order(navigator, four, sort, order):
    rows = listed(CaseloadFilters(sort=sort), navigator=navigator)
    assert ids(rows) == [four[key].id for key in order]


def test_rows_carry_the_last_successful_contact(navigator, four):
    last = {row.id: row.last_at for row in listed(navigator=navigator)}
    assert last[four["b"].id] is None
    assert last[four["d"].id] is None  # only a failed attempt
    assert abs(last[four["a"].id] - ago(days=2)) < timedelta(minutes=1)
    assert abs(last[four["c"].id] - ago(days=8)) < timedelta(minutes=1)


# --- overdue -------------------------------------------------------------------------------


@pytest.fixture
def contact_ages(navigator):
    reached_20 = case(navigator, family="Twenty", assigned_days_ago=25)
    make_contact(reached_20, navigator, days_ago=20)
    reached_3 = case(navigator, family="Three", assigned_days_ago=25)
    make_contact(reached_3, navigator, days_ago=20)
    make_contact(reached_3, navigator, days_ago=3)
    new = case(navigator, S.ASSIGNED, family="New", assigned_days_ago=2)
    waiting = case(navigator, S.ASSIGNED, family="Waiting", assigned_days_ago=30)
    tried = case(navigator, S.ASSIGNED, family="Tried", assigned_days_ago=30)
    make_contact(tried, navigator, days_ago=1, successful=False)
    return {"20": reached_20, "3": reached_3, "new": new, "waiting": waiting, "tried": tried}


def test_the_overdue_filter(navigator, contact_ages):
    rows = listed(CaseloadFilters(overdue=True, sort="name"), navigator=navigator)
    assert ids(rows) == [contact_ages[k].id for k in ("tried", "20", "waiting")]
    assert overdue_count(navigator.id, OVERDUE_DAYS) == 3
    assert overdue_count(None, OVERDUE_DAYS) == 3


def test_overdue_follows_the_days_given(navigator, contact_ages):
    rows = listed(CaseloadFilters(overdue=True, sort="name"), navigator=navigator, overdue_days=1)
    assert ids(rows) == [contact_ages[k].id for k in ("new", "3", "tried", "20", "waiting")]
    assert overdue_count(navigator.id, 1) == 5
    assert overdue_count(navigator.id, 40) == 0


def test_overdue_counts_only_the_navigators_cases(navigator, make_user, contact_ages):
    other = make_user(Role.NAVIGATOR)
    case(other, assigned_days_ago=50)
    assert overdue_count(navigator.id, OVERDUE_DAYS) == 3
    assert overdue_count(other.id, OVERDUE_DAYS) == 1
    assert overdue_count(None, OVERDUE_DAYS) == 4


def test_case_rows_flag_overdue_and_days_since(navigator, contact_ages):
    rows = case_rows(listed(navigator=navigator), OVERDUE_DAYS)
    by_id = {row.id: row for row in rows}
    flags = {
        key: (by_id[r.id].overdue, by_id[r.id].days_since_contact)
        for key, r in contact_ages.items()
    }
    assert flags == {
        "20": (True, 20),
        "3": (False, 3),
        "new": (False, None),
        "waiting": (True, None),
        "tried": (True, None),
    }


def test_case_rows_flag_a_passed_due_date(navigator):
    late = case(navigator, next_contact_on=date.today() - timedelta(days=1))
    today = case(navigator, next_contact_on=date.today())
    unplanned = case(navigator, next_contact_on=None)
    rows = {r.id: r for r in case_rows(listed(navigator=navigator), OVERDUE_DAYS)}
    assert rows[late.id].due_passed is True
    assert rows[today.id].due_passed is False
    assert rows[unplanned.id].due_passed is False


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def named(navigator):
    return {
        "smith": case(navigator, family="Smith", given="Alice"),
        "smythe": case(navigator, family="Smythe", given="Bob"),
        "jones": case(navigator, family="Jones", given="Smita"),
        "brown": case(navigator, family="Brown", given="Carl"),
    }


def test_search_by_family_name(navigator, named):
    rows = listed(CaseloadFilters(q="smith", sort="name"), navigator=navigator)
    assert ids(rows) == [named["smith"].id]


def test_search_matches_the_start_of_either_name(navigator, named):
    rows = listed(CaseloadFilters(q="Sm", sort="name"), navigator=navigator)
    assert ids(rows) == [named[k].id for k in ("jones", "smith", "smythe")]


def test_search_by_reference(navigator, named):
    reference = named["brown"].reference
    assert ids(listed(CaseloadFilters(q=reference), navigator=navigator)) == [named["brown"].id]
    lower = reference.lower()
    assert ids(listed(CaseloadFilters(q=lower), navigator=navigator)) == [named["brown"].id]


def test_search_stays_inside_the_caseload(navigator, make_user, named):
    other = make_user(Role.NAVIGATOR)
    theirs = case(other, family="Smith", given="Zoe")
    assert ids(listed(CaseloadFilters(q="Smith"), navigator=navigator)) == [named["smith"].id]
    assert theirs.id in ids(listed(CaseloadFilters(q="Smith"), viewer=make_user(Role.COORDINATOR)))


# --- unread alerts -------------------------------------------------------------------------


def test_unread_alerts_are_counted_per_case_for_the_viewer_only(navigator, coordinator):
    first = case(navigator)
    second = case(navigator)
    quiet = case(navigator)
    alert(navigator, first)
    alert(navigator, first)
    alert(navigator, first, read=True)
    alert(navigator, second)
    alert(coordinator, first)
    alert(coordinator, quiet)
    alert(navigator, None)

    mine = {row.id: row.unread for row in listed(navigator=navigator)}
    assert mine == {first.id: 2, second.id: 1, quiet.id: 0}
    hubs = {row.id: row.unread for row in listed(viewer=coordinator)}
    assert hubs == {first.id: 1, second.id: 0, quiet.id: 1}
    assert {r.id: r.unread_alerts for r in case_rows(listed(navigator=navigator), 14)} == (mine)


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def five(navigator):
    return [case(navigator, next_contact_on=in_days(n)) for n in range(1, 6)]


def test_page_two(navigator, five):
    query = caseload_query(CaseloadFilters(), navigator.id, navigator.id, OVERDUE_DAYS)
    page = paginate(query, "2", per_page=2)
    assert [row.id for row in page.items] == [five[2].id, five[3].id]
    assert (page.page, page.per_page, page.total, page.pages) == (2, 2, 5, 3)
    assert (page.has_prev, page.has_next, page.prev_num, page.next_num) == (True, True, 1, 3)


def test_the_last_page(navigator, five):
    query = caseload_query(CaseloadFilters(), navigator.id, navigator.id, OVERDUE_DAYS)
    page = paginate(query, "3", per_page=2)
    assert [row.id for row in page.items] == [five[4].id]
    assert page.has_next is False
    assert page.total == 5


@pytest.mark.parametrize("arg", [None, "", "0", "-1", "two", "²"])
def test_a_page_not_understood_is_page_one(navigator, five, arg):
    query = caseload_query(CaseloadFilters(), navigator.id, navigator.id, OVERDUE_DAYS)
    page = paginate(query, arg, per_page=2)
    assert page.page == 1
    assert [row.id for row in page.items] == [five[0].id, five[1].id]
    assert page.has_prev is False


def test_the_total_follows_the_filters(navigator, five):
    five[0].status = S.ASSIGNED
    db.session.commit()
    query = caseload_query(CaseloadFilters(status="assigned"), navigator.id, navigator.id, 14)
    page = paginate(query, "1", per_page=2)
    assert page.total == 1
    assert page.pages == 1
    assert [row.id for row in page.items] == [five[0].id]


def test_an_empty_caseload_has_one_empty_page(navigator):
    query = caseload_query(CaseloadFilters(), navigator.id, navigator.id, OVERDUE_DAYS)
    page = paginate(query, None, PAGE_SIZE)
    assert (page.items, page.total, page.pages, page.has_next) == ([], 0, 1, False)
