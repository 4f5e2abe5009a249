"""The hub's triage queue, contact attempts, triage decisions, closing and editing a referral.

Where a page holds a form, the tests load the page and post what a browser would
(including the hidden `version`), so stale-page clashes happen the way they do for people.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from portal.auth.models import Role
from portal.cases.models import ContactResult
from portal.db_types import utcnow
from portal.form_fields import utc_to_local_input
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Route,
    Urgency,
)
from portal.referrals.working_days import working_days_between
from tests.factories import (
    PASSWORD,
    make_contact,
    make_neighbourhood,
    make_practice,
    make_referral,
    make_resident,
)
from tests.statements import statements_of

# --- helpers ------------------------------------------------------------------------------


class BrowserForm(HTMLParser):
    """What one form on a page would post, filled in as the page draws it."""

    def __init__(self, page: str, action: str):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(page)
        assert self.data, f"no form posting to {action} on the page"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = a.get("action") == self.action
            return
        name = a.get("name")
        if not self._in_form:
            return
        if tag == "input" and name:
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.setdefault(name, []).append(a.get("value") or "")
        elif tag == "textarea" and name:
            self.data[name] = [""]
            self._textarea = name
        elif tag == "select" and name:
            self._select = name
        elif (
            tag == "option" and self._select and (self._select not in self.data or "selected" in a)
        ):
            self.data[self._select] = [a.get("value") or ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def with_changes(self, **changes) -> dict[str, list[str]]:
        data = dict(self.data)
        for name, value in changes.items():
            data[name] = value if isinstance(value, list) else [value]
        return data


def signed_in(app, user):
    """A browser of its own, logged in as `user`."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def fresh(db, referral: Referral) -> Referral:
    """The referral as the database has it now, after requests made in other sessions."""
    db.session.expire_all()
    return db.session.get(Referral, referral.id)


def page_version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def references_in(page: str) -> list[str]:
    """References of the referrals listed in a queue table, in order."""
    return re.findall(r'<a href="/referrals/\d+">([^<]+)</a>', page)


def when(hours_ago: float) -> str:
    """A time as a person types it into the datetime-local box (UK wall clock)."""
    return utc_to_local_input(utcnow() - timedelta(hours=hours_ago))


def attempt(client, referral: Referral, result: ContactResult, hours_ago: float, notes=""):
    return client.post(
        f"/referrals/{referral.id}/attempts",
        data={
            "occurred_at": when(hours_ago),
            "method": "phone",
            "result": result.value,
            "notes": notes,
        },
    )


def person(**kw):
    """A resident who can be phoned. No NHS number: the factory's numbers can repeat."""
    return make_resident(**{"nhs_number": None, "phone": "07700 900 001", **kw})


def waiting(days_ago: float = 3, **kw) -> Referral:
    """A referral received `days_ago`."""
    if "resident" not in kw:
        kw["resident"] = person()
    return make_referral(received_at=utcnow() - timedelta(days=days_ago), **kw)


# --- the queue ----------------------------------------------------------------------------


def test_queue_lists_waiting_referrals_oldest_first_with_their_working_day_age(
    logged_in_coordinator,
):
    newest = waiting(days_ago=1)
    oldest = waiting(days_ago=14)
    contacting = waiting(days_ago=7, status=ReferralStatus.CONTACTING)
    triaged = waiting(days_ago=30, status=ReferralStatus.TRIAGED)
    closed = waiting(
        days_ago=30,
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.DECLINED,
    )

    page = logged_in_coordinator.get("/hub").text

    assert references_in(page) == [oldest.reference, contacting.reference, newest.reference]
    assert triaged.reference not in page and closed.reference not in page
    assert "3 referrals waiting for triage, oldest first" in page
    row = page[page.index(oldest.reference) :]
    row = row[: row.index("</tr>")]
    age = int(re.search(r"Working days waiting </span>(?:<strong>)?(\d+)", row).group(1))
    expected = working_days_between(oldest.received_at.date(), date.today())
    assert age == expected
    assert age <= 10  # the two weekends in those 14 calendar days are not counted


@pytest.fixture
def queue():
    """Three referrals differing in every way the queue can be filtered."""
    north, south = make_neighbourhood(name="North INT"), make_neighbourhood(name="South INT")
    ash = make_practice(neighbourhood=north, name="Ash Surgery")
    birch = make_practice(neighbourhood=south, name="Birch Health Centre")
    alice = waiting(
        days_ago=5,
        practice=ash,
        urgency=Urgency.URGENT,
        reasons=(ReferralReason.MONEY,),
        resident=person(given_name="Alice", family_name="Brown"),
    )
    bob = waiting(
        days_ago=4,
        practice=birch,
        status=ReferralStatus.CONTACTING,
        reasons=(ReferralReason.LONELINESS, ReferralReason.HOUSING),
        resident=person(given_name="Bob", family_name="Green"),
        reference="SP-7K3M9Q",
    )
    carol = waiting(
        days_ago=3,
        practice=birch,
        status=ReferralStatus.TRIAGED,
        reasons=(ReferralReason.HOUSING,),
        resident=person(given_name="Carol", family_name="Alder"),
    )
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "ash": ash,
        "birch": birch,
        "north": north,
        "south": south,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["alice", "bob"]),
        ({"status": "contacting"}, ["bob"]),
        ({"status": "triaged"}, ["carol"]),
        ({"status": "all"}, ["alice", "bob", "carol"]),
        ({"practice": "ash"}, ["alice"]),
        ({"practice": "birch"}, ["bob"]),
        ({"int": "north"}, ["alice"]),
        ({"int": "south", "status": "all"}, ["bob", "carol"]),
        ({"urgency": "urgent"}, ["alice"]),
        ({"urgency": "routine"}, ["bob"]),
        ({"reason": "housing"}, ["bob"]),
        ({"reason": "housing", "status": "all"}, ["bob", "carol"]),
        ({"reason": "bereavement"}, []),
        ({"q": "ali"}, ["alice"]),
        ({"q": "green"}, ["bob"]),
        ({"q": "bob green"}, ["bob"]),
        ({"q": "alice green"}, []),
        ({"q": "al", "status": "all"}, ["alice", "carol"]),
        ({"q": "7k3m9q"}, ["bob"]),
        ({"q": "SP-7K3M9Q"}, ["bob"]),
        ({"q": "alice-reference"}, ["alice"]),
    ],
    ids=lambda v: (
        ("&".join(f"{k}={x}" for k, x in v.items()) or "no-filter") if isinstance(v, dict) else None
    ),
)
def test_each_filter_narrows_the_queue(logged_in_coordinator, queue, query, expected):
    args = {}
    for name, value in query.items():
        if name in ("practice", "int"):
            value = str(queue[value].id)
        elif value == "alice-reference":
            value = queue["alice"].reference.lower()
        args[name] = value

    # The filter form is posted and answered with the queue's address (portal/searches.py).
    response = logged_in_coordinator.post(
        "/hub", data=args, headers={"HX-Request": "true"}, follow_redirects=True
    )

    assert response.status_code == 200
    assert references_in(response.text) == [queue[name].reference for name in expected]


@pytest.mark.parametrize("by", ["practice", "int"])
def test_practice_and_int_filters_include_referrals_whose_person_is_registered_there(
    logged_in_coordinator, queue, by
):
    """The queue shows a self-referral against the person's practice; filtering should agree."""
    self_referral = waiting(
        days_ago=2,
        source=ReferralSource.SELF,
        resident=person(given_name="Dora", practice_id=queue["ash"].id),
    )
    page = logged_in_coordinator.get("/hub").text
    row = page[page.index(self_referral.reference) :]
    assert "Ash Surgery" in row[: row.index("</tr>")]

    value = queue["ash"].id if by == "practice" else queue["north"].id
    filtered = logged_in_coordinator.get(f"/hub?{by}={value}", headers={"HX-Request": "true"})

    assert self_referral.reference in references_in(filtered.text)


def test_the_queue_sends_as_many_statements_for_a_full_page_as_for_one_row(
    app, logged_in_coordinator
):
    """Each row's practice and team come from the ones the filters list, not one query each:
    a page of rows from many practices, some known only through the person, costs no more."""
    first = waiting(days_ago=9, practice=make_practice(name="Elm Surgery"))
    logged_in_coordinator.get("/hub")
    one_row = statements_of(app, logged_in_coordinator, "/hub")

    rows = {first.reference: "Elm Surgery"}
    for n in range(12):
        team = make_neighbourhood(name=f"Team {n}")
        practice = make_practice(neighbourhood=team, name=f"Practice of row {n}")
        if n % 3:
            referral = waiting(days_ago=8 - n / 2, practice=practice)
        else:  # a self-referral: its practice is the person's
            referral = waiting(
                days_ago=8 - n / 2,
                source=ReferralSource.SELF,
                resident=person(practice_id=practice.id),
            )
        rows[referral.reference] = f"Practice of row {n}<br>"
    full_page = statements_of(app, logged_in_coordinator, "/hub")

    assert full_page == one_row
    page = logged_in_coordinator.get("/hub").text
    for reference, practice_name in rows.items():
        row = page[page.index(reference) :]
        row = row[: row.index("</tr>")]
        assert practice_name in row
    assert "Team 11" in page


def test_the_int_list_sends_as_many_statements_for_a_full_page_as_for_one_row(
    app, logged_in_coordinator, make_user
):
    """Each row's person, practice and navigator come with the row, not read again after the
    view's audit: a page of rows from many practices and navigators costs no more."""
    team = make_neighbourhood(name="Riverside INT")

    def sent_to_int(n: int, **kw) -> Referral:
        fields = {
            "status": ReferralStatus.ASSIGNED,
            "route": Route.INT,
            "support_level": 2,
            "int_neighbourhood_id": team.id,
            "int_sent_at": utcnow() - timedelta(days=10 - n),
            "practice": make_practice(neighbourhood=team, name=f"Practice of row {n}"),
            "resident": person(given_name=f"Person{n}", family_name=f"Family{n}"),
            **kw,
        }
        return waiting(days_ago=20, **fields)

    first = sent_to_int(0, navigator_id=make_user(Role.NAVIGATOR, full_name="Navigator 0").id)
    path = f"/int?int={team.id}"
    logged_in_coordinator.get(path)
    one_row = statements_of(app, logged_in_coordinator, path)

    rows = {first.reference: ("Person0 Family0", "Practice of row 0", "Navigator 0")}
    for n in range(1, 6):
        navigator = make_user(Role.NAVIGATOR, full_name=f"Navigator {n}")
        referral = sent_to_int(
            n,
            navigator_id=navigator.id,
            route=Route.BOTH if n % 2 else Route.INT,
            support_level=1 + n % 3,
            status=ReferralStatus.ACTIVE if n % 2 else ReferralStatus.ASSIGNED,
        )
        rows[referral.reference] = (
            f"Person{n} Family{n}",
            f"Practice of row {n}",
            f"Navigator {n}",
        )
    full_page = statements_of(app, logged_in_coordinator, path)

    assert full_page == one_row
    page = logged_in_coordinator.get(path).text
    assert "Riverside INT: 6 referrals, most recently sent first" in page
    for reference, (name, practice_name, navigator_name) in rows.items():
        row = page[page.index(reference) :]
        row = row[: row.index("</tr>")]
        assert f"Person </span>{name}<" in row
        assert f"Practice </span>{practice_name}<" in row
        assert f"Navigator </span>{navigator_name}<" in row


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999", "1.5", "²"])
@pytest.mark.parametrize("path", ["/hub?practice=", "/hub?int=", "/int?int="])
def test_filter_values_not_understood_are_ignored(logged_in_coordinator, queue, path, value):
    response = logged_in_coordinator.get(path + value)
    assert response.status_code == 200


def test_htmx_filter_request_gets_only_the_table(logged_in_coordinator, queue):
    full = logged_in_coordinator.get("/hub?urgency=urgent")
    partial = logged_in_coordinator.get("/hub?urgency=urgent", headers={"HX-Request": "true"})

    assert "<html" in full.text and 'id="q"' in full.text
    assert partial.status_code == 200
    assert "<html" not in partial.text and "<head" not in partial.text
    assert 'id="q"' not in partial.text  # no filter form
    assert partial.text.lstrip().startswith('<div id="hub-table"')
    assert references_in(partial.text) == [queue["alice"].reference]
    assert "HX-Request" in partial.headers.get("Vary", "")


def test_queue_pages_keep_the_filters(app, logged_in_coordinator, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    referrals = [waiting(days_ago=10 - n) for n in range(5)]  # oldest first
    make_referral(urgency=Urgency.URGENT)  # filtered out below
    expected = [r.reference for r in referrals]

    first = logged_in_coordinator.get("/hub?urgency=routine").text
    second = logged_in_coordinator.get("/hub?urgency=routine&page=2").text
    third = logged_in_coordinator.get("/hub?urgency=routine&page=3").text
    beyond = logged_in_coordinator.get("/hub?urgency=routine&page=9")

    assert references_in(first) == expected[:2]
    assert references_in(second) == expected[2:4]
    assert references_in(third) == expected[4:]
    assert "5 referrals waiting for triage" in first
    next_link = re.search(r'href="(/hub\?[^"]*page=2[^"]*)"', first).group(1)
    assert "urgency=routine" in next_link
    assert (
        references_in(logged_in_coordinator.get(next_link.replace("&amp;", "&")).text)
        == (expected[2:4])
    )
    assert beyond.status_code == 200 and references_in(beyond.text) == []


# --- contact attempts and triage ----------------------------------------------------------


def test_attempts_then_triage_to_both_assigns_the_navigator_and_sends_to_the_int(
    app, logged_in_coordinator, make_user, db
):
    team = make_neighbourhood(name="Riverside INT")
    referral = waiting(days_ago=3, practice=make_practice(neighbourhood=team))
    navigator = make_user(Role.NAVIGATOR, full_name="Nia Navigator", caseload_capacity=20)
    hub = logged_in_coordinator

    failed = attempt(hub, referral, ContactResult.NO_ANSWER, hours_ago=3, notes="Rang twice")
    assert failed.status_code == 302
    assert fresh(db, referral).status == ReferralStatus.CONTACTING
    assert fresh(db, referral).first_contact_at is None
    reached = attempt(hub, referral, ContactResult.SPOKE, hours_ago=1)
    assert reached.status_code == 302
    assert fresh(db, referral).first_contact_at is not None

    page = hub.get(f"/referrals/{referral.id}").text
    assert "Rang twice" in page and "Nia Navigator" in page
    triage = BrowserForm(page, f"/referrals/{referral.id}/triage").with_changes(
        route="both", support_level="2", navigator_id=str(navigator.id)
    )
    response = hub.post(f"/referrals/{referral.id}/triage", data=triage)

    assert response.status_code == 302
    saved = fresh(db, referral)
    assert saved.status == ReferralStatus.ASSIGNED
    assert saved.route == Route.BOTH and saved.support_level == 2
    assert saved.navigator_id == navigator.id
    assert saved.int_neighbourhood_id == team.id
    actions = [e.action for e in saved.events]
    for action in (ReferralAction.TRIAGED, ReferralAction.SENT_TO_INT, ReferralAction.ASSIGNED):
        assert action in actions
    assert referral.reference not in references_in(hub.get("/hub").text)
    int_page = hub.get(f"/int?int={team.id}").text
    assert referral.reference in references_in(int_page)
    caseload = signed_in(app, navigator).get("/caseload").text
    assert referral.reference in caseload


def test_attempt_with_htmx_returns_the_updated_panel_only(logged_in_coordinator, db):
    referral = waiting()
    response = logged_in_coordinator.post(
        f"/referrals/{referral.id}/attempts",
        data={"occurred_at": when(1), "method": "phone", "result": "no_answer"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="referral-work"' in response.text
    assert "Contact attempt recorded: No answer" in response.text


def test_triage_of_a_closed_referral_is_refused_and_changes_nothing(logged_in_coordinator, db):
    referral = waiting(
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.DECLINED,
        outcome_summary="Did not want support",
    )
    before = fresh(db, referral)
    version, events = before.version, len(before.events)

    response = logged_in_coordinator.post(
        f"/referrals/{referral.id}/triage",
        data={"route": "signpost", "note": "Gave leaflet", "version": str(version)},
    )

    assert response.status_code == 409
    assert "This referral is closed, so it cannot be changed" in response.text
    after = fresh(db, referral)
    assert after.status == ReferralStatus.CLOSED
    assert after.closure_reason == ClosureReason.DECLINED
    assert after.route is None and after.triage_note is None
    assert after.version == version and len(after.events) == events


def test_triage_from_a_stale_page_is_refused_and_says_what_changed(
    app, logged_in_coordinator, make_user, db
):
    referral = waiting(
        status=ReferralStatus.CONTACTING, first_contact_at=utcnow() - timedelta(hours=2)
    )
    make_contact(referral, make_user(Role.COORDINATOR), days_ago=0)
    navigator = make_user(Role.NAVIGATOR)
    page = logged_in_coordinator.get(f"/referrals/{referral.id}").text
    triage = BrowserForm(page, f"/referrals/{referral.id}/triage").with_changes(
        route="social_navigation", support_level="1", navigator_id=str(navigator.id)
    )

    # Meanwhile a colleague corrects the details.
    colleague = signed_in(app, make_user(Role.COORDINATOR))
    edit_page = colleague.get(f"/referrals/{referral.id}/edit").text
    edit = BrowserForm(edit_page, f"/referrals/{referral.id}/edit").with_changes(
        details="Prefers a morning call"
    )
    assert colleague.post(f"/referrals/{referral.id}/edit", data=edit).status_code == 302
    between = fresh(db, referral)
    version, events = between.version, len(between.events)

    response = logged_in_coordinator.post(f"/referrals/{referral.id}/triage", data=triage)

    assert response.status_code == 409
    assert "Someone else changed this referral while you were looking at it" in response.text
    assert "Prefers a morning call" in response.text
    assert f'name="version" value="{version}"' in response.text  # the next save can go ahead
    after = fresh(db, referral)
    assert after.status == ReferralStatus.CONTACTING
    assert after.route is None and after.navigator_id is None
    assert after.version == version and len(after.events) == events


# --- closing ------------------------------------------------------------------------------


def _close_unable_to_contact(client, referral):
    page = client.get(f"/referrals/{referral.id}").text
    form = BrowserForm(page, f"/referrals/{referral.id}/close").with_changes(
        reason="unable_to_contact"
    )
    return client.post(f"/referrals/{referral.id}/close", data=form)


def test_unable_to_contact_needs_three_failed_attempts(logged_in_coordinator, db):
    referral = waiting()
    hub = logged_in_coordinator
    for hours_ago in (5, 4):
        assert attempt(hub, referral, ContactResult.NO_ANSWER, hours_ago).status_code == 302

    refused = _close_unable_to_contact(hub, referral)

    assert refused.status_code == 400
    assert (
        "Make 3 attempts to reach the person before closing as unable to contact "
        "(2 recorded since they were last reached)"
    ) in refused.text
    assert 'id="reason-error"' in refused.text
    assert fresh(db, referral).status == ReferralStatus.CONTACTING

    assert attempt(hub, referral, ContactResult.LEFT_MESSAGE, 3).status_code == 302
    assert "3 failed attempts since the person was last reached" in (
        hub.get(f"/referrals/{referral.id}").text
    )
    accepted = _close_unable_to_contact(hub, referral)

    assert accepted.status_code == 302
    closed = fresh(db, referral)
    assert closed.status == ReferralStatus.CLOSED
    assert closed.closure_reason == ClosureReason.UNABLE_TO_CONTACT
    assert closed.closed_at is not None


def test_attempts_before_the_person_was_reached_do_not_count(logged_in_coordinator, db):
    referral = waiting()
    hub = logged_in_coordinator
    for hours_ago in (9, 8, 7):
        attempt(hub, referral, ContactResult.NO_ANSWER, hours_ago)
    attempt(hub, referral, ContactResult.SPOKE, 6)
    attempt(hub, referral, ContactResult.NO_ANSWER, 5)

    refused = _close_unable_to_contact(hub, referral)

    assert refused.status_code == 400
    assert "(1 recorded since they were last reached)" in refused.text
    assert fresh(db, referral).is_open


def test_closing_an_open_referral_records_the_reason(logged_in_coordinator, db):
    referral = waiting()
    page = logged_in_coordinator.get(f"/referrals/{referral.id}").text
    form = BrowserForm(page, f"/referrals/{referral.id}/close").with_changes(reason="moved_away")

    response = logged_in_coordinator.post(f"/referrals/{referral.id}/close", data=form)

    assert response.status_code == 302
    closed = fresh(db, referral)
    assert closed.status == ReferralStatus.CLOSED
    assert closed.closure_reason == ClosureReason.MOVED_AWAY
    assert closed.events[-1].action == ReferralAction.CLOSED


# --- editing ------------------------------------------------------------------------------


def test_second_save_from_the_same_version_is_refused_and_shows_the_first_change(
    app, coordinator, make_user, db
):
    referral = waiting(
        resident=person(),
        details="Original details",
    )
    first = signed_in(app, coordinator)
    second = signed_in(app, make_user(Role.COORDINATOR))
    action = f"/referrals/{referral.id}/edit"
    first_form = BrowserForm(first.get(action).text, action)
    second_form = BrowserForm(second.get(action).text, action)
    assert first_form.data["version"] == second_form.data["version"]

    saved = first.post(action, data=first_form.with_changes(phone="07700 900 002"))
    assert saved.status_code == 302
    typed = second_form.with_changes(
        details="Second coordinator's details", known_risks="Lives with a large dog"
    )
    clash = second.post(action, data=typed)

    assert clash.status_code == 409
    page = clash.text
    assert "Someone else saved changes to this referral after you opened it" in page
    conflict = page[page.index('id="conflict"') :]
    conflict = conflict[: conflict.index("</div>")]
    assert "Phone number" in conflict
    assert "<del>07700 900 001</del>" in conflict and "<ins>07700 900 002</ins>" in conflict
    kept = BrowserForm(page, action)
    assert kept.data["details"] == ["Second coordinator's details"]
    assert kept.data["known_risks"] == ["Lives with a large dog"]
    # The second coordinator had not touched the phone: the first one's change is taken up,
    # so saving again does not quietly undo it.
    assert kept.data["phone"] == ["07700 900 002"]
    after = fresh(db, referral)
    assert kept.data["version"] == [str(after.version)]
    assert after.resident.phone == "07700 900 002"
    assert after.details == "Original details"
    assert after.known_risks is None
    edits = [e for e in after.events if e.action == ReferralAction.EDITED]
    assert len(edits) == 1 and set(edits[0].changes) == {"Phone number"}

    saved_again = second.post(action, data=kept.data)
    assert saved_again.status_code == 302
    final = fresh(db, referral)
    assert final.resident.phone == "07700 900 002"
    assert final.details == "Second coordinator's details"


def test_closed_referral_cannot_be_edited(logged_in_coordinator, db):
    referral = waiting(
        status=ReferralStatus.CLOSED, closed_at=utcnow(), closure_reason=ClosureReason.DIED
    )
    response = logged_in_coordinator.post(
        f"/referrals/{referral.id}/edit", data={"details": "Changed", "version": "1"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert fresh(db, referral).details is None


def test_edit_page_keeps_stored_text_inside_its_box(logged_in_coordinator):
    breakout = "</textarea><script>alert(1)</script>"
    referral = waiting(details=breakout, resident=person(address=breakout))

    page = logged_in_coordinator.get(f"/referrals/{referral.id}/edit").text

    assert "<script>alert(1)</script>" not in page
    form = BrowserForm(page, f"/referrals/{referral.id}/edit")
    assert form.data["details"] == [breakout]
    assert form.data["address"] == [breakout]
