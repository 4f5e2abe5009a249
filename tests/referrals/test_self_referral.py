"""The public self-referral form: no login, a reference shown once, bots and floods kept out."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
import sqlalchemy as sa

from portal.referrals.models import (
    Referral,
    ReferralAction,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Resident,
)
from tests.factories import make_practice, make_referral, make_resident

NHS_NUMBER = "9434765919"
SCRIPT = "<script>alert(1)</script>"
REFERENCE = re.compile(r"SP-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}")
CONSENT_MESSAGE = (
    "We can only help if you agree to us using your details. Tick the box, or call us instead"
)


def self_form(**changes) -> dict:
    """A complete, valid self-referral as the public form posts it; a change of None removes it."""
    data = {
        "reasons": ["loneliness", "physical_activity"],
        "details": "I moved here last year and know nobody",
        "given_name": "Sam",
        "family_name": "Rivers",
        "date_of_birth[day]": "2",
        "date_of_birth[month]": "7",
        "date_of_birth[year]": "1960",
        "postcode": "cv2 4gh",
        "address": "",
        "phone": "07700 900 456",
        "email": "",
        "preferred_contact": "phone",
        "language": "English",
        "accessibility_needs": "",
        "practice_id": "",
        "nhs_number": "",
        "helper_name": "",
        "consent": "y",
        "consent_share_with_gp": "y",
        "website": "",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def referral_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Referral))


def resident_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Resident))


def error_beside(page: str, field_id: str) -> str | None:
    """The text of the NHS.UK error message drawn beside a field, if there is one."""
    match = re.search(
        rf'<span class="nhsuk-error-message" id="{re.escape(field_id)}-error"\s*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error: </span>(.*?)</span>',
        page,
        re.S,
    )
    return html.unescape(" ".join(match.group(1).split())) if match else None


def test_anyone_can_open_the_form_without_logging_in(client):
    response = client.get("/refer-yourself")
    assert response.status_code == 200
    assert "Ask for support" in response.text
    assert 'name="website"' in response.text  # the honeypot, hidden from people


def test_self_referral_is_saved_as_self_and_shows_the_reference_once(client, db):
    response = client.post("/refer-yourself", data=self_form())

    assert response.status_code == 302
    assert response.headers["Location"] == "/refer-yourself/sent"
    db.session.expire_all()
    referral = db.session.scalars(sa.select(Referral)).one()
    assert REFERENCE.fullmatch(referral.reference)
    assert referral.source == ReferralSource.SELF
    assert referral.status == ReferralStatus.RECEIVED
    assert referral.referred_by_id is None
    assert referral.practice_id is None
    assert referral.consent_given and referral.consent_recorded_at is not None
    assert set(referral.reason_codes) == {
        ReferralReason.LONELINESS,
        ReferralReason.PHYSICAL_ACTIVITY,
    }
    [received] = referral.events
    assert received.action == ReferralAction.RECEIVED and received.actor_id is None
    assert referral.resident.nhs_number is None
    assert referral.resident.postcode == "CV2 4GH"
    assert referral.resident.date_of_birth == date(1960, 7, 2)

    first = client.get("/refer-yourself/sent")
    assert first.status_code == 200
    assert REFERENCE.findall(first.text) == [referral.reference]
    second = client.get("/refer-yourself/sent")
    assert second.status_code == 200
    assert REFERENCE.search(second.text) is None
    assert "We have your request" in second.text


def test_the_reference_is_never_in_the_address(client, db):
    response = client.post("/refer-yourself", data=self_form())
    db.session.expire_all()
    reference = db.session.scalars(sa.select(Referral.reference)).one()
    assert reference not in response.headers["Location"]


def test_self_referral_does_not_log_anyone_in(client):
    client.post("/refer-yourself", data=self_form())
    hub = client.get("/hub")
    assert hub.status_code == 302 and "/login" in hub.headers["Location"]


def test_nhs_number_is_optional_but_kept_when_given(client, db):
    practice = make_practice()
    response = client.post(
        "/refer-yourself", data=self_form(nhs_number="943 476 5919", practice_id=str(practice.id))
    )
    assert response.status_code == 302
    db.session.expire_all()
    resident = db.session.scalars(sa.select(Resident)).one()
    assert resident.nhs_number == NHS_NUMBER
    assert resident.practice_id == practice.id


def test_wrong_nhs_number_is_refused_beside_the_field(client, db):
    response = client.post("/refer-yourself", data=self_form(nhs_number="943 476 5918"))
    assert response.status_code == 400
    assert error_beside(response.text, "nhs_number") == (
        "Enter a valid NHS number. Check it against a letter or the NHS App"
    )
    assert referral_count(db) == 0


def test_someone_elses_nhs_number_is_not_linked_and_the_hub_is_told(client, db):
    """A typo must not attach a self-referral to another person's record."""
    someone_else = make_resident(
        nhs_number=NHS_NUMBER, family_name="Different", date_of_birth=date(1940, 1, 1)
    )
    response = client.post("/refer-yourself", data=self_form(nhs_number="943 476 5919"))
    assert response.status_code == 302
    db.session.expire_all()
    referral = db.session.scalars(sa.select(Referral)).one()
    assert referral.resident_id != someone_else.id
    assert referral.resident.nhs_number is None
    assert db.session.get(Resident, someone_else.id).family_name == "Different"
    notes = [e.note for e in referral.events if e.action == ReferralAction.NOTE]
    assert any("did not match" in note for note in notes)


def test_no_consent_is_refused_with_the_reason(client, db):
    response = client.post("/refer-yourself", data=self_form(consent=None))
    assert response.status_code == 400
    assert error_beside(response.text, "consent") == CONSENT_MESSAGE
    assert 'value="Sam"' in response.text  # what they typed is kept
    assert referral_count(db) == 0
    assert resident_count(db) == 0


def test_honeypot_filled_looks_sent_but_saves_nothing(client, db):
    response = client.post("/refer-yourself", data=self_form(website="http://spam.example"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/refer-yourself/sent"
    assert referral_count(db) == 0
    assert resident_count(db) == 0
    sent = client.get("/refer-yourself/sent")
    assert sent.status_code == 200 and REFERENCE.search(sent.text) is None


def test_sixth_submission_in_an_hour_is_refused(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_FORM_RATE_LIMIT", "5 per hour")
    # Mistakes are not counted: a person fixing their answers is never locked out.
    for _ in range(3):
        assert client.post("/refer-yourself", data=self_form(consent=None)).status_code == 400
    for n in range(5):
        response = client.post("/refer-yourself", data=self_form(given_name=f"Person{n}"))
        assert response.status_code == 302, n

    refused = client.post("/refer-yourself", data=self_form(given_name="Sixth"))

    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert referral_count(db) == 5
    assert client.get("/refer-yourself").status_code == 200  # reading the form is not limited
    other_address = client.post(
        "/refer-yourself",
        data=self_form(given_name="Neighbour"),
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other_address.status_code == 302
    assert referral_count(db) == 6


def test_sent_page_never_shows_other_peoples_data(app, client, db):
    earlier = make_referral(
        resident=make_resident(given_name="Olwen", family_name="Elsewhere"),
        reference="SP-ABCDEF",
    )
    client.post("/refer-yourself", data=self_form())
    db.session.expire_all()
    mine = db.session.scalars(sa.select(Referral).where(Referral.id != earlier.id)).one()

    stranger = app.test_client().get("/refer-yourself/sent")
    own = client.get("/refer-yourself/sent")

    assert stranger.status_code == 200
    for text in (mine.reference, "Sam", "Rivers", earlier.reference, "Olwen", "Elsewhere"):
        assert text not in stranger.text, text
    assert mine.reference in own.text
    for text in (earlier.reference, "Olwen", "Elsewhere", "SP-ABCDEF"):
        assert text not in own.text, text


@pytest.mark.parametrize(
    ("field", "typed", "markup"),
    [
        ("given_name", SCRIPT, SCRIPT),
        ("details", "</textarea>" + SCRIPT, SCRIPT),
        ("reasons", ["<img src=x onerror=alert(1)>"], "<img src=x onerror=alert(1)>"),
    ],
    ids=["name", "textarea", "choice"],
)
def test_what_was_typed_is_shown_back_inert(client, db, field, typed, markup):
    response = client.post("/refer-yourself", data=self_form(consent=None, **{field: typed}))
    assert response.status_code == 400
    assert markup not in response.text
    assert referral_count(db) == 0
