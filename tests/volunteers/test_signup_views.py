"""The public volunteer sign-up at /volunteer: what is saved, what is refused, what is emailed.

Every refusal comes back as the same page with a 400, the message beside the field,
what was typed still in the boxes, and nothing saved or sent.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.models import Role, User
from portal.volunteers.models import Volunteer, VolunteerStatus
from portal.volunteers.profile import TRANSPORT
from tests.cases.test_case_views import BrowserForm, flashed, signed_in

SIGN_UP = "/volunteer"
THANK_YOU = "/volunteer/thank-you"


def application(**changes) -> dict:
    """What a person fills in, as the browser posts it; None leaves a field out."""
    data: dict[str, str | list[str]] = {
        "full_name": "Alex Morgan",
        "email": "Alex.Morgan@Example.com",
        "phone": "07700 900 982",
        "postcode": "cv1 2ab",
        "languages": "English, polish",
        "availability": ["mon_morning", "thu_evening"],
        "transport": TRANSPORT[1],
        "roles": ["buddy", "befriender"],
        "interests": ["walking", "gardening"],
        "referee_1_name": "Jo Smith",
        "referee_1_contact": "01632 960 002",
        "referee_2_name": "Sam Patel",
        "referee_2_contact": "07700 900 123",
        "motivation": "I retired last year and would like to help people near me.",
        "consent": "y",
        "website": "",
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
        r'<span class="nhsuk-u-visually-hidden">Error:\s*</span>(.*?)\s*</span>',
        page,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def counts(db) -> tuple[int, int]:
    db.session.expire_all()
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    volunteers = db.session.scalar(sa.select(sa.func.count()).select_from(Volunteer))
    return users, volunteers


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- the page ---------------------------------------------------------------------------------


def test_sign_up_page_is_public(client):
    response = client.get(SIGN_UP)

    assert response.status_code == 200
    page = response.text
    assert "<h1>Volunteer with us</h1>" in page
    form = BrowserForm(page, SIGN_UP)
    assert form.data["languages"] == ["English"]
    assert form.data["website"] == [""]


# --- a good application -------------------------------------------------------------------


def test_good_application_saves_an_applied_volunteer_and_emails_an_invite_link(
    app, client, db, smtp_server
):
    before = counts(db)

    response = client.post(SIGN_UP, data=application())

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == THANK_YOU
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    assert "Thank you for applying" in flashed(thanks.text)

    assert counts(db) == (before[0] + 1, before[1] + 1)
    user = db.session.scalar(sa.select(User).where(User.email == "alex.morgan@example.com"))
    assert user is not None
    assert user.role == Role.VOLUNTEER
    assert user.full_name == "Alex Morgan"
    assert user.phone == "07700 900 982"
    assert user.password_hash is None
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == user.id))
    assert volunteer.status == VolunteerStatus.APPLIED
    assert (volunteer.role_buddy, volunteer.role_navigator, volunteer.role_befriender) == (
        True,
        False,
        True,
    )
    assert volunteer.postcode == "CV1 2AB"
    assert volunteer.languages == ["English", "Polish"]
    assert volunteer.availability == ["mon_morning", "thu_evening"]
    assert volunteer.interests == ["walking", "gardening"]
    assert volunteer.transport == TRANSPORT[1]
    assert volunteer.referee_1_name == "Jo Smith"
    assert volunteer.referee_2_contact == "07700 900 123"
    assert volunteer.privacy_consent_at is not None
    assert volunteer.dbs_level is None and volunteer.joined_on is None

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "alex.morgan@example.com"
    assert "Thank you for applying to volunteer" in message["Subject"]
    body = body_of(message)
    link = re.search(r"http://localhost(/invite/\S+)", body)
    assert link is not None, body
    # The link really lets the applicant choose a password.
    page = app.test_client().get(link.group(1))
    assert page.status_code == 200 and "Set your password" in page.text


def test_referees_may_be_given_by_email_address(client, db):
    """The form asks for 'Email address or phone number': an email address must be accepted."""
    response = client.post(
        SIGN_UP,
        data=application(
            referee_1_contact="jo.smith@example.org", referee_2_contact="sam.patel@example.org"
        ),
    )

    assert response.status_code == 302
    volunteer = db.session.scalar(sa.select(Volunteer))
    assert volunteer.referee_1_contact == "jo.smith@example.org"
    assert volunteer.referee_2_contact == "sam.patel@example.org"


def test_thank_you_page_without_applying_does_not_claim_an_email_was_sent(client):
    page = client.get(THANK_YOU).text

    assert "Thank you for applying" not in page
    assert "We have sent you an email" not in page


def test_duplicate_email_looks_the_same_saves_nothing_and_tells_the_owner(
    app, client, db, smtp_server, make_user
):
    owner = make_user(Role.NAVIGATOR, email="alex.morgan@example.com", full_name="Alex Owner")
    before = counts(db)

    response = client.post(SIGN_UP, data=application(full_name="Someone Else"))

    # The same answer a new applicant gets: nothing says the address is known.
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == THANK_YOU
    thanks = client.get(response.headers["Location"]).text
    fresh_thanks = app.test_client()
    fresh_thanks.post(SIGN_UP, data=application(email="new.person@example.com"))
    assert flashed(thanks) == flashed(fresh_thanks.get(THANK_YOU).text)

    db.session.expire_all()
    assert counts(db) == (before[0] + 1, before[1] + 1)  # only new.person was added
    again = db.session.get(User, owner.id)
    assert again.full_name == "Alex Owner" and again.role == Role.NAVIGATOR
    assert db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == owner.id)) is None

    to_owner = [m for m in smtp_server.messages if m["To"] == "alex.morgan@example.com"]
    assert len(to_owner) == 1
    assert "already have an account" in to_owner[0]["Subject"]
    assert "Hello Alex Owner" in body_of(to_owner[0])
    assert "Someone Else" not in body_of(to_owner[0])


# --- refusals -------------------------------------------------------------------------------


REFUSALS = [
    pytest.param(
        {"email": "alex.morgan-at-example.com"},
        "email",
        "Enter an email address in the correct format, like name@example.com",
        id="invalid-email",
    ),
    pytest.param(
        {"postcode": "NOT A CODE"}, "postcode", "Enter a real postcode, like CV1 2AB", id="postcode"
    ),
    pytest.param(
        {"phone": "call me maybe"},
        "phone",
        "Enter a phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192",
        id="phone",
    ),
    pytest.param(
        {"availability": None},
        "availability",
        "Choose at least one time you could volunteer",
        id="no-availability",
    ),
    pytest.param(
        {"roles": None},
        "roles",
        "Choose at least one way you would like to volunteer",
        id="no-roles",
    ),
    pytest.param(
        {"consent": None},
        "consent",
        "Tick the box to agree to the privacy notice, or call us to apply instead",
        id="no-consent",
    ),
    pytest.param(
        {"referee_2_name": "Jo Smith", "referee_2_contact": "01632 960 002"},
        "referee_2_contact",
        "Give two different referees",
        id="same-referee-twice",
    ),
    pytest.param(
        {"referee_2_contact": "not a number"},
        "referee_2_contact",
        "Enter the referee's email address or phone number, like 07700 900 982",
        id="referee-contact-neither-phone-nor-email",
    ),
    # Referee contacts with an "@" in them are checked as email addresses.
    pytest.param(
        {"referee_2_contact": "sam.patel@"},
        "referee_2_contact",
        "Enter the referee's email address in the correct format",
        id="referee-email-malformed",
    ),
    pytest.param(
        {"referee_1_contact": "alex.morgan@example.com"},
        "referee_1_contact",
        "A referee must be someone other than you",
        id="referee-is-the-applicant",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), REFUSALS)
def test_bad_application_is_refused_beside_the_field_keeps_what_was_typed_and_saves_nothing(
    client, db, smtp_server, changes, field, message
):
    before = counts(db)
    typed = application(**changes)

    response = client.post(SIGN_UP, data=typed)

    assert response.status_code == 400
    page = response.text
    assert error_beside(page, field) == message
    assert "There is a problem" in page
    kept = BrowserForm(page, SIGN_UP)
    for name in (
        "full_name",
        "email",
        "phone",
        "postcode",
        "languages",
        "referee_1_name",
        "referee_1_contact",
        "referee_2_name",
        "referee_2_contact",
    ):
        assert kept.data[name] == [typed[name].strip()], name
    assert kept.data["motivation"][0].strip() == typed["motivation"]
    for name in ("availability", "roles", "interests"):
        assert sorted(kept.data.get(name, [])) == sorted(typed.get(name, [])), name
    assert kept.data["transport"] == [typed["transport"]]
    assert kept.data.get("consent", []) == ([typed["consent"]] if "consent" in typed else [])
    assert counts(db) == before
    assert smtp_server.messages == []


def test_honeypot_filled_looks_like_success_but_saves_and_sends_nothing(client, db, smtp_server):
    before = counts(db)

    response = client.post(SIGN_UP, data=application(website="http://cheap-pills.example"))

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == THANK_YOU
    assert counts(db) == before
    assert smtp_server.messages == []


# --- typed markup is shown as text ----------------------------------------------------------

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTR = '" onmouseover="x'


def test_typed_markup_comes_back_escaped_when_the_form_is_refused(client, db):
    typed = application(
        full_name=XSS_ATTR,
        motivation="</textarea>" + XSS_SCRIPT,
        referee_1_name=XSS_SCRIPT,
        postcode="nowhere",
    )

    response = client.post(SIGN_UP, data=typed)

    assert response.status_code == 400
    page = response.text
    assert XSS_SCRIPT not in page
    assert XSS_ATTR not in page
    assert "</textarea><script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    kept = BrowserForm(page, SIGN_UP)
    assert kept.data["full_name"] == [XSS_ATTR]
    assert kept.data["referee_1_name"] == [XSS_SCRIPT]
    assert kept.data["motivation"][0].strip() == "</textarea>" + XSS_SCRIPT
    assert counts(db)[1] == 0


def test_typed_markup_is_shown_as_text_on_the_coordinators_volunteer_page(
    app, client, db, coordinator
):
    response = client.post(
        SIGN_UP,
        data=application(
            full_name=XSS_ATTR + " Morgan",
            motivation=XSS_SCRIPT,
            referee_2_name=XSS_SCRIPT,
            languages="English, <b>Klingon</b>",
        ),
    )
    assert response.status_code == 302
    volunteer = db.session.scalar(sa.select(Volunteer))

    hub = signed_in(app, coordinator)
    page = hub.get(f"/volunteers/{volunteer.id}").text
    board = hub.get("/volunteers").text

    for shown in (page, board):
        assert XSS_ATTR not in shown
        assert XSS_SCRIPT not in shown
        assert "&#34; onmouseover=&#34;x Morgan" in shown or "&quot; onmouseover" in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Klingon</b>" not in page
    assert "&lt;b&gt;Klingon&lt;/b&gt;" in page
