"""The admin audit trail pages: "who looked at this person?" in one step, as an admin uses it.

Events are made the way people make them (a navigator opening a case, a coordinator the
referral, a contact logged) wherever a page exists to do it.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db
from portal.templating import format_datetime
from tests.cases.test_case_views import (
    BrowserForm,
    case_for,
    contact_data,
    error_beside,
    signed_in,
)
from tests.factories import (
    make_buddy_match,
    make_referral,
    make_resident,
    make_user,
    make_volunteer,
    valid_nhs_number,
)

HTMX = {"HX-Request": "true"}
NON_ADMINS = [r for r in Role if r != Role.ADMIN]


def audit_rows(actor_id: int) -> list[tuple]:
    db.session.expire_all()
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.actor_id == actor_id)
            .order_by(AuditEvent.id)
        )
    ]


def times_of(object_type: str, object_id) -> list[str]:
    """Each matching event's time as the page shows it."""
    db.session.expire_all()
    return [
        format_datetime(e.occurred_at)
        for e in db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id)
            )
        )
    ]


def event(action, object_type, object_id, actor=None, at=None) -> AuditEvent:
    row = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_role=str(actor.role) if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        occurred_at=at or utcnow(),
    )
    db.session.add(row)
    db.session.commit()
    return row


class Addresses(HTMLParser):
    """Every address a page can send the browser to, or send a form to."""

    ATTRIBUTES = {"href", "action", "src", "hx-get", "hx-post", "hx-push-url", "formaction"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in self.ATTRIBUTES and value]


def results_table(page: str) -> str:
    match = re.search(r'<div id="audit-results".*?</table>', page, re.S)
    assert match, "no results on the page"
    return match.group(0)


def one_case_with_three_events(app):
    """A navigator opens the case, a coordinator the referral, the navigator logs a contact."""
    navigator = make_user(Role.NAVIGATOR, full_name="Nia Navigator")
    coordinator = make_user(Role.COORDINATOR, full_name="Cole Coordinator")
    referral = case_for(navigator)
    as_navigator = signed_in(app, navigator)
    assert as_navigator.get(f"/cases/{referral.id}").status_code == 200
    assert signed_in(app, coordinator).get(f"/referrals/{referral.id}").status_code == 200
    logged = as_navigator.post(f"/cases/{referral.id}/contacts", data=contact_data())
    assert logged.status_code == 302
    return navigator, coordinator, referral


# --- who looked at this person ------------------------------------------------------------------


def test_a_reference_shows_everyone_who_looked_with_names_roles_and_times(app, admin):
    navigator, coordinator, referral = one_case_with_three_events(app)
    (contact_event,) = [r for r in audit_rows(navigator.id) if r[1] == "contact"]
    # Someone else's case numbered "<id>1": as text it starts with this case's id.
    other = make_referral(resident=make_resident())
    while other.id < int(f"{referral.id}1"):
        other = make_referral(resident=make_resident())
    assert other.id == int(f"{referral.id}1")
    assert signed_in(app, coordinator).get(f"/referrals/{other.id}").status_code == 200

    browser = signed_in(app, admin)
    sent = browser.post("/admin/audit", data={"person": f"  {referral.reference.lower()} "})
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/admin/audit/resident/{referral.resident_id}"
    page = browser.get(sent.headers["Location"]).text
    table = results_table(page)

    assert f"Case {referral.reference}" in table
    assert f"Referral {referral.reference}" in table
    assert f"Contact on case {referral.reference}" in table
    assert "Nia Navigator" in table and "Navigator" in table
    assert "Cole Coordinator" in table and "Hub coordinator" in table
    for object_type, object_id in (
        ("case", referral.id),
        ("referral", referral.id),
        ("contact", contact_event[2]),
    ):
        for shown in times_of(object_type, object_id):
            assert shown in table
    assert other.reference not in page
    # The three, and the admin's own look at this trail.
    assert "4 events about" in table


def test_an_nhs_number_finds_the_same_person_across_two_referrals(app, admin):
    navigator = make_user(Role.NAVIGATOR)
    number = valid_nhs_number(31337)
    person = make_resident(nhs_number=number)
    first = case_for(navigator, resident=person, received_days_ago=300)
    second = case_for(navigator, resident=person)
    as_navigator = signed_in(app, navigator)
    for case in (first, second):
        assert as_navigator.get(f"/cases/{case.id}").status_code == 200

    browser = signed_in(app, admin)
    typed = f"{number[:3]} {number[3:6]} {number[6:]}"
    sent = browser.post("/admin/audit", data={"person": typed})
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/admin/audit/resident/{person.id}"
    table = results_table(browser.get(sent.headers["Location"]).text)
    assert f"Case {first.reference}" in table
    assert f"Case {second.reference}" in table


def test_a_volunteers_email_shows_who_looked_at_their_record(app, admin):
    coordinator = make_user(Role.COORDINATOR, full_name="Cole Coordinator")
    volunteer = make_volunteer(user_kw={"full_name": "Vic Volunteer"})
    other = make_volunteer()
    hub = signed_in(app, coordinator)
    assert hub.get(f"/volunteers/{volunteer.id}").status_code == 200
    assert hub.get(f"/volunteers/{other.id}").status_code == 200

    browser = signed_in(app, admin)
    sent = browser.post("/admin/audit", data={"person": volunteer.user.email.upper()})
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/admin/audit/volunteer/{volunteer.id}"
    table = results_table(browser.get(sent.headers["Location"]).text)
    assert "Volunteer record of Vic Volunteer" in table
    assert "Cole Coordinator" in table
    assert other.user.full_name not in table


def test_other_pages_can_link_straight_to_a_persons_trail(app, admin):
    navigator = make_user(Role.NAVIGATOR)
    referral = case_for(navigator)
    assert signed_in(app, navigator).get(f"/cases/{referral.id}").status_code == 200
    volunteer = make_volunteer()
    browser = signed_in(app, admin)

    resident_page = browser.get(f"/admin/audit/resident/{referral.resident_id}")
    assert resident_page.status_code == 200
    assert f"Case {referral.reference}" in results_table(resident_page.text)
    # The search box holds what finds this person again.
    assert BrowserForm(resident_page.text, "/admin/audit").data["person"] == [referral.reference]
    volunteer_page = browser.get(f"/admin/audit/volunteer/{volunteer.id}")
    assert volunteer_page.status_code == 200
    assert BrowserForm(volunteer_page.text, "/admin/audit").data["person"] == [volunteer.user.email]
    assert browser.get("/admin/audit/resident/999999").status_code == 404
    assert browser.get("/admin/audit/volunteer/999999").status_code == 404


# --- filters ------------------------------------------------------------------------------------


def test_dates_typed_are_whole_uk_days_and_kept_in_the_address_as_dates(app, admin):
    navigator = make_user(Role.NAVIGATOR)
    referral = make_referral()
    july = event(
        "viewed", "case", referral.id, navigator, datetime(2026, 7, 31, 22, 30, tzinfo=UTC)
    )
    # 23:30 UTC on 31 July is 00:30 on 1 August in London.
    august = event(
        "changed", "case", referral.id, navigator, datetime(2026, 7, 31, 23, 30, tzinfo=UTC)
    )
    browser = signed_in(app, admin)
    sent = browser.post(
        "/admin/audit",
        data={
            "person": referral.reference,
            "date_from[day]": "1",
            "date_from[month]": "8",
            "date_from[year]": "2026",
            "date_to[day]": "1",
            "date_to[month]": "8",
            "date_to[year]": "2026",
        },
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == (
        f"/admin/audit/resident/{referral.resident_id}?from=2026-08-01&to=2026-08-01"
    )
    page = browser.get(sent.headers["Location"]).text
    table = results_table(page)
    assert format_datetime(august.occurred_at) in table
    assert format_datetime(july.occurred_at) not in table
    kept = BrowserForm(page, "/admin/audit").data
    assert (kept["date_from[day]"], kept["date_to[month]"]) == (["1"], ["8"])


def test_done_by_action_and_type_filters_go_into_the_address_as_ids(app, admin):
    navigator = make_user(Role.NAVIGATOR, full_name="Nia Navigator")
    coordinator = make_user(Role.COORDINATOR, full_name="Cole Coordinator")
    referral = make_referral()
    event("viewed", "case", referral.id, navigator)
    event("viewed", "case", referral.id, coordinator)
    event("changed", "case", referral.id, navigator)
    browser = signed_in(app, admin)

    sent = browser.post(
        "/admin/audit", data={"user": navigator.email, "action": "viewed", "object_type": "case"}
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/admin/audit?actor={navigator.id}&action=viewed&type=case"
    page = browser.get(sent.headers["Location"]).text
    table = results_table(page)
    assert "1 event," in table and "Nia Navigator" in table
    assert "Cole Coordinator" not in table
    assert BrowserForm(page, "/admin/audit").data["user"] == [navigator.email]


def test_pages_of_results_keep_the_person_and_filters(app, admin):
    navigator = make_user(Role.NAVIGATOR)
    referral = make_referral()
    start = utcnow() - timedelta(hours=2)
    for minute in range(30):
        event("viewed", "case", referral.id, navigator, start + timedelta(minutes=minute))
    browser = signed_in(app, admin)
    page = browser.get(f"/admin/audit/resident/{referral.resident_id}?type=case").text
    assert "30 events about" in page
    following = f"/admin/audit/resident/{referral.resident_id}?page=2&amp;type=case"
    assert following in page
    second = browser.get(f"/admin/audit/resident/{referral.resident_id}?page=2&type=case")
    assert second.text.count('<tr class="nhsuk-table__row">') - 1 == 5


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("SP-ZZZZZZ", "No referral has this reference. Check it, or search by NHS number"),
        ("999 000 0000", "Enter a valid NHS number. Check it against a letter or the NHS App"),
        ("nobody@example.org", "No volunteer has this email address. Check it and try again"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_nobody_found_is_said_beside_the_box_and_keeps_everything_typed(
    app, admin, typed, message, htmx
):
    make_referral()
    browser = signed_in(app, admin)
    before = audit_rows(admin.id)
    sent = {
        "person": typed,
        "user": "nobody-here@example.org",
        "action": "viewed",
        "object_type": "contact",
        "date_from[day]": "31",
        "date_from[month]": "2",
        "date_from[year]": "2026",
        "date_to[day]": "1",
        "date_to[month]": "3",
        "date_to[year]": "2026",
    }
    response = browser.post("/admin/audit", data=sent, headers=HTMX if htmx else {})

    assert response.status_code == 400
    assert "Location" not in response.headers and "HX-Push-Url" not in response.headers
    page = response.text
    assert error_beside(page, "person") == message
    assert error_beside(page, "user") == (
        "No user has this email address. Check it, or enter their user number"
    )
    assert error_beside(page, "date_from") == "From must be a real date"
    kept = BrowserForm(page, "/admin/audit").data
    for name, value in sent.items():
        assert kept[name] == [value], name
    assert 'id="audit-results"' not in page
    # Nothing was shown about anyone, so nothing was audited.
    assert audit_rows(admin.id) == before


def test_dates_the_wrong_way_round_are_refused_beside_the_to_date(app, admin):
    browser = signed_in(app, admin)
    response = browser.post(
        "/admin/audit",
        data={
            "date_from[day]": "2",
            "date_from[month]": "8",
            "date_from[year]": "2026",
            "date_to[day]": "1",
            "date_to[month]": "8",
            "date_to[year]": "2026",
        },
    )
    assert response.status_code == 400
    assert error_beside(response.text, "date_to") == (
        "The 'To' date must be the same as or after the 'From' date"
    )


def test_a_choice_not_on_the_list_is_refused_not_ignored(app, admin):
    browser = signed_in(app, admin)
    response = browser.post("/admin/audit", data={"action": "deleted", "object_type": "x"})
    assert response.status_code == 400
    assert error_beside(response.text, "action") == "Choose what they did from the list"
    assert error_beside(response.text, "object_type") == "Choose a type of record from the list"


# --- nothing identifying in any address ---------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
def test_the_identifier_typed_never_appears_in_any_address(app, admin, htmx):
    number = valid_nhs_number(2468)
    person = make_resident(nhs_number=number)
    referral = make_referral(resident=person)
    navigator = make_user(Role.NAVIGATOR)
    event("viewed", "case", referral.id, navigator)
    volunteer = make_volunteer()
    event("viewed", "volunteer", volunteer.id, navigator)
    browser = signed_in(app, admin)

    for typed, secrets in (
        (referral.reference.lower(), [referral.reference]),
        (f"{number[:3]} {number[3:6]} {number[6:]}", [number, number[:6], number[-4:]]),
        (volunteer.user.email, [volunteer.user.email]),
    ):
        response = browser.post(
            "/admin/audit", data={"person": typed}, headers=HTMX if htmx else {}
        )
        if htmx:
            assert response.status_code == 200
            address = response.headers["HX-Push-Url"]
            page = response.text
            assert "<html" not in page and 'id="audit-results"' in page
        else:
            assert response.status_code == 303
            address = response.headers["Location"]
            page = browser.get(address).text
        assert re.fullmatch(r"/admin/audit/(resident|volunteer)/\d+", address), address
        for found in [address, *Addresses(page).found]:
            for secret in [*secrets, typed, typed.lower(), typed.upper()]:
                assert secret not in found, (typed, found)


# --- htmx ---------------------------------------------------------------------------------------


def test_htmx_gets_the_search_and_results_only_and_a_browser_the_page(app, admin):
    referral = make_referral()
    browser = signed_in(app, admin)
    path = f"/admin/audit/resident/{referral.resident_id}"

    partial = browser.get(path, headers=HTMX)
    full = browser.get(path)

    assert partial.status_code == full.status_code == 200
    assert "<html" not in partial.text and "<h1>" not in partial.text
    assert 'id="audit-results"' in partial.text and 'action="/admin/audit"' in partial.text
    assert "<html" in full.text and 'id="audit-trail"' in full.text
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in full.headers["Vary"]
    boosted = browser.get(path, headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in boosted.text


# --- who may see it, and it being seen ----------------------------------------------------------


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_only_admins_may_read_the_trail(app, role):
    referral = make_referral()
    volunteer = make_volunteer()
    browser = signed_in(app, make_user(role))
    for method, path in (
        ("GET", "/admin/audit"),
        ("POST", "/admin/audit"),
        ("GET", f"/admin/audit/resident/{referral.resident_id}"),
        ("GET", f"/admin/audit/volunteer/{volunteer.id}"),
        ("GET", "/admin/audit/events.csv"),
        ("GET", f"/admin/audit/resident/{referral.resident_id}/events.csv"),
        ("GET", f"/admin/audit/volunteer/{volunteer.id}/events.csv"),
    ):
        data = {"person": referral.reference} if method == "POST" else None
        for headers in ({}, HTMX):
            response = browser.open(path, method=method, data=data, headers=headers)
            assert response.status_code == 403, (method, path, headers)
            assert referral.reference not in response.text


def test_anonymous_visitors_are_sent_to_log_in(app):
    response = app.test_client().get("/admin/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reading_a_trail_is_itself_audited(app, admin):
    referral = make_referral()
    volunteer = make_volunteer()
    browser = signed_in(app, admin)
    browser.get("/admin/audit")
    browser.get(f"/admin/audit/resident/{referral.resident_id}")
    browser.get(f"/admin/audit/volunteer/{volunteer.id}?action=viewed")
    browser.get(f"/admin/audit/resident/{referral.resident_id}/events.csv").close()
    browser.get("/admin/audit/events.csv").close()

    assert audit_rows(admin.id)[1:] == [  # the first is the login
        ("viewed_list", "audit_trail", None),
        ("viewed", "audit_trail_resident", str(referral.resident_id)),
        ("viewed", "audit_trail_volunteer", str(volunteer.id)),
        ("exported", "audit_trail_resident", str(referral.resident_id)),
        ("exported", "audit_trail", None),
    ]
    # And the look shows in the person's own trail.
    page = browser.get(f"/admin/audit/resident/{referral.resident_id}").text
    assert f"Audit trail of the person on {referral.reference}" in results_table(page)


# --- CSV ----------------------------------------------------------------------------------------


def test_the_csv_holds_the_filtered_events_safe_to_open_in_a_spreadsheet(app, admin):
    sly = make_user(Role.NAVIGATOR, full_name='=HYPERLINK("http://x.example","click")')
    navigator = make_user(Role.NAVIGATOR, full_name="Nia Navigator")
    referral = make_referral()
    other = make_referral()
    event("viewed", "case", referral.id, sly, datetime(2026, 7, 31, 23, 30, tzinfo=UTC))
    event("viewed", "case", other.id, navigator)
    volunteer = make_volunteer()
    match = make_buddy_match(referral, volunteer, navigator)
    event("changed", "buddy_match", match.id, navigator)
    browser = signed_in(app, admin)

    response = browser.get(f"/admin/audit/resident/{referral.resident_id}/events.csv?type=case")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert referral.reference not in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:6] == [
        "When (UK time)",
        "Who",
        "Their email",
        "Role",
        "What they did",
        "Record",
    ]
    assert rows[1:] == [
        [
            "2026-08-01 00:30:00",
            '\'=HYPERLINK("http://x.example","click")',
            sly.email,
            "Navigator",
            "Viewed",
            f"Case {referral.reference}",
            "case",
            str(referral.id),
            "",
        ]
    ]


# --- hostile input ------------------------------------------------------------------------------


def test_the_search_is_refused_without_its_csrf_token(app, admin):
    browser = signed_in(app, admin)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = browser.post("/admin/audit", data={"person": "SP-ABC234"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_names_and_typed_text_are_shown_inert(app, admin):
    sly = make_user(Role.NAVIGATOR, full_name="<script>alert(1)</script>")
    referral = make_referral()
    event("viewed", "case", referral.id, sly)
    browser = signed_in(app, admin)
    page = browser.get(f"/admin/audit/resident/{referral.resident_id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    refused = browser.post("/admin/audit", data={"person": '" onmouseover="alert(1)'}).text
    assert 'onmouseover="alert(1)' not in refused
