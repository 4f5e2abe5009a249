"""The case page and everything done on it: contacts, goals, measures, closing, reopening,
handing over, alerts and the person's plan.

Where a page holds a form, the tests load the page and post what a browser would (the
hidden `version` included), so a stale page clashes the way it does for people.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.cases.models import Contact, ContactMethod, ContactResult, Goal, GoalStatus
from portal.db_types import utcnow
from portal.form_fields import utc_to_local_input
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralStatus,
    Route,
)
from portal.reports.models import QueuedOutcome
from tests.factories import (
    PASSWORD,
    make_contact,
    make_goal,
    make_referral,
    make_resident,
    valid_nhs_number,
)
from tests.statements import statements_of, statements_sent

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"
HTMX = {"HX-Request": "true"}

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
            value = a.get("value") or ""
            if a.get("type") == "datetime-local":
                value = _normalised_local(value)
            self.data.setdefault(name, []).append(value)
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
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value if isinstance(value, list) else [value]
        return data


def _normalised_local(value: str) -> str:
    """A browser normalises a datetime-local value: "2026-01-02 10:30:00" -> "2026-01-02T10:30"."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(?::00(?:\.0+)?)?", value)
    return f"{match.group(1)}T{match.group(2)}" if match else value


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


def rows(db, model, *where) -> list:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(model).where(*where)))


def when(hours_ago: float) -> str:
    """A time as a person types it into the datetime-local box (UK wall clock)."""
    return utc_to_local_input(utcnow() - timedelta(hours=hours_ago))


def case_for(navigator, *, received_days_ago: float = 10, **kw) -> Referral:
    """A case assigned to `navigator`, received `received_days_ago`."""
    now = utcnow()
    fields = {
        "resident": make_resident(nhs_number=None),
        "status": ReferralStatus.ASSIGNED,
        "navigator_id": navigator.id,
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 1,
        "received_at": now - timedelta(days=received_days_ago),
        "triaged_at": now - timedelta(days=received_days_ago) + timedelta(hours=2),
        "assigned_at": now - timedelta(days=received_days_ago) + timedelta(hours=3),
        **kw,
    }
    return make_referral(**fields)


def contact_data(**changes) -> dict[str, str]:
    data = {
        "occurred_at": when(1),
        "method": "phone",
        "result": "spoke",
        "duration_minutes": "25",
        "notes": "Talked about the walking group",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def error_beside(page: str, field_id: str) -> str | None:
    """The message shown beside one field, as a person reads it."""
    match = re.search(
        rf'id="{re.escape(field_id)}-error"[^>]*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error: </span>(.*?)\s*</span>',
        page,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def form_messages(page: str) -> list[str]:
    """Messages about the whole form (a clash, a refused step), shown above it."""
    found = re.findall(
        r'<div class="nhsuk-error-message" role="alert">'
        r'<span class="nhsuk-u-visually-hidden">Error:</span>\s*(.*?)\s*</div>',
        page,
        re.S,
    )
    return [html.unescape(m) for m in found]


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    end = page.index("</section>", start)
    return page[start:end]


def flashed(page: str) -> str:
    """Page text with tags and spacing flattened, for reading flash messages and the like."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def nothing_logged(db, referral: Referral, status: ReferralStatus, version: int) -> None:
    after = fresh(db, referral)
    assert count(db, Contact, Contact.referral_id == referral.id) == 0
    assert after.status == status
    assert after.version == version
    assert after.first_contact_at is None


# --- logging a contact: what is refused ---------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"occurred_at": "3 hours from now"},
            "occurred_at",
            "The time of the contact must be in the past",
            id="in-the-future",
        ),
        pytest.param(
            {"duration_minutes": "-5"},
            "duration_minutes",
            "How long it took must be between 0 minutes and 12 hours (720 minutes)",
            id="negative-duration",
        ),
        pytest.param(
            {"duration_minutes": "721"},
            "duration_minutes",
            "How long it took must be between 0 minutes and 12 hours (720 minutes)",
            id="over-12-hours",
        ),
        pytest.param(
            {"occurred_at": None},
            "occurred_at",
            "Enter the date and time of the contact",
            id="no-time",
        ),
        pytest.param(
            {"concern_raised": "y", "safeguarding_note": "  "},
            "safeguarding_note",
            "Describe the concern so the coordinator can act on it",
            id="concern-without-note",
        ),
    ],
)
def test_contact_with_bad_details_is_refused_beside_the_field_and_keeps_the_notes(
    app, navigator, db, changes, field, message, htmx
):
    referral = case_for(navigator)
    before = fresh(db, referral)
    version = before.version
    browser = signed_in(app, navigator)
    if changes.get("occurred_at") == "3 hours from now":
        changes = {"occurred_at": when(-3)}  # worked out now, not when the module loaded
    typed = contact_data(notes="Rang from the surgery car park", **changes)

    response = browser.post(
        f"/cases/{referral.id}/contacts", data=typed, headers=HTMX if htmx else {}
    )

    assert response.status_code == 400
    page = response.text
    assert error_beside(page, field) == message
    assert ("<html" in page) is not htmx
    kept = BrowserForm(page, f"/cases/{referral.id}/contacts")
    assert kept.data["notes"] == ["Rang from the surgery car park"]
    if "duration_minutes" in changes:
        assert kept.data["duration_minutes"] == [changes["duration_minutes"]]
    nothing_logged(db, referral, ReferralStatus.ASSIGNED, version)
    assert count(db, Alert) == 0


def test_contact_before_the_referral_was_received_is_refused(app, navigator, db):
    referral = case_for(navigator, received_days_ago=5)
    version = fresh(db, referral).version
    browser = signed_in(app, navigator)
    typed = contact_data(occurred_at=when(24 * 6), notes="Spoke before it came in")

    response = browser.post(f"/cases/{referral.id}/contacts", data=typed, headers=HTMX)

    assert response.status_code == 400
    received = f"{fresh(db, referral).received_at:%d/%m/%Y}"
    assert error_beside(response.text, "occurred_at") == (
        f"The contact cannot be before the referral was received ({received})"
    )
    kept = BrowserForm(response.text, f"/cases/{referral.id}/contacts")
    assert kept.data["notes"] == ["Spoke before it came in"]
    assert kept.data["occurred_at"] == [typed["occurred_at"]]
    nothing_logged(db, referral, ReferralStatus.ASSIGNED, version)


def test_twelve_hours_exactly_is_accepted(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(occurred_at=when(13), duration_minutes="720"),
    )

    assert response.status_code == 302
    (contact,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert contact.duration_minutes == 720


def test_next_contact_date_in_the_past_is_refused(app, navigator, db):
    referral = case_for(navigator)
    version = fresh(db, referral).version
    yesterday = date.today() - timedelta(days=1)
    typed = contact_data(
        **{
            "next_contact_on[day]": str(yesterday.day),
            "next_contact_on[month]": str(yesterday.month),
            "next_contact_on[year]": str(yesterday.year),
        }
    )

    response = signed_in(app, navigator).post(f"/cases/{referral.id}/contacts", data=typed)

    assert response.status_code == 400
    assert "The next contact date must be today or later" in flashed(response.text)
    nothing_logged(db, referral, ReferralStatus.ASSIGNED, version)


# --- logging a contact: what is accepted --------------------------------------------------


def test_first_successful_contact_by_htmx_returns_the_section_and_starts_support(
    app, navigator, db
):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    page = browser.get(f"/cases/{referral.id}").text
    assert "Assigned" in section(page, "case-header").split("</p>")[0]
    form = BrowserForm(page, f"/cases/{referral.id}/contacts").with_changes(
        occurred_at=when(2), notes="Keen on the Tuesday lunch club", duration_minutes="30"
    )

    response = browser.post(f"/cases/{referral.id}/contacts", data=form, headers=HTMX)

    assert response.status_code == 200
    part = response.text
    assert "<html" not in part and "<head" not in part
    assert part.lstrip().startswith('<section id="contacts"')
    assert "Contact logged" in part
    header = part[part.index('<div id="case-header"') :]
    header = header[: header.index("</div>")]
    assert 'hx-swap-oob="true"' in header
    assert "Being supported" in header
    timeline = part[part.index('<section id="timeline"') :]
    assert timeline.startswith('<section id="timeline" aria-labelledby="timeline-heading" hx-swap')
    assert "Keen on the Tuesday lunch club" in timeline
    assert "Support started" in timeline
    assert f'data-draft-saved="contact-{referral.id}-{navigator.id}"' in part

    saved = fresh(db, referral)
    assert saved.status == ReferralStatus.ACTIVE
    (contact,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert contact.successful and contact.result == ContactResult.SPOKE
    assert contact.method == ContactMethod.PHONE and contact.duration_minutes == 30
    assert contact.author_id == navigator.id
    assert saved.first_contact_at == contact.occurred_at
    assert saved.next_contact_on == max(
        date.today(), contact.occurred_at.date() + timedelta(days=14)
    )
    assert ReferralAction.ACTIVATED in [e.action for e in saved.events]


def test_contact_without_htmx_redirects_to_the_case_with_the_saved_draft(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)

    response = browser.post(f"/cases/{referral.id}/contacts", data=contact_data())

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/cases/{referral.id}"
    assert parse_qs(location.query) == {"saved": [f"contact-{referral.id}"]}
    page = browser.get(response.headers["Location"]).text
    assert "Contact logged" in flashed(page)
    assert "Talked about the walking group" in page
    assert count(db, Contact, Contact.referral_id == referral.id) == 1


def test_unanswered_call_is_logged_but_support_has_not_started(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(result="no_answer", notes="Rang, no reply"),
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "Contact logged" in response.text
    header = response.text[response.text.index('<div id="case-header"') :]
    assert "Being supported" not in header[: header.index("</div>")]
    saved = fresh(db, referral)
    assert saved.status == ReferralStatus.ASSIGNED
    assert saved.first_contact_at is None
    (contact,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert contact.successful is False and contact.result == ContactResult.NO_ANSWER


def test_concern_raised_alerts_every_active_coordinator(app, navigator, make_user, db):
    first = make_user(Role.COORDINATOR)
    second = make_user(Role.COORDINATOR)
    away = make_user(Role.COORDINATOR, is_active=False)
    referral = case_for(navigator)
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(concern_raised="y", safeguarding_note="Bruising on both arms"),
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "Contact logged. The coordinators have been alerted to your concern." in flashed(
        response.text
    )
    alerts = rows(db, Alert, Alert.referral_id == referral.id)
    assert sorted(a.user_id for a in alerts) == sorted([first.id, second.id])
    assert away.id not in [a.user_id for a in alerts]
    assert {a.kind for a in alerts} == {AlertKind.CONCERN_RAISED}
    assert referral.reference in alerts[0].message
    (contact,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert contact.concern_raised and contact.safeguarding_note == "Bruising on both arms"

    inbox = signed_in(app, first).get("/alerts").text
    assert "Safeguarding concern raised" in inbox and referral.reference in inbox
    case_page = signed_in(app, second).get(f"/cases/{referral.id}").text
    assert "1 unread alert" in flashed(case_page)


# --- the case belongs to its navigator ----------------------------------------------------

# (method, path, htmx): every page, fragment and form a navigator could reach on a case.
CASE_ROUTES = [
    ("get", "/cases/{case}", False),
    ("get", "/cases/{case}", True),
    ("get", "/cases/{case}/contacts/{contact}/edit", False),
    ("get", "/cases/{case}/contacts/{contact}/edit", True),
    ("get", "/cases/{case}/measures/ons4", False),
    ("get", "/cases/{case}/close", False),
    ("get", "/cases/{case}/plan", False),
    ("get", "/cases/{case}/plan.pdf", False),
    ("post", "/cases/{case}/contacts", False),
    ("post", "/cases/{case}/contacts", True),
    ("post", "/cases/{case}/contacts/{contact}/edit", False),
    ("post", "/cases/{case}/contacts/{contact}/edit", True),
    ("post", "/cases/{case}/goals", False),
    ("post", "/cases/{case}/goals", True),
    ("post", "/cases/{case}/goals/{goal}", False),
    ("post", "/cases/{case}/goals/{goal}", True),
    ("post", "/cases/{case}/measures/ons4", False),
    ("post", "/cases/{case}/close", False),
    ("post", "/cases/{case}/alerts/read", False),
]


@pytest.mark.parametrize(
    ("method", "path", "htmx"),
    CASE_ROUTES,
    ids=[
        f"{m}-{p.removeprefix('/cases/{case}') or '/'}-{'htmx' if h else 'page'}"
        for m, p, h in CASE_ROUTES
    ],
)
def test_another_navigators_case_is_not_found_and_nothing_changes(
    app, navigator, make_user, db, method, path, htmx
):
    owner = make_user(Role.NAVIGATOR)
    referral = case_for(owner, resident=make_resident(nhs_number=None, given_name="Winifred"))
    contact = make_contact(referral, owner, days_ago=0, notes="Owner's note")
    goal = make_goal(referral, owner)
    # The intruder once had an alert on this case; a refused request must not mark it read.
    db.session.add(
        Alert(
            user_id=navigator.id, referral_id=referral.id, kind=AlertKind.CASE_ASSIGNED, message="x"
        )
    )
    db.session.commit()
    version = fresh(db, referral).version
    url = path.format(case=referral.id, contact=contact.id, goal=goal.id)
    data = {
        "occurred_at": when(1),
        "method": "phone",
        "result": "spoke",
        "notes": "Intruder's note",
        "description": "Intruder's goal",
        "status": "achieved",
        "version": "1",
        "stage": "baseline",
        **{f"item_{i}": "5" for i in range(4)},
        "reason": "moved_away",
        "closing_measures_declined": "y",
    }
    intruder = signed_in(app, navigator)
    audited_before = count(db, AuditEvent, AuditEvent.actor_id == navigator.id)

    if method == "get":
        response = intruder.get(url, headers=HTMX if htmx else {})
    else:
        response = intruder.post(url, data=data, headers=HTMX if htmx else {})

    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Winifred" not in response.text and referral.reference not in response.text
    after = fresh(db, referral)
    assert after.status == ReferralStatus.ASSIGNED and after.version == version
    assert [c.notes for c in rows(db, Contact, Contact.referral_id == referral.id)] == [
        "Owner's note"
    ]
    assert [(g.description, g.status) for g in rows(db, Goal, Goal.referral_id == referral.id)] == [
        ("Get out of the house", GoalStatus.OPEN)
    ]
    assert count(db, MeasureResponse, MeasureResponse.referral_id == referral.id) == 0
    assert count(db, QueuedOutcome) == 0
    assert count(db, Alert, Alert.user_id == navigator.id, Alert.read_at.is_(None)) == 1
    assert count(db, AuditEvent, AuditEvent.actor_id == navigator.id) == audited_before
    if method == "get":  # the same address works for the case's own navigator
        assert signed_in(app, owner).get(url).status_code == 200


@pytest.mark.parametrize("action", ["reopen", "reassign"])
def test_hub_only_actions_are_forbidden_to_navigators_even_on_their_own_case(
    app, navigator, make_user, db, action
):
    other = make_user(Role.NAVIGATOR)
    referral = case_for(navigator)
    version = fresh(db, referral).version

    response = signed_in(app, navigator).post(
        f"/cases/{referral.id}/{action}",
        data={"reason": "Please", "navigator_id": str(other.id), "version": str(version)},
    )

    assert response.status_code == 403
    after = fresh(db, referral)
    assert after.navigator_id == navigator.id and after.version == version


def test_coordinator_may_open_any_case(logged_in_coordinator, make_user):
    referral = case_for(make_user(Role.NAVIGATOR))
    page = logged_in_coordinator.get(f"/cases/{referral.id}")
    assert page.status_code == 200
    assert referral.reference in page.text


def test_unknown_scale_is_not_found(app, navigator):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    assert browser.get(f"/cases/{referral.id}/measures/phq9").status_code == 404
    assert browser.post(f"/cases/{referral.id}/measures/phq9", data={}).status_code == 404


def test_anonymous_htmx_post_is_sent_to_log_in_and_back_to_the_page(app, navigator, db):
    referral = case_for(navigator)
    browser = app.test_client()

    response = browser.post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(),
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://localhost/cases/{referral.id}?saved=goal-3",
        },
    )

    assert response.status_code == 401
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query) == {"next": [f"/cases/{referral.id}?saved=goal-3"]}
    assert count(db, Contact) == 0


def test_anonymous_htmx_post_from_an_unsafe_address_gets_no_next(app, navigator, db):
    referral = case_for(navigator)
    response = app.test_client().post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(),
        headers={"HX-Request": "true", "HX-Current-URL": "http://evil.example//evil.example/x"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert count(db, Contact) == 0


@pytest.mark.parametrize("what", ["contact", "goal"])
def test_saving_by_htmx_on_a_case_closed_meanwhile_says_why(app, navigator, coordinator, db, what):
    """The navigator's page is open; a coordinator closes the case; the navigator saves."""
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    page = browser.get(f"/cases/{referral.id}").text
    action = (
        f"/cases/{referral.id}/contacts" if what == "contact" else f"/cases/{referral.id}/goals"
    )
    typed = "Typed on the page before it was closed"
    field = "notes" if what == "contact" else "description"
    form = BrowserForm(page, action).with_changes(**{field: typed})
    hub = signed_in(app, coordinator)
    close = _close_form(hub, referral, reason="moved_away")
    assert hub.post(f"/cases/{referral.id}/close", data=close).status_code == 302

    response = browser.post(action, data=form, headers=HTMX)

    assert response.status_code == 400
    assert count(db, Contact) == 0 and count(db, Goal) == 0
    # htmx swaps this response in place of the section: it must say why nothing was saved.
    assert "This referral is closed, so it cannot be changed" in flashed(response.text)
    assert typed in response.text


def test_the_time_the_contact_form_shows_is_accepted_back_as_it_is(app, navigator, db):
    """Without datetime-local support the box is plain text and posts its value unchanged;
    the field says it takes a typed time, so the one it drew itself must parse."""
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    page = browser.get(f"/cases/{referral.id}").text
    shown = re.search(
        r'id="occurred_at" name="occurred_at" type="datetime-local" value="([^"]*)"', page
    ).group(1)

    response = browser.post(f"/cases/{referral.id}/contacts", data=contact_data(occurred_at=shown))

    assert error_beside(response.text, "occurred_at") is None
    assert response.status_code == 302
    assert count(db, Contact, Contact.referral_id == referral.id) == 1


# --- correcting a contact -----------------------------------------------------------------


def _logged(db, browser, referral, **changes) -> Contact:
    response = browser.post(f"/cases/{referral.id}/contacts", data=contact_data(**changes))
    assert response.status_code == 302, response.text
    return rows(db, Contact, Contact.referral_id == referral.id)[-1]


def test_author_corrects_a_contact_and_the_history_keeps_both(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    contact = _logged(db, browser, referral, notes="Spoke to daughter")
    version = contact.version
    action = f"/cases/{referral.id}/contacts/{contact.id}/edit"
    page = browser.get(f"/cases/{referral.id}").text
    assert f'href="{action}"' in page

    form = BrowserForm(browser.get(action).text, action)
    assert form.data["notes"] == ["Spoke to daughter"]
    assert form.data["method"] == ["phone"] and form.data["result"] == ["spoke"]
    response = browser.post(action, data=form.with_changes(notes="Spoke to son"))

    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {
        "saved": [f"contact-edit-{contact.id}"]
    }
    (saved,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert saved.notes == "Spoke to son" and saved.version == version + 1
    edits = [e for e in fresh(db, referral).events if e.action == ReferralAction.CONTACT_EDITED]
    assert len(edits) == 1
    assert edits[0].changes == {"Notes": ["Spoke to daughter", "Spoke to son"]}
    timeline = section(browser.get(f"/cases/{referral.id}").text, "timeline")
    assert "<del>Spoke to daughter</del>" in timeline and "<ins>Spoke to son</ins>" in timeline


@pytest.mark.parametrize("who", ["coordinator", "colleague"])
def test_someone_elses_contact_cannot_be_corrected(app, navigator, make_user, db, who):
    if who == "coordinator":
        # The coordinator may see the case, but the navigator wrote the contact.
        referral = case_for(navigator)
        author, editor = navigator, make_user(Role.COORDINATOR)
    else:
        # The navigator's case, but a coordinator logged this contact on it.
        referral = case_for(navigator)
        author, editor = make_user(Role.COORDINATOR), navigator
    contact = make_contact(referral, author, days_ago=0, notes="As written")
    action = f"/cases/{referral.id}/contacts/{contact.id}/edit"
    browser = signed_in(app, editor)
    case_page = browser.get(f"/cases/{referral.id}")
    assert case_page.status_code == 200
    assert f'href="{action}"' not in case_page.text

    shown = browser.get(action)
    changed = browser.post(
        action,
        data={
            "occurred_at": when(2),
            "method": "phone",
            "result": "spoke",
            "notes": "Rewritten",
            "version": str(contact.version),
        },
    )

    assert shown.status_code == 403 and changed.status_code == 403
    assert "You do not have access to this page" in changed.text
    (after,) = rows(db, Contact, Contact.id == contact.id)
    assert after.notes == "As written" and after.version == contact.version
    assert ReferralAction.CONTACT_EDITED not in [e.action for e in fresh(db, referral).events]


def test_contact_cannot_be_corrected_after_the_edit_window(app, navigator, db):
    referral = case_for(navigator)
    contact = make_contact(
        referral,
        navigator,
        days_ago=2,
        notes="Old note",
        result=ContactResult.SPOKE,
        created_at=utcnow() - timedelta(hours=25),
    )
    action = f"/cases/{referral.id}/contacts/{contact.id}/edit"
    browser = signed_in(app, navigator)
    assert f'href="{action}"' not in browser.get(f"/cases/{referral.id}").text

    response = browser.post(
        action,
        data={
            "occurred_at": when(48),
            "method": "phone",
            "result": "spoke",
            "notes": "Late change",
            "version": str(contact.version),
        },
    )

    assert response.status_code == 400
    assert form_messages(response.text) == [
        "A contact can only be changed in the 24 hours after it was logged. "
        "Log a new contact to add to it."
    ]
    assert BrowserForm(response.text, action).data["notes"] == ["Late change"]
    (after,) = rows(db, Contact, Contact.id == contact.id)
    assert after.notes == "Old note"


def test_correction_from_a_stale_page_is_refused_and_keeps_what_was_typed(app, navigator, db):
    referral = case_for(navigator)
    first_tab = signed_in(app, navigator)
    second_tab = signed_in(app, navigator)
    contact = _logged(db, first_tab, referral, notes="Original")
    action = f"/cases/{referral.id}/contacts/{contact.id}/edit"
    first = BrowserForm(first_tab.get(action).text, action)
    second = BrowserForm(second_tab.get(action).text, action)
    assert first.data["version"] == second.data["version"] == [str(contact.version)]

    assert first_tab.post(action, data=first.with_changes(notes="First fix")).status_code == 302
    clash = second_tab.post(
        action, data=second.with_changes(notes="Second fix", duration_minutes="40")
    )

    assert clash.status_code == 409
    assert form_messages(clash.text) == [
        "This contact was changed since you opened it (perhaps in another tab). "
        "Check it, then make your change again."
    ]
    kept = BrowserForm(clash.text, action)
    assert kept.data["notes"] == ["Second fix"]
    assert kept.data["duration_minutes"] == ["40"]
    (saved,) = rows(db, Contact, Contact.id == contact.id)
    assert saved.notes == "First fix" and saved.duration_minutes == 25
    assert kept.data["version"] == [str(saved.version)]
    edits = [e for e in fresh(db, referral).events if e.action == ReferralAction.CONTACT_EDITED]
    assert len(edits) == 1

    again = second_tab.post(action, data=kept.data)
    assert again.status_code == 302
    (final,) = rows(db, Contact, Contact.id == contact.id)
    assert final.notes == "Second fix" and final.duration_minutes == 40


# --- free text is shown, never run --------------------------------------------------------


def _inert(text: str) -> None:
    assert XSS_SCRIPT not in text
    assert XSS_IMG not in text
    assert ESCAPED_SCRIPT in text
    assert ESCAPED_IMG in text


def test_typed_markup_is_shown_as_text_on_the_case_timeline_and_plan(app, navigator, make_user, db):
    make_user(Role.COORDINATOR)
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    typed = f"{XSS_SCRIPT} and {XSS_IMG}"

    logged = browser.post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(notes=typed, concern_raised="y", safeguarding_note=typed),
        headers=HTMX,
    )
    goal = browser.post(f"/cases/{referral.id}/goals", data={"description": typed}, headers=HTMX)

    assert logged.status_code == 200 and goal.status_code == 200
    _inert(logged.text)
    _inert(section(logged.text, "timeline"))
    _inert(goal.text)
    (contact,) = rows(db, Contact, Contact.referral_id == referral.id)
    assert contact.notes == typed and contact.safeguarding_note == typed  # stored as typed
    (saved_goal,) = rows(db, Goal, Goal.referral_id == referral.id)
    assert saved_goal.description == typed

    page = browser.get(f"/cases/{referral.id}").text
    _inert(page)
    contacts = section(page, "contacts")
    _inert(contacts[contacts.index("<table") :])
    _inert(section(page, "goals"))
    timeline = section(page, "timeline")
    _inert(timeline)
    assert f"Safeguarding concern: {ESCAPED_SCRIPT}" in timeline
    _inert(browser.get(f"/cases/{referral.id}/plan").text)
    coordinator_view = signed_in(app, make_user(Role.COORDINATOR)).get(f"/cases/{referral.id}")
    _inert(coordinator_view.text)


def test_typed_markup_stays_inside_the_notes_box_when_the_form_comes_back(app, navigator, db):
    referral = case_for(navigator)
    breakout = f"</textarea>{XSS_SCRIPT}"

    response = signed_in(app, navigator).post(
        f"/cases/{referral.id}/contacts",
        data=contact_data(notes=breakout, duration_minutes="721"),
        headers=HTMX,
    )

    assert response.status_code == 400
    assert XSS_SCRIPT not in response.text
    kept = BrowserForm(response.text, f"/cases/{referral.id}/contacts")
    assert kept.data["notes"] == [breakout]
    assert count(db, Contact) == 0


# --- goals --------------------------------------------------------------------------------


def test_goal_added_then_achieved(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)

    added = browser.post(
        f"/cases/{referral.id}/goals",
        data={"description": "  Go to the Tuesday lunch club  "},
        headers=HTMX,
    )

    assert added.status_code == 200
    assert added.text.lstrip().startswith('<section id="goals"')
    assert "Goal added" in added.text
    assert "“Go to the Tuesday lunch club”" in added.text
    assert 'id="timeline"' in added.text and 'hx-swap-oob="true"' in added.text
    (goal,) = rows(db, Goal, Goal.referral_id == referral.id)
    assert goal.description == "Go to the Tuesday lunch club"
    assert goal.status == GoalStatus.OPEN and goal.set_on == date.today()
    assert goal.created_by_id == navigator.id

    page = browser.get(f"/cases/{referral.id}").text
    form = BrowserForm(page, f"/cases/{referral.id}/goals/{goal.id}")
    assert form.data["version"] == [str(goal.version)]
    achieved = browser.post(
        f"/cases/{referral.id}/goals/{goal.id}",
        data=form.with_changes(status="achieved"),
        headers=HTMX,
    )

    assert achieved.status_code == 200
    assert "Goal marked achieved" in achieved.text
    assert f"Achieved · set {date.today().day}" in flashed(achieved.text)
    (goal,) = rows(db, Goal, Goal.referral_id == referral.id)
    assert goal.status == GoalStatus.ACHIEVED and goal.closed_on == date.today()
    changes = [e for e in fresh(db, referral).events if e.action == ReferralAction.GOAL_CHANGED]
    assert len(changes) == 1 and "open → achieved" in changes[0].note
    plan = browser.get(f"/cases/{referral.id}/plan").text
    assert "Already done:" in plan and "Go to the Tuesday lunch club" in plan


def test_empty_goal_is_refused(app, navigator, db):
    referral = case_for(navigator)
    response = signed_in(app, navigator).post(
        f"/cases/{referral.id}/goals", data={"description": "   "}, headers=HTMX
    )
    assert response.status_code == 400
    assert error_beside(response.text, "description") == "Write the goal in the person's own words"
    assert count(db, Goal) == 0


def test_goal_changed_from_a_stale_page_is_refused(app, navigator, db):
    referral = case_for(navigator)
    goal = make_goal(referral, navigator, description="Join a choir")
    browser = signed_in(app, navigator)
    form = BrowserForm(
        browser.get(f"/cases/{referral.id}").text, f"/cases/{referral.id}/goals/{goal.id}"
    )
    url = f"/cases/{referral.id}/goals/{goal.id}"
    assert browser.post(url, data=form.with_changes(status="dropped")).status_code == 302

    clash = browser.post(url, data=form.with_changes(status="achieved"), headers=HTMX)

    assert clash.status_code == 400
    assert "This goal was changed by someone else just now. Check it and try again." in (clash.text)
    (after,) = rows(db, Goal, Goal.id == goal.id)
    assert after.status == GoalStatus.DROPPED


# --- wellbeing measures -------------------------------------------------------------------


def _measure(browser, referral, scale: str, stage: str, answers: list[int]):
    data = {"stage": stage, **{f"item_{i}": str(a) for i, a in enumerate(answers)}}
    return browser.post(f"/cases/{referral.id}/measures/{scale}", data=data)


@pytest.mark.parametrize(
    ("scale", "answers", "field", "message"),
    [
        pytest.param(
            "ons4",
            {"item_0": "7", "item_1": "6", "item_2": "8"},
            "item_3",
            "Answer \"On a scale where 0 is 'not at all anxious' and 10 is 'completely anxious', "
            'overall, how anxious did you feel yesterday?"',
            id="ons4-one-missing",
        ),
        pytest.param(
            "ons4",
            {"item_0": "11", "item_1": "6", "item_2": "8", "item_3": "2"},
            "item_0",
            "Life satisfaction must be a whole number from 0 to 10",
            id="ons4-11",
        ),
        pytest.param(
            "swemwbs",
            {"item_0": "0", **{f"item_{i}": "3" for i in range(1, 7)}},
            "item_0",
            "Optimistic must be a whole number from 1 to 5",
            id="swemwbs-0",
        ),
        pytest.param(
            "ucla3",
            {"item_0": "2", "item_2": "3"},
            "item_1",
            'Answer "How often do you feel left out?"',
            id="ucla3-one-missing",
        ),
    ],
)
def test_measure_with_a_missing_or_impossible_answer_is_refused(
    app, navigator, db, scale, answers, field, message
):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    action = f"/cases/{referral.id}/measures/{scale}"

    response = signed_in(app, navigator).post(action, data={"stage": "baseline", **answers})

    assert response.status_code == 400
    assert error_beside(response.text, field) == message
    kept = BrowserForm(response.text, action)
    assert kept.data["stage"] == ["baseline"]
    for name, value in answers.items():
        if name != field:
            assert kept.data[name] == [value], name
    assert count(db, MeasureResponse) == 0


def test_measures_from_baseline_to_closing_show_the_change_in_words_and_charts(app, navigator, db):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    form_page = browser.get(f"/cases/{referral.id}/measures/swemwbs?stage=baseline").text
    assert BrowserForm(form_page, f"/cases/{referral.id}/measures/swemwbs").data["stage"] == [
        "baseline"
    ]

    baseline = {"ons4": [3, 3, 3, 8], "swemwbs": [2] * 7, "ucla3": [3, 3, 3]}
    closing = {"ons4": [7, 7, 7, 3], "swemwbs": [4] * 7, "ucla3": [1, 1, 1]}
    for scale, answers in baseline.items():
        response = _measure(browser, referral, scale, "baseline", answers)
        assert response.status_code == 302, response.text
    page = browser.get(f"/cases/{referral.id}").text
    assert "The change shows once a review or closing measure is recorded" in page
    for scale, answers in closing.items():
        response = _measure(browser, referral, scale, "closing", answers)
        assert response.status_code == 302, response.text
    assert "UCLA 3-item loneliness scale (closing) recorded" in flashed(
        browser.get(response.headers["Location"]).text
    )

    saved = rows(db, MeasureResponse, MeasureResponse.referral_id == referral.id)
    assert sorted((r.scale, r.stage) for r in saved) == sorted(
        (Scale(s), st) for s in baseline for st in (Stage.BASELINE, Stage.CLOSING)
    )
    swemwbs = {r.stage: r.score for r in saved if r.scale == Scale.SWEMWBS}
    assert swemwbs == {Stage.BASELINE: 15.32, Stage.CLOSING: 25.03}
    measures = section(browser.get(f"/cases/{referral.id}").text, "measures")
    words = flashed(measures)
    assert "Life satisfaction went up from 3 (low) to 7 (high): better." in words
    assert "Anxiety went down from 8 (high) to 3 (low): better." in words
    assert "Mental wellbeing (SWEMWBS metric score) went up from 15.32 to 25.03: better." in words
    assert "Loneliness (UCLA-3 score) went down from 9 (lonely) to 3 (not lonely): better." in words
    assert measures.count("<svg") == 4 + 1 + 1  # one chart per ONS4 item, one per other scale


def test_second_baseline_is_refused(app, navigator, db):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    assert _measure(browser, referral, "ucla3", "baseline", [2, 2, 2]).status_code == 302

    again = _measure(browser, referral, "ucla3", "baseline", [1, 1, 1])

    assert again.status_code == 400
    assert error_beside(again.text, "stage").startswith(
        "The baseline UCLA 3-item loneliness scale was already recorded on"
    )
    assert count(db, MeasureResponse) == 1


# --- closing ------------------------------------------------------------------------------


def _close_form(browser, referral, **changes) -> dict:
    action = f"/cases/{referral.id}/close"
    return BrowserForm(browser.get(action).text, action).with_changes(**changes)


def test_closing_without_an_outcome_is_refused_and_keeps_the_summary(app, navigator, db):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    version = fresh(db, referral).version
    form = _close_form(
        browser, referral, summary="Now goes to the lunch club", closing_measures_declined="y"
    )
    assert "reason" not in form

    response = browser.post(f"/cases/{referral.id}/close", data=form)

    assert response.status_code == 400
    assert error_beside(response.text, "reason") == "Choose the outcome of the support"
    kept = BrowserForm(response.text, f"/cases/{referral.id}/close")
    assert kept.data["summary"] == ["Now goes to the lunch club"]
    assert kept.data["closing_measures_declined"] == ["y"]
    after = fresh(db, referral)
    assert after.status == ReferralStatus.ACTIVE and after.version == version
    assert after.closed_at is None and after.closure_reason is None
    assert count(db, QueuedOutcome) == 0
    assert count(db, MeasureResponse) == 0


def test_closing_without_closing_measures_or_the_tick_is_refused(app, navigator, db):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    form = _close_form(browser, referral, reason="goals_met", summary="Doing well")

    response = browser.post(f"/cases/{referral.id}/close", data=form)

    assert response.status_code == 400
    assert error_beside(response.text, "closing_measures_declined") == (
        "Record the closing wellbeing measures first (ONS4 personal wellbeing, Short "
        "Warwick-Edinburgh Mental Wellbeing Scale, UCLA 3-item loneliness scale still to do), "
        "or tick that the person chose not to answer them"
    )
    assert BrowserForm(response.text, f"/cases/{referral.id}/close").data["summary"] == [
        "Doing well"
    ]
    assert fresh(db, referral).status == ReferralStatus.ACTIVE
    assert count(db, QueuedOutcome) == 0 and count(db, MeasureResponse) == 0


def test_closing_with_an_outcome_takes_the_case_off_the_caseload_and_queues_the_report(
    app, navigator, db
):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    assert referral.reference in browser.get("/caseload").text
    for scale, answers in {"ons4": [5, 5, 5, 5], "swemwbs": [3] * 7, "ucla3": [2, 2, 2]}.items():
        assert _measure(browser, referral, scale, "closing", answers).status_code == 302
    form = _close_form(
        browser, referral, reason="goals_met", summary="Goes to the lunch club every week"
    )
    assert "closing_measures_declined" not in form

    response = browser.post(f"/cases/{referral.id}/close", data=form)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/caseload"
    assert parse_qs(location.query) == {"saved": [f"close-{referral.id}"]}
    caseload = browser.get(response.headers["Location"]).text
    practice_name = fresh(db, referral).practice.name
    assert (
        f"Case closed: Goals met. The outcome will go to {practice_name} in their next report."
        in flashed(caseload)
    )
    assert referral.reference not in caseload
    closed = fresh(db, referral)
    assert closed.status == ReferralStatus.CLOSED
    assert closed.closure_reason == ClosureReason.GOALS_MET
    assert closed.outcome_summary == "Goes to the lunch club every week"
    (queued,) = rows(db, QueuedOutcome, QueuedOutcome.referral_id == referral.id)
    assert queued.practice_id == closed.practice_id and queued.report_id is None
    assert not any(r.declined for r in rows(db, MeasureResponse))
    case_page = browser.get(f"/cases/{referral.id}").text
    assert f"Waiting for {practice_name}" in flashed(case_page)


def test_closing_with_the_declined_tick_records_each_missing_measure_as_declined(
    app, navigator, db
):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    browser = signed_in(app, navigator)
    assert _measure(browser, referral, "ucla3", "closing", [2, 2, 2]).status_code == 302
    form = _close_form(
        browser,
        referral,
        reason="declined",
        summary="Did not want more support",
        closing_measures_declined="y",
    )

    response = browser.post(f"/cases/{referral.id}/close", data=form)

    assert response.status_code == 302
    assert fresh(db, referral).status == ReferralStatus.CLOSED
    closing = rows(db, MeasureResponse, MeasureResponse.stage == Stage.CLOSING)
    assert sorted((r.scale, r.declined) for r in closing) == sorted(
        [(Scale.ONS4, True), (Scale.SWEMWBS, True), (Scale.UCLA3, False)]
    )
    assert all(r.answers is None for r in closing if r.declined)
    assert count(db, QueuedOutcome, QueuedOutcome.referral_id == referral.id) == 1
    page = flashed(browser.get(f"/cases/{referral.id}").text)
    assert "The person chose not to answer: closing" in page


def test_closing_from_a_stale_page_is_refused_and_keeps_what_was_typed(app, navigator, db):
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    form = _close_form(browser, referral, reason="moved_away", summary="Moved to Leeds")
    # Meanwhile, in another tab, the navigator logs a call: the case changes.
    assert _logged(db, signed_in(app, navigator), referral).successful
    between = fresh(db, referral)
    version, events = between.version, len(between.events)

    clash = browser.post(f"/cases/{referral.id}/close", data=form)

    assert clash.status_code == 409
    assert form_messages(clash.text) == [
        "Someone else changed this case while you were closing it. "
        "Check the case history, then close it again."
    ]
    kept = BrowserForm(clash.text, f"/cases/{referral.id}/close")
    assert kept.data["summary"] == ["Moved to Leeds"]
    assert kept.data["reason"] == ["moved_away"]
    assert kept.data["version"] == [str(version)]
    after = fresh(db, referral)
    assert after.status == ReferralStatus.ACTIVE and after.closed_at is None
    assert after.version == version and len(after.events) == events
    assert count(db, QueuedOutcome) == 0

    assert browser.post(f"/cases/{referral.id}/close", data=kept.data).status_code == 302
    assert fresh(db, referral).closure_reason == ClosureReason.MOVED_AWAY


# --- reopening and handing over -----------------------------------------------------------


def _closed_case(app, navigator, db) -> Referral:
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    _logged(db, browser, referral)
    form = _close_form(browser, referral, reason="moved_away")
    assert browser.post(f"/cases/{referral.id}/close", data=form).status_code == 302
    assert count(db, QueuedOutcome, QueuedOutcome.referral_id == referral.id) == 1
    return referral


def test_coordinator_reopens_a_case_and_the_navigator_is_told(app, navigator, coordinator, db):
    referral = _closed_case(app, navigator, db)
    own = signed_in(app, navigator)
    assert referral.reference not in own.get("/caseload").text
    hub = signed_in(app, coordinator)
    assert "Reopen this case" in hub.get(f"/cases/{referral.id}").text

    response = hub.post(f"/cases/{referral.id}/reopen", data={"reason": "Moved back to the area"})

    assert response.status_code == 302
    assert "Case reopened. The navigator has been told." in flashed(
        hub.get(response.headers["Location"]).text
    )
    reopened = fresh(db, referral)
    assert reopened.status == ReferralStatus.ACTIVE  # the person had been reached
    assert reopened.closed_at is None and reopened.closure_reason is None
    assert count(db, QueuedOutcome, QueuedOutcome.referral_id == referral.id) == 0
    (alert,) = rows(db, Alert, Alert.user_id == navigator.id)
    assert alert.kind == AlertKind.CASE_REOPENED and alert.referral_id == referral.id
    assert "Moved back to the area" in alert.message
    assert referral.reference in own.get("/caseload").text
    inbox = own.get("/alerts").text
    assert "Case reopened" in inbox and "Moved back to the area" in inbox


def test_reopen_without_a_reason_is_refused(app, navigator, coordinator, db):
    referral = _closed_case(app, navigator, db)

    response = signed_in(app, coordinator).post(f"/cases/{referral.id}/reopen", data={"reason": ""})

    assert response.status_code == 400
    assert error_beside(response.text, "reason") == "Say why the case is being reopened"
    assert fresh(db, referral).status == ReferralStatus.CLOSED
    assert count(db, Alert, Alert.kind == AlertKind.CASE_REOPENED) == 0


def test_coordinator_hands_a_case_to_another_navigator(app, make_user, coordinator, db):
    old = make_user(Role.NAVIGATOR, full_name="Olive Oldham")
    new = make_user(Role.NAVIGATOR, full_name="Nadia Newman")
    referral = case_for(old)
    hub = signed_in(app, coordinator)
    action = f"/cases/{referral.id}/reassign"
    form = BrowserForm(hub.get(f"/cases/{referral.id}").text, action)

    response = hub.post(action, data=form.with_changes(navigator_id=str(new.id)))

    assert response.status_code == 302
    page = hub.get(response.headers["Location"]).text
    assert "Case given to Nadia Newman. They have been told." in flashed(page)
    assert "Nadia Newman (was Olive Oldham)" in section(page, "timeline")
    moved = fresh(db, referral)
    assert moved.navigator_id == new.id
    (alert,) = rows(db, Alert, Alert.user_id == new.id)
    assert alert.kind == AlertKind.CASE_ASSIGNED and alert.referral_id == referral.id
    assert "handed over from Olive Oldham" in alert.message
    assert count(db, Alert, Alert.user_id == old.id) == 0

    newcomer = signed_in(app, new)
    inbox = newcomer.get("/alerts").text
    assert "Case assigned to you" in inbox and referral.reference in inbox
    caseload = newcomer.get("/caseload").text
    row = caseload[caseload.index(referral.reference) :]
    assert "1 unread" in row[: row.index("</tr>")]
    assert signed_in(app, old).get(f"/cases/{referral.id}").status_code == 404


def test_handing_over_from_a_stale_page_is_refused(app, make_user, coordinator, db):
    old = make_user(Role.NAVIGATOR)
    first, second = make_user(Role.NAVIGATOR), make_user(Role.NAVIGATOR)
    referral = case_for(old)
    hub = signed_in(app, coordinator)
    action = f"/cases/{referral.id}/reassign"
    form = BrowserForm(hub.get(f"/cases/{referral.id}").text, action)
    assert hub.post(action, data=form.with_changes(navigator_id=str(first.id))).status_code == 302

    clash = hub.post(action, data=form.with_changes(navigator_id=str(second.id)))

    assert clash.status_code == 409
    assert "Someone else changed this case just now. Check it, then try again." in (
        form_messages(clash.text)
    )
    assert fresh(db, referral).navigator_id == first.id
    assert count(db, Alert, Alert.user_id == second.id) == 0


# --- alerts -------------------------------------------------------------------------------


def test_alerts_are_read_on_the_case_and_in_the_inbox(app, navigator, db):
    one = case_for(navigator)
    two = case_for(navigator)
    for referral, text in ((one, "First alert text"), (two, "Second alert text")):
        db.session.add(
            Alert(
                user_id=navigator.id,
                referral_id=referral.id,
                kind=AlertKind.CASE_ASSIGNED,
                message=text,
            )
        )
    db.session.commit()
    browser = signed_in(app, navigator)
    assert "Alerts (2 unread)" in browser.get("/alerts").text

    response = browser.post(f"/cases/{one.id}/alerts/read")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/cases/{one.id}"
    assert count(db, Alert, Alert.referral_id == one.id, Alert.read_at.is_(None)) == 0
    assert count(db, Alert, Alert.referral_id == two.id, Alert.read_at.is_(None)) == 1
    unread = browser.get("/alerts").text
    assert "Second alert text" in unread and "First alert text" not in unread
    every = browser.get("/alerts?show=all").text
    assert "Second alert text" in every and "First alert text" in every

    (second,) = rows(db, Alert, Alert.referral_id == two.id)
    marked = browser.post("/alerts/read", data={"alert_id": str(second.id)})
    assert marked.status_code == 302
    assert "1 alert marked as read" in flashed(browser.get(marked.headers["Location"]).text)
    assert count(db, Alert, Alert.read_at.is_(None)) == 0
    assert "You have no unread alerts." in browser.get("/alerts").text


# --- the person's details -----------------------------------------------------------------


@pytest.mark.parametrize("volunteer", [False, True], ids=["employed", "volunteer"])
def test_nhs_number_is_shown_to_employed_navigators_only(app, make_user, db, volunteer):
    navigator = make_user(Role.NAVIGATOR, is_volunteer_navigator=volunteer)
    number = valid_nhs_number(54_321)
    referral = case_for(navigator, resident=make_resident(nhs_number=number))

    page = signed_in(app, navigator).get(f"/cases/{referral.id}").text

    shown = f"{number[:3]} {number[3:6]} {number[6:]}"
    if volunteer:
        assert "NHS number" not in page
        assert shown not in page and number not in page
    else:
        assert "NHS number" in page and shown in page


# --- the person's own plan ----------------------------------------------------------------


def test_plan_page_and_pdf_for_the_cases_navigator(app, navigator, db):
    referral = case_for(navigator)
    make_goal(referral, navigator, description="Walk to the shops on my own")
    make_goal(
        referral,
        navigator,
        description="An old idea",
        status=GoalStatus.DROPPED,
        closed_on=date.today(),
    )
    browser = signed_in(app, navigator)

    page = browser.get(f"/cases/{referral.id}/plan")
    pdf = browser.get(f"/cases/{referral.id}/plan.pdf")

    assert page.status_code == 200
    assert "My plan" in page.text and "Walk to the shops on my own" in page.text
    assert "An old idea" not in page.text
    assert navigator.full_name in page.text and referral.reference in page.text
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == (
        f'attachment; filename="my-plan-{referral.reference}.pdf"'
    )
    exported = rows(db, AuditEvent, AuditEvent.action == "exported")
    assert [(e.object_type, e.object_id, e.actor_id) for e in exported] == [
        ("plan", str(referral.id), navigator.id)
    ]


# --- the case page's reads ----------------------------------------------------------------


def _records_by_strangers(db, referral: Referral, n: int) -> list[str]:
    """One more of each record on the case, each made by people (and, for an activity, an
    organisation) the page has not met yet; returns the names the timeline should show."""
    from portal.directory.models import ActivityAttendance, ActivityReferral, ActivityReferralStatus
    from portal.volunteers.models import BuddyMatch, BuddyMatchStatus
    from tests.factories import make_activity, make_organisation, make_user, make_volunteer

    def stranger(what: str):
        return make_user(Role.COORDINATOR, full_name=f"{what} Person{n}")

    make_contact(referral, stranger("Caller"), days_ago=2, result=ContactResult.SPOKE)
    make_goal(referral, stranger("Goalsetter"), description=f"Goal number {n}")
    recorder = stranger("Recorder")
    db.session.add(
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.UCLA3,
            stage=Stage.REVIEW,
            answers=[2, 2, 2],
            score=6.0,
            recorded_by_id=recorder.id,
        )
    )
    organisation = make_organisation(name=f"Charity Number{n}")
    activity = make_activity(organisation, title=f"Walk number {n}")
    link = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=ActivityReferralStatus.ACCEPTED,
        created_by_id=stranger("Referrer").id,
        responded_by_id=make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id).id,
        responded_at=utcnow() - timedelta(days=1),
    )
    db.session.add(link)
    db.session.flush()
    db.session.add(
        ActivityAttendance(
            activity_referral_id=link.id,
            session_on=date.today() - timedelta(days=1),
            attended=True,
            recorded_by_id=link.responded_by_id,
        )
    )
    buddy = make_volunteer(user_kw={"full_name": f"Buddy Number{n}"})
    db.session.add(
        BuddyMatch(
            referral_id=referral.id,
            volunteer_id=buddy.id,
            proposed_by_id=stranger("Proposer").id,
            status=BuddyMatchStatus.PROPOSED,
        )
    )
    db.session.commit()
    return [
        f"Caller Person{n}",
        f"Goal number {n}",
        f"Recorder Person{n}",
        f"Charity Number{n}",
        f"Walk number {n}",
        f"Referrer Person{n}",
        f"Buddy Number{n}",
        f"Proposer Person{n}",
    ]


def test_the_case_page_costs_as_many_statements_with_many_records_as_with_one(app, navigator, db):
    """The lists and the timeline share one read of each record type, with the people and
    organisations behind them: nothing is read once per record."""
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    path = f"/cases/{referral.id}"
    browser = signed_in(app, navigator)
    names = _records_by_strangers(db, referral, 0)
    browser.get(path)
    one_of_each = statements_of(app, browser, path)

    for n in range(1, 6):
        names += _records_by_strangers(db, referral, n)
    six_of_each = statements_of(app, browser, path)

    assert six_of_each == one_of_each
    page = html.unescape(browser.get(path).text)
    for name in names:
        assert name in page, name


def case_header(page: str) -> str:
    start = page.index('id="case-header"')
    return page[start : page.index("</div>", start)]


def test_the_case_header_counts_from_the_last_time_someone_got_through(app, navigator, db):
    """Failed attempts do not reset the overdue flag; a successful contact does."""
    from portal.templating import format_date

    referral = case_for(navigator, received_days_ago=40, status=ReferralStatus.ACTIVE)
    spoke = make_contact(referral, navigator, days_ago=20, result=ContactResult.SPOKE)
    make_contact(referral, navigator, days_ago=1, successful=False, result=ContactResult.NO_ANSWER)
    browser = signed_in(app, navigator)

    header = case_header(browser.get(f"/cases/{referral.id}").text)
    assert f"Last successful contact: {format_date(spoke.occurred_at)}" in header
    assert "Contact overdue" in header

    latest = make_contact(referral, navigator, days_ago=2, result=ContactResult.SPOKE)
    header = case_header(browser.get(f"/cases/{referral.id}").text)
    assert f"Last successful contact: {format_date(latest.occurred_at)}" in header
    assert "Contact overdue" not in header


def test_a_case_never_reached_is_overdue_from_its_assignment(app, navigator, db):
    referral = case_for(navigator, received_days_ago=30, status=ReferralStatus.ASSIGNED)
    make_contact(referral, navigator, days_ago=1, successful=False, result=ContactResult.NO_ANSWER)
    header = case_header(signed_in(app, navigator).get(f"/cases/{referral.id}").text)
    assert "Last successful contact: none yet" in header
    assert "Contact overdue" in header


def test_a_self_referral_costs_as_many_statements_as_one_from_a_practice(app, navigator, db):
    """The page names the person's own practice when the referral did not come from one;
    that practice comes with the case, not in a query of its own."""
    from portal.referrals.models import ReferralSource
    from tests.factories import make_practice

    from_practice = case_for(navigator)
    own_practice = make_practice(name="Canal Street Surgery")
    self_referred = case_for(
        navigator,
        source=ReferralSource.SELF,
        resident=make_resident(nhs_number=None, practice_id=own_practice.id),
    )
    browser = signed_in(app, navigator)
    browser.get(f"/cases/{from_practice.id}")

    assert statements_of(app, browser, f"/cases/{self_referred.id}") == statements_of(
        app, browser, f"/cases/{from_practice.id}"
    )
    page = browser.get(f"/cases/{self_referred.id}").text
    assert re.search(r"GP practice\s*</dt>\s*<dd[^>]*>\s*Canal Street Surgery", page)


def test_the_case_page_reads_the_logged_in_user_once(app, navigator, coordinator, db):
    """Committing the record view's audit row keeps the user the request had read, rather
    than reading it again to draw the page. (A navigator's own case reads them again anyway,
    as its navigator: the hub's view shows it.)"""
    referral = case_for(navigator)
    browser = signed_in(app, coordinator)
    sent = statements_sent(app, browser, f"/cases/{referral.id}")
    user_reads = [s for s in sent if re.search(r"FROM users\s+WHERE users\.(id|session_token)", s)]
    assert len(user_reads) == 1, user_reads
    assert any(s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS") for s in sent)
