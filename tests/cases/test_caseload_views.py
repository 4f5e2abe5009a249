"""Caseloads: a navigator's own open cases, and the hub's view of everyone's.

Sorting, filtering, searching (full page and htmx), the counts, the overdue flag and
the unread-alerts column.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases.models import ContactResult
from portal.db_types import utcnow
from portal.extensions import db as _db
from portal.referrals.models import ClosureReason, Referral, ReferralStatus, Route
from tests.factories import (
    PASSWORD,
    make_contact,
    make_practice,
    make_referral,
    make_resident,
)
from tests.statements import statements_of

HTMX = {"HX-Request": "true"}

# --- helpers ------------------------------------------------------------------------------


def signed_in(app, user):
    """A browser of its own, logged in as `user`."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def case_for(
    navigator,
    *,
    assigned_days_ago: float = 5,
    given: str | None = None,
    family: str | None = None,
    **kw,
) -> Referral:
    """An open case assigned to `navigator` `assigned_days_ago`."""
    now = utcnow()
    names = {}
    if given:
        names["given_name"] = given
    if family:
        names["family_name"] = family
    fields = {
        "resident": make_resident(nhs_number=None, **names),
        "status": ReferralStatus.ASSIGNED,
        "navigator_id": navigator.id,
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 1,
        "received_at": now - timedelta(days=assigned_days_ago + 3),
        "triaged_at": now - timedelta(days=assigned_days_ago + 1),
        "assigned_at": now - timedelta(days=assigned_days_ago),
        **kw,
    }
    return make_referral(**fields)


def references_in(page: str) -> list[str]:
    """References of the cases listed in the caseload table, in order."""
    return re.findall(
        r'<a href="/cases/\d+">[^<]*</a><br><span class="nhsuk-u-secondary-text-colour">([^<]+)'
        r"</span>",
        page,
    )


def row_of(page: str, referral: Referral) -> str:
    """One case's row in the table, as text."""
    start = page.index(f">{referral.reference}<")
    start = page.rindex("<tr", 0, start)
    row = page[start : page.index("</tr>", start)]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()


def counts_in(page: str) -> dict[str, int]:
    """The counts above the table: {"assigned": 1, "being supported": 2, ...}."""
    found = re.findall(r'<li><span class="portal-counts__number">(\d+)</span> ([^<]+)</li>', page)
    return {label.strip(): int(number) for number, label in found}


def days_ago(days: float):
    return utcnow() - timedelta(days=days)


def spoke(referral: Referral, author, days: float, **kw):
    return make_contact(
        referral,
        author,
        occurred_at=days_ago(days),
        result=ContactResult.SPOKE,
        successful=True,
        **kw,
    )


def alert(user, referral: Referral, read: bool = False) -> Alert:
    made = Alert(
        user_id=user.id,
        referral_id=referral.id,
        kind=AlertKind.CASE_ASSIGNED,
        message=f"{referral.reference} is now on your caseload",
        read_at=utcnow() if read else None,
    )
    _db.session.add(made)
    _db.session.commit()
    return made


@pytest.fixture
def caseload(navigator, make_user):
    """Three open cases of one navigator, ordered differently by every sort, and others'."""
    today = date.today()
    alice = case_for(
        navigator,
        assigned_days_ago=30,
        given="Alice",
        family="Brown",
        status=ReferralStatus.ACTIVE,
        support_level=1,
        next_contact_on=today + timedelta(days=5),
    )
    bob = case_for(
        navigator,
        assigned_days_ago=10,
        given="Bob",
        family="Adams",
        status=ReferralStatus.ACTIVE,
        support_level=2,
        next_contact_on=today + timedelta(days=1),
    )
    carol = case_for(
        navigator,
        assigned_days_ago=5,
        given="Carol",
        family="Clark",
        support_level=3,
        next_contact_on=today + timedelta(days=2),
    )
    spoke(alice, navigator, days=20)
    # A failed attempt since does not count as contact.
    make_contact(
        alice,
        navigator,
        occurred_at=days_ago(1),
        result=ContactResult.NO_ANSWER,
        successful=False,
    )
    spoke(bob, navigator, days=2)
    other_navigator = make_user(Role.NAVIGATOR, full_name="Otto Other")
    others = case_for(other_navigator, given="Oscar", family="Orwell")
    closed = case_for(
        navigator,
        given="Cleo",
        family="Closed",
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.GOALS_MET,
    )
    in_triage = make_referral(
        resident=make_resident(nhs_number=None, given_name="Tess"),
        status=ReferralStatus.TRIAGED,
        navigator_id=navigator.id,
    )
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "others": others,
        "closed": closed,
        "in_triage": in_triage,
        "other_navigator": other_navigator,
    }


def refs(caseload, *names) -> list[str]:
    return [caseload[n].reference for n in names]


# --- a navigator's own caseload -----------------------------------------------------------


def test_navigator_sees_only_their_own_open_cases_with_counts(app, navigator, caseload):
    response = signed_in(app, navigator).get("/caseload")

    assert response.status_code == 200
    page = response.text
    assert "<h1>My caseload</h1>" in page
    assert sorted(references_in(page)) == sorted(refs(caseload, "alice", "bob", "carol"))
    for hidden in ("others", "closed", "in_triage"):
        assert caseload[hidden].reference not in page
    assert counts_in(page) == {
        "assigned": 1,
        "being supported": 2,
        "with no successful contact in 14 days": 1,
    }
    assert "3 open cases, sorted by next contact due" in page
    assert "Otto Other" not in page  # no navigator column or list for navigators


def test_navigator_cannot_look_at_someone_elses_caseload(app, navigator, caseload):
    other = caseload["other_navigator"]
    page = signed_in(app, navigator).get(f"/caseload?navigator={other.id}").text
    assert sorted(references_in(page)) == sorted(refs(caseload, "alice", "bob", "carol"))
    assert caseload["others"].reference not in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["bob", "carol", "alice"]),
        ("due", ["bob", "carol", "alice"]),
        ("last_contact", ["carol", "alice", "bob"]),
        ("name", ["bob", "alice", "carol"]),
        ("assigned", ["alice", "bob", "carol"]),
        ("level", ["carol", "bob", "alice"]),
        ("nonsense", ["bob", "carol", "alice"]),
    ],
)
def test_each_sort_orders_the_caseload(app, navigator, caseload, sort, expected):
    args = {"sort": sort} if sort else {}

    response = signed_in(app, navigator).get("/caseload", query_string=args, headers=HTMX)

    assert response.status_code == 200
    assert references_in(response.text) == refs(caseload, *expected)
    label = {
        "last_contact": "longest since last contact",
        "name": "name",
        "assigned": "date assigned",
        "level": "support level",
    }.get(sort, "next contact due")
    assert f"3 open cases, sorted by {label}" in response.text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"status": "assigned"}, ["carol"]),
        ({"status": "active"}, ["bob", "alice"]),
        ({"status": "closed"}, ["bob", "carol", "alice"]),  # not a caseload status: ignored
        ({"overdue": "1"}, ["alice"]),
        ({"overdue": "1", "status": "assigned"}, []),
        ({"q": "bro"}, ["alice"]),
        ({"q": "carol clark"}, ["carol"]),
        ({"q": "Oscar"}, []),  # another navigator's case is not found by a navigator
        ({"q": "cleo"}, []),  # nor a closed one
        ({"q": "bob-reference"}, ["bob"]),
        ({"q": "bob-reference-lower"}, ["bob"]),
        ({"q": "a", "sort": "name"}, ["bob", "alice"]),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_filters_and_search_by_htmx_return_only_the_table(app, navigator, caseload, args, expected):
    if args.get("q") == "bob-reference":
        args = {"q": caseload["bob"].reference}
    elif args.get("q") == "bob-reference-lower":
        args = {"q": caseload["bob"].reference.lower()}
    browser = signed_in(app, navigator)

    # The filter form is posted and answered with the list's address (portal/searches.py).
    response = browser.post("/caseload", data=args, headers=HTMX, follow_redirects=True)

    assert response.status_code == 200
    part = response.text
    assert "<html" not in part and "<head" not in part
    assert part.lstrip().startswith('<div id="caseload-table"')
    assert 'id="q"' not in part  # the filter form stays on the page
    assert "HX-Request" in response.headers.get("Vary", "")
    assert references_in(part) == refs(caseload, *expected)
    # The total is counted apart from the rows (portal/cases/caseload.py): it must agree.
    assert f"{len(expected)} open {'case' if len(expected) == 1 else 'cases'}" in part
    if not expected:
        assert "No cases match." in part
    full = browser.post("/caseload", data=args, follow_redirects=True)
    assert "<html" in full.text and 'id="q"' in full.text
    assert references_in(full.text) == refs(caseload, *expected)


def test_filter_form_shows_the_filters_in_use(app, navigator, caseload):
    page = (
        signed_in(app, navigator)
        .post(
            "/caseload",
            data={"q": "bro", "status": "active", "overdue": "1", "sort": "name"},
            follow_redirects=True,
        )
        .text
    )
    assert 'id="q" name="q" type="search" value="bro"' in page
    assert '<option value="active" selected>' in page
    assert '<option value="name" selected>' in page
    assert 'id="overdue" name="overdue" type="checkbox" value="1" checked' in page
    assert "1 open case with contact overdue, sorted by name" in page


def test_overdue_flag_for_a_case_last_reached_20_days_ago(app, navigator, caseload):
    page = signed_in(app, navigator).get("/caseload").text

    assert "Contact overdue" in row_of(page, caseload["alice"])
    assert "(20 days ago)" in row_of(page, caseload["alice"])
    assert "Contact overdue" not in row_of(page, caseload["bob"])
    assert "(2 days ago)" in row_of(page, caseload["bob"])
    assert "None yet" in row_of(page, caseload["carol"])
    assert "Contact overdue" not in row_of(page, caseload["carol"])
    case_page = signed_in(app, navigator).get(f"/cases/{caseload['alice'].id}").text
    header = case_page[case_page.index('id="case-header"') :]
    assert "Contact overdue" in header[: header.index("</div>")]


def test_case_never_reached_since_assignment_is_overdue_once_the_days_pass(app, navigator):
    waiting = case_for(navigator, assigned_days_ago=16, given="Wanda")
    recent = case_for(navigator, assigned_days_ago=3, given="Rita")

    page = signed_in(app, navigator).get("/caseload").text

    assert "Contact overdue" in row_of(page, waiting)
    assert "Contact overdue" not in row_of(page, recent)
    assert counts_in(page)["with no successful contact in 14 days"] == 1


def test_case_page_and_caseload_agree_on_overdue(app, navigator):
    """Half a day past the limit: the caseload flags it, so should the case's own page."""
    referral = case_for(navigator, assigned_days_ago=30, status=ReferralStatus.ACTIVE)
    spoke(referral, navigator, days=14.5)
    browser = signed_in(app, navigator)

    caseload_says = "Contact overdue" in row_of(browser.get("/caseload").text, referral)
    page = browser.get(f"/cases/{referral.id}").text
    header = page[page.index('id="case-header"') :]
    case_page_says = "Contact overdue" in header[: header.index("</div>")]

    assert caseload_says is True
    assert case_page_says is caseload_says


def test_passed_next_contact_date_is_marked(app, navigator):
    late = case_for(navigator, next_contact_on=date.today() - timedelta(days=2))
    page = signed_in(app, navigator).get("/caseload").text
    assert "(passed)" in row_of(page, late)


def test_unread_alerts_column_counts_the_viewers_unread_alerts(
    app, navigator, coordinator, caseload
):
    alert(navigator, caseload["alice"])
    alert(navigator, caseload["alice"])
    alert(navigator, caseload["bob"], read=True)
    alert(coordinator, caseload["carol"])

    page = signed_in(app, navigator).get("/caseload").text

    assert "Alerts 2 unread" in row_of(page, caseload["alice"])
    assert "Alerts None" in row_of(page, caseload["bob"])
    assert "Alerts None" in row_of(page, caseload["carol"])
    hub_page = signed_in(app, coordinator).get("/caseload").text
    assert "Alerts 1 unread" in row_of(hub_page, caseload["carol"])
    assert "Alerts None" in row_of(hub_page, caseload["alice"])


def test_case_closed_leaves_the_caseload_and_the_counts(app, navigator, caseload, db):
    browser = signed_in(app, navigator)
    before = counts_in(browser.get("/caseload").text)
    referral = db.session.get(Referral, caseload["carol"].id)
    referral.status = ReferralStatus.CLOSED
    referral.closed_at = utcnow()
    referral.closure_reason = ClosureReason.MOVED_AWAY
    db.session.commit()

    page = browser.get("/caseload").text

    assert caseload["carol"].reference not in page
    assert before["assigned"] == 1 and counts_in(page)["assigned"] == 0


def test_caseload_pages_keep_the_filters(app, navigator):
    practice = make_practice()
    made = [
        case_for(
            navigator,
            practice=practice,
            given=f"Person{n:02d}",
            family=f"Family{n:02d}",
        )
        for n in range(51)
    ]
    browser = signed_in(app, navigator)

    first = browser.get("/caseload?sort=name").text
    second = browser.get("/caseload?sort=name&page=2", headers=HTMX).text

    expected = [r.reference for r in made]  # Family00 … Family50
    assert references_in(first) == expected[:50]
    assert references_in(second) == expected[50:]
    assert "51 open cases, sorted by name" in first
    next_link = re.search(r'href="(/caseload\?[^"]*page=2[^"]*)"', first).group(1)
    assert "sort=name" in next_link
    assert references_in(browser.get(html.unescape(next_link)).text) == expected[50:]
    assert references_in(browser.get("/caseload?page=9").text) == []


def test_anonymous_visitor_is_sent_to_log_in(app, client):
    response = client.get("/caseload?sort=name")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.PRACTICE_USER, Role.COMMISSIONER])
def test_other_roles_have_no_caseload(app, make_user, role):
    response = signed_in(app, make_user(role)).get("/caseload")
    assert response.status_code == 403


# --- the hub's view -----------------------------------------------------------------------


def test_coordinator_sees_every_caseload_and_each_navigators_load(
    app, navigator, coordinator, caseload, make_user
):
    make_user(Role.NAVIGATOR, full_name="Idle Inactive", is_active=False)
    hub = signed_in(app, coordinator)

    page = hub.get("/caseload").text

    assert "<h1>All caseloads</h1>" in page
    assert sorted(references_in(page)) == sorted(refs(caseload, "alice", "bob", "carol", "others"))
    assert caseload["closed"].reference not in page
    assert "Navigator Otto Other" in row_of(page, caseload["others"])
    assert f"Navigator {navigator.full_name}" in row_of(page, caseload["alice"])
    assert counts_in(page) == {
        "assigned": 2,
        "being supported": 2,
        "with no successful contact in 14 days": 1,
    }
    assert f">{navigator.full_name}</a>: 3 open" in page
    assert ">Otto Other</a>: 1 open" in page
    assert "Idle Inactive" not in page


def test_coordinator_filters_by_navigator(app, navigator, coordinator, caseload, db):
    navigator.caseload_capacity = 20
    db.session.commit()
    hub = signed_in(app, coordinator)

    page = hub.get(f"/caseload?navigator={navigator.id}").text
    part = hub.get(
        "/caseload", query_string={"navigator": navigator.id, "sort": "name"}, headers=HTMX
    ).text
    other = hub.get(f"/caseload?navigator={caseload['other_navigator'].id}").text

    assert f"<h1>Caseload: {navigator.full_name}</h1>" in page
    assert sorted(references_in(page)) == sorted(refs(caseload, "alice", "bob", "carol"))
    assert counts_in(page) == {
        "assigned": 1,
        "being supported": 2,
        "with no successful contact in 14 days": 1,
        "of a capacity of 20": 3,
    }
    assert f'<option value="{navigator.id}" selected>' in page
    assert references_in(part) == refs(caseload, "bob", "alice", "carol")
    assert "<html" not in part
    assert references_in(other) == refs(caseload, "others")
    assert counts_in(other)["assigned"] == 1


def test_coordinator_searches_across_every_caseload(app, coordinator, caseload):
    part = (
        signed_in(app, coordinator)
        .post("/caseload", data={"q": "oscar"}, headers=HTMX, follow_redirects=True)
        .text
    )
    assert references_in(part) == refs(caseload, "others")


def test_over_capacity_navigator_is_marked(app, coordinator, make_user):
    busy = make_user(Role.NAVIGATOR, full_name="Busy Bee", caseload_capacity=1)
    case_for(busy)
    case_for(busy)

    page = signed_in(app, coordinator).get("/caseload").text

    line = page[page.index(">Busy Bee</a>") :]
    assert "2 open of 1" in line[: line.index("</li>")]
    assert "Over capacity" in line[: line.index("</li>")]


def test_a_full_caseload_costs_as_many_statements_as_one_case(app, coordinator, make_user):
    """Each row's person and navigator come with the row, not one query each."""
    first_navigator = make_user(Role.NAVIGATOR, full_name="Nia First")
    case_for(first_navigator, given="Ada", family="Ashby")
    hub = signed_in(app, coordinator)
    hub.get("/caseload")
    one_row = statements_of(app, hub, "/caseload")

    people = {"Ada Ashby": "Nia First"}
    for n in range(12):
        navigator = make_user(Role.NAVIGATOR, full_name=f"Navigator Number{n}")
        case_for(navigator, given=f"Person{n}", family=f"Family{n}")
        people[f"Person{n} Family{n}"] = f"Navigator Number{n}"
    full_page = statements_of(app, hub, "/caseload")

    assert full_page == one_row
    page = hub.get("/caseload").text
    for person, navigator_name in people.items():
        row = page[page.index(person) :]
        assert f"Navigator </span>{navigator_name}</td>" in row[: row.index("</tr>")]
