"""Organisations: the numbers they give, registering (unverified), and the hub verifying them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.directory import organisations
from portal.directory.models import Organisation
from portal.directory.organisations import (
    Registration,
    charity_register,
    normalise_charity_number,
    normalise_company_number,
)
from portal.extensions import db
from tests.factories import make_organisation, make_user


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def registration(**kw) -> Registration:
    fields = {
        "name": "Friends of the Park",
        "charity_number": "sc 012345",
        "company_number": "1234567",
        "description": "Walks and litter picks.",
        "email": " Hello@FriendsOfThePark.org ",
        "phone": "024 7600 1234",
        "website": "https://friendsofthepark.org",
        "address": "1 Park Lane\nCoventry",
        "postcode": "cv3 6pt",
        "contact_name": "Pat Green",
        "contact_email": "Pat@FriendsOfThePark.org",
    }
    return Registration(**{**fields, **kw})


# --- charity numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1123456", "1123456"),  # England and Wales, 7 digits
        ("212345", "212345"),  # England and Wales, 6 digits (older charities)
        ("SC012345", "SC012345"),  # Scotland
        ("NIC100002", "NIC100002"),  # Northern Ireland
        ("sc012345", "SC012345"),
        ("sc 012 345", "SC012345"),
        (" nic 100002 ", "NIC100002"),
        ("1 123 456", "1123456"),
        ("\t1123456\n", "1123456"),
    ],
)
def test_valid_charity_numbers_are_normalised(typed, expected):
    assert normalise_charity_number(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "12345",  # too short
        "12345678",  # too long
        "SC12345",  # Scotland needs 6 digits
        "SC0123456",
        "NIC10000",
        "NI100002",  # Northern Ireland is NIC
        "abc",
        "1123456X",
        "X1123456",
        "",
        None,
    ],
)
def test_invalid_charity_numbers_are_refused(typed):
    assert normalise_charity_number(typed) is None


@pytest.mark.parametrize(
    ("number", "scheme"),
    [("1123456", "GB-CHC"), ("212345", "GB-CHC"), ("SC012345", "GB-SC"), ("NIC100002", "GB-NIC")],
)
def test_charity_register(number, scheme):
    assert charity_register(number) == scheme


# --- company numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12345678", "12345678"),
        ("1234567", "01234567"),  # Companies House pads with zeros
        ("01234567", "01234567"),
        ("SC123456", "SC123456"),
        ("sc 123456", "SC123456"),
        ("oc301234", "OC301234"),
        ("NI123456", "NI123456"),
        (" 1234 5678 ", "12345678"),
    ],
)
def test_valid_company_numbers_are_normalised(typed, expected):
    assert normalise_company_number(typed) == expected


@pytest.mark.parametrize(
    "typed",
    ["123456789", "SC1234567", "SC12345", "S1234567", "ABC12345", "1234567X", "abc", "", None],
)
def test_invalid_company_numbers_are_refused(typed):
    assert normalise_company_number(typed) is None


# --- registering ------------------------------------------------------------------------------


def test_register_saves_an_unverified_organisation_with_a_member_login(app):
    coordinators = [make_user(Role.COORDINATOR), make_user(Role.COORDINATOR)]
    make_user(Role.COORDINATOR, is_active=False)
    make_user(Role.NAVIGATOR)

    organisation = organisations.register(registration())
    db.session.commit()

    saved = db.session.get(Organisation, organisation.id)
    assert saved.name == "Friends of the Park"
    assert not saved.is_verified
    assert saved.verified_at is None and saved.verified_by_id is None
    assert saved.charity_number == "SC012345"
    assert saved.company_number == "01234567"
    assert saved.email == "hello@friendsofthepark.org"
    assert saved.postcode == "CV3 6PT"
    assert saved.contact_name == "Pat Green"

    (member,) = organisations.members(saved)
    assert member.email == "pat@friendsofthepark.org"
    assert member.full_name == "Pat Green"
    assert member.role == Role.ORGANISATION_MEMBER
    assert member.organisation_id == saved.id
    assert member.password_hash is None  # chosen through the welcome link

    alerts = list(db.session.scalars(sa.select(Alert).order_by(Alert.user_id)))
    assert [a.user_id for a in alerts] == sorted(c.id for c in coordinators)
    assert {a.kind for a in alerts} == {AlertKind.ORGANISATION_REGISTERED}
    assert all(a.referral_id is None for a in alerts)
    assert all("Friends of the Park" in a.message for a in alerts)


def test_register_without_optional_numbers(app):
    organisation = organisations.register(
        registration(charity_number=None, company_number="", phone=None, website=None)
    )
    db.session.commit()
    assert organisation.charity_number is None
    assert organisation.company_number is None


def test_an_email_with_an_account_saves_nothing_and_tells_its_owner(app, smtp_server):
    make_user(Role.COORDINATOR)
    existing = make_user(Role.NAVIGATOR, email="pat@friendsofthepark.org")
    before = (count(Organisation), count(User), count(Alert))

    with app.test_request_context():
        result = organisations.register(registration(contact_email="pat@friendsofthepark.org"))

    assert result is None
    assert not db.session.new
    db.session.commit()
    assert (count(Organisation), count(User), count(Alert)) == before
    assert db.session.get(User, existing.id).role == Role.NAVIGATOR
    assert list(db.session.scalars(sa.select(Alert.user_id))) == []  # not even for the coordinator

    (message,) = smtp_server.messages
    assert message["To"] == "pat@friendsofthepark.org"
    assert message["Subject"] == f"You already have an account with {app.config['HUB_NAME']}"
    body = message.get_content()
    assert "Friends of the Park" in body
    assert "http://localhost/login" in body
    assert "/invite/" not in body


def test_an_email_with_an_account_is_found_whatever_its_case(app, smtp_server):
    make_user(Role.VOLUNTEER, email="pat@friendsofthepark.org")
    before = (count(Organisation), count(User))

    with app.test_request_context():
        assert (
            organisations.register(registration(contact_email="PAT@FriendsOfThePark.org")) is None
        )

    db.session.commit()
    assert (count(Organisation), count(User)) == before
    (message,) = smtp_server.messages
    assert message["To"].lower() == "pat@friendsofthepark.org"


def test_the_welcome_email_has_a_set_password_link(app, smtp_server):
    organisation = organisations.register(registration())
    db.session.commit()

    with app.test_request_context():
        organisations.send_welcome(organisation)

    (message,) = smtp_server.messages
    assert message["To"] == "pat@friendsofthepark.org"
    assert "Friends of the Park" in message["Subject"]
    body = message.get_content()
    assert "Hello Pat Green," in body
    assert "http://localhost/invite/" in body


def test_two_organisations_registered_one_after_another_are_kept_apart(app):
    first = organisations.register(registration())
    second = organisations.register(
        replace(registration(), name="Allotment Society", contact_email="sam@allotments.org")
    )
    db.session.commit()
    assert [u.email for u in organisations.members(first)] == ["pat@friendsofthepark.org"]
    assert [u.email for u in organisations.members(second)] == ["sam@allotments.org"]


# --- who hears about an organisation ----------------------------------------------------------


def test_recipients_are_active_members_then_the_organisation_inbox(app):
    organisation = make_organisation(email="office@example.org")
    make_user(
        Role.ORGANISATION_MEMBER,
        organisation_id=organisation.id,
        full_name="B Member",
        email="b@example.org",
    )
    make_user(
        Role.ORGANISATION_MEMBER,
        organisation_id=organisation.id,
        full_name="A Member",
        email="a@example.org",
    )
    make_user(
        Role.ORGANISATION_MEMBER,
        organisation_id=organisation.id,
        full_name="C Gone",
        email="c@example.org",
        is_active=False,
    )
    make_user(Role.ORGANISATION_MEMBER, email="other@example.org")  # another organisation

    assert organisations.recipients(organisation) == [
        "a@example.org",
        "b@example.org",
        "office@example.org",
    ]


def test_the_inbox_is_not_repeated_when_a_member_uses_it(app):
    organisation = make_organisation(email="office@example.org")
    make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id, email="office@example.org")
    assert organisations.recipients(organisation) == ["office@example.org"]


# --- verifying --------------------------------------------------------------------------------


def test_verify_records_when_and_who(app):
    coordinator = make_user(Role.COORDINATOR)
    organisation = organisations.register(registration())
    db.session.commit()

    organisations.verify(organisation, coordinator)
    db.session.commit()

    saved = db.session.get(Organisation, organisation.id)
    assert saved.is_verified
    assert saved.verified_by_id == coordinator.id
    assert utcnow() - timedelta(minutes=1) < saved.verified_at <= utcnow()


def test_the_verified_email_goes_to_every_recipient(app, smtp_server):
    coordinator = make_user(Role.COORDINATOR)
    organisation = organisations.register(registration())
    db.session.commit()
    organisations.verify(organisation, coordinator)
    db.session.commit()

    with app.test_request_context():
        organisations.send_verified(organisation)

    assert sorted(m["To"] for m in smtp_server.messages) == [
        "hello@friendsofthepark.org",
        "pat@friendsofthepark.org",
    ]
    assert {m["Subject"] for m in smtp_server.messages} == {"Friends of the Park is verified"}
