"""The public volunteer application: an account in "applied" status and a confirmation email.

A second application with an email that already has an account saves nothing and tells
the owner of the address, so the form never reveals who has an account.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.auth.models import Role, User
from portal.auth.service import INVITE, read_token
from portal.db_types import utcnow
from portal.extensions import db
from portal.volunteers import signup
from portal.volunteers.models import Volunteer, VolunteerRole, VolunteerStatus
from tests.factories import make_user

INVITE_LINK = re.compile(r"http://localhost/invite/(\S+)")


def application(**kw) -> signup.Application:
    return signup.Application(
        **{
            "full_name": "Sam Sample",
            "email": "  Sam.Sample@Example.COM ",
            "phone": "07700 900123",
            "postcode": "cv1  2ab",
            "roles": [VolunteerRole.BUDDY, VolunteerRole.BEFRIENDER],
            "languages": ["English", "Polish"],
            "interests": ["walking", "gardening"],
            "availability": ["mon_morning", "thu_evening"],
            "transport": "Car",
            "referees": (("Ann Referee", "ann@example.com"), ("Bob Referee", "07700 900456")),
            "motivation": "I would like to help people get out more.",
            **kw,
        }
    )


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- applying -------------------------------------------------------------------------------


def test_applying_creates_an_account_without_a_password_and_an_applied_volunteer(app):
    started = utcnow()

    volunteer = signup.apply(application())
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Volunteer, volunteer.id)
    user = stored.user
    assert user.email == "sam.sample@example.com"
    assert (user.full_name, user.phone) == ("Sam Sample", "07700 900123")
    assert user.role == Role.VOLUNTEER
    assert user.password_hash is None
    assert user.is_active is True

    assert stored.status == VolunteerStatus.APPLIED
    assert stored.postcode == "CV1 2AB"
    assert (stored.role_buddy, stored.role_navigator, stored.role_befriender) == (
        True,
        False,
        True,
    )
    assert stored.roles == [VolunteerRole.BUDDY, VolunteerRole.BEFRIENDER]
    assert stored.languages == ["English", "Polish"]
    assert stored.interests == ["walking", "gardening"]
    assert stored.availability == ["mon_morning", "thu_evening"]
    assert stored.transport == "Car"
    assert stored.motivation == "I would like to help people get out more."
    assert (stored.referee_1_name, stored.referee_1_contact) == ("Ann Referee", "ann@example.com")
    assert (stored.referee_2_name, stored.referee_2_contact) == ("Bob Referee", "07700 900456")
    assert (stored.referee_1_received_on, stored.dbs_level, stored.joined_on) == (None, None, None)
    for moment in (stored.privacy_consent_at, stored.status_changed_at, stored.applied_at):
        assert started <= moment <= utcnow()


@pytest.mark.parametrize(
    ("typed", "stored"), [("cv12ab", "CV1 2AB"), (" sw1a 1aa ", "SW1A 1AA"), ("M1 1AE", "M1 1AE")]
)
def test_the_postcode_is_normalised(app, typed, stored):
    volunteer = signup.apply(application(postcode=typed))
    db.session.commit()
    assert volunteer.postcode == stored


def test_a_navigator_only_application(app):
    volunteer = signup.apply(application(roles=[VolunteerRole.NAVIGATOR]))
    db.session.commit()
    assert volunteer.roles == [VolunteerRole.NAVIGATOR]


# --- applying again with the same email ------------------------------------------------------


def test_an_email_with_an_account_saves_nothing_and_tells_its_owner(app, smtp_server):
    existing = make_user(Role.NAVIGATOR, email="taken@example.com")
    users, volunteers = count(User), count(Volunteer)

    with app.test_request_context():
        result = signup.apply(application(email=" Taken@Example.com"))

    assert result is None
    assert not db.session.new
    db.session.commit()
    assert (count(User), count(Volunteer)) == (users, volunteers)
    assert db.session.get(User, existing.id).role == Role.NAVIGATOR

    (message,) = smtp_server.messages
    assert message["To"] == "taken@example.com"
    assert message["Subject"] == f"You already have an account with {app.config['HUB_NAME']}"
    body = message.get_content()
    assert f"Hello {existing.full_name}," in body
    assert "http://localhost/login" in body
    assert "/invite/" not in body


def test_an_account_never_set_up_is_sent_a_fresh_set_password_link(app, smtp_server, client):
    existing = make_user(Role.VOLUNTEER, password=None, email="half@example.com")

    with app.test_request_context():
        assert signup.apply(application(email="half@example.com")) is None

    (message,) = smtp_server.messages
    assert message["To"] == "half@example.com"
    token = INVITE_LINK.search(message.get_content()).group(1)
    assert read_token(token, INVITE).id == existing.id
    assert client.get(f"/invite/{token}").status_code == 200


def test_a_disabled_account_is_not_sent_a_set_password_link(app, smtp_server):
    make_user(Role.VOLUNTEER, password=None, email="gone@example.com", is_active=False)

    with app.test_request_context():
        assert signup.apply(application(email="gone@example.com")) is None

    (message,) = smtp_server.messages
    body = message.get_content()
    assert "/invite/" not in body
    assert "http://localhost/login" in body


# --- the confirmation -----------------------------------------------------------------------


def test_the_confirmation_has_a_set_password_link(app, smtp_server, client):
    volunteer = signup.apply(application())
    db.session.commit()

    with app.test_request_context():
        signup.send_confirmation(volunteer)

    (message,) = smtp_server.messages
    hub = app.config["HUB_NAME"]
    assert message["To"] == "sam.sample@example.com"
    assert message["From"] == app.config["MAIL_FROM"]
    assert message["Subject"] == f"Thank you for applying to volunteer with {hub}"
    body = message.get_content()
    assert "Hello Sam Sample," in body
    assert f"within {app.config['INVITE_VALID_HOURS']} hours" in body
    token = INVITE_LINK.search(body).group(1)
    assert read_token(token, INVITE).id == volunteer.user_id
    assert client.get(f"/invite/{token}").status_code == 200
