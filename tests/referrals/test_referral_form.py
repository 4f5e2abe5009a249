"""The referral form: a GP practice refers its patient; the hub keys in a phone call or letter.

Each rejected submission is checked the way a person meets it: the message beside the
field, what they typed still in the form, a 400, and nothing saved.
"""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.referrals.forms import CONSENT_MESSAGE
from portal.referrals.models import (
    ClosureReason,
    Practice,
    Referral,
    ReferralAction,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Resident,
)
from tests.factories import PASSWORD, make_practice, make_referral, make_resident

NHS_NUMBER = "9434765919"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


# --- helpers ------------------------------------------------------------------------------


def gp_form(practice_id: int | None, **changes) -> dict:
    """A complete, valid referral as the practice's form posts it; a change of None removes it.

    The practice user's page has no "Who is referring?" question; `source` is posted here
    anyway so that each test checks its own rule (see test_the_practice_form_as_drawn_...).
    """
    data = {
        "source": "practice",
        "nhs_number": "943 476 5919",
        "given_name": "Maya",
        "family_name": "Okafor",
        "date_of_birth[day]": "15",
        "date_of_birth[month]": "3",
        "date_of_birth[year]": "1948",
        "address": "1 High Street\r\nCoventry",
        "postcode": "cv1 2ab",
        "phone": "07700 900 982",
        "email": "",
        "preferred_contact": "phone",
        "language": "English",
        "accessibility_needs": "",
        "practice_id": "" if practice_id is None else str(practice_id),
        "reasons": ["loneliness", "low_mood"],
        "details": "Lost her husband last year and rarely goes out",
        "known_risks": "",
        "urgency": "routine",
        "referrer_name": "Dr Ada Jones",
        "referrer_role": "GP",
        "consent": "y",
        "consent_share_with_gp": "y",
        "consent_recorded_by": "Dr Ada Jones",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def date_of_birth(day: int, month: int, year: int) -> dict:
    return {
        "date_of_birth[day]": str(day),
        "date_of_birth[month]": str(month),
        "date_of_birth[year]": str(year),
    }


class FormPage(HTMLParser):
    """What a browser would show of a form: field values, ticks, choices and error messages."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.names: set[str] = set()
        self.values: dict[str, str] = {}
        self.checked: dict[str, list[str]] = {}
        self.options: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._error: str | None = None
        self._depth = 0
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            self.names.add(name)
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.checked.setdefault(name, []).append(a.get("value") or "")
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "textarea" and name:
            self.names.add(name)
            self.values[name] = ""
            self._textarea = name
        elif tag == "select" and name:
            self.names.add(name)
            self.options[name] = []
            self._select = name
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value") or "")
            if "selected" in a:
                self.values[self._select] = a.get("value") or ""
        elif tag == "span":
            if self._error is not None:
                self._depth += 1
            elif "nhsuk-error-message" in (a.get("class") or "").split():
                self._error, self._depth, self._text = a.get("id") or "", 1, []

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "span" and self._error is not None:
            self._depth -= 1
            if self._depth == 0:
                text = " ".join("".join(self._text).split())
                self.errors[self._error] = text.removeprefix("Error:").strip()
                self._error = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data
        if self._error is not None:
            self._text.append(data)

    def error_beside(self, field_id: str) -> str | None:
        return self.errors.get(f"{field_id}-error")


def row_counts(db) -> tuple[int, int]:
    """(referrals, residents) in the database."""
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Referral)),
        db.session.scalar(sa.select(sa.func.count()).select_from(Resident)),
    )


def only_referral(db) -> Referral:
    db.session.expire_all()
    return db.session.scalars(sa.select(Referral)).one()


def signed_in(app, user):
    """A second browser, logged in as `user`."""
    other = app.test_client()
    response = other.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return other


@pytest.fixture
def practice_client(client, practice_user, login):
    return login(practice_user)


# --- A. the GP practice's referral --------------------------------------------------------


def test_practice_referral_is_saved_normalised_and_shown_on_the_practice_page(
    practice_client, practice_user, db
):
    response = practice_client.post(
        "/referrals/new",
        data=gp_form(practice_user.practice_id, nhs_number="943-476-5919", postcode=" cv12ab "),
    )

    referral = only_referral(db)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/practice/referrals/{referral.id}"
    assert referral.source == ReferralSource.PRACTICE
    assert referral.practice_id == practice_user.practice_id
    assert referral.referred_by_id == practice_user.id
    assert referral.status == ReferralStatus.RECEIVED
    assert set(referral.reason_codes) == {ReferralReason.LONELINESS, ReferralReason.LOW_MOOD}
    assert referral.consent_given is True
    assert referral.consent_recorded_by == "Dr Ada Jones"
    assert referral.consent_recorded_at is not None
    assert abs((utcnow() - referral.consent_recorded_at).total_seconds()) < 120
    assert [e.action for e in referral.events] == [ReferralAction.RECEIVED]
    assert referral.events[0].actor_id == practice_user.id
    resident = referral.resident
    assert resident.nhs_number == NHS_NUMBER
    assert resident.postcode == "CV1 2AB"
    assert resident.date_of_birth == date(1948, 3, 15)
    assert resident.practice_id == practice_user.practice_id
    page = practice_client.get(response.headers["Location"])
    assert page.status_code == 200
    assert referral.reference in page.text and "Maya Okafor" in page.text


def test_the_practice_form_as_drawn_can_be_sent(practice_client, practice_user, db):
    """Post exactly the fields the page draws, as a browser would.

    The practice user's page has no "Who is referring?" radios, so no `source` is posted.
    """
    drawn = FormPage(practice_client.get("/referrals/new").text)
    assert "source" not in drawn.names
    data = {k: v for k, v in gp_form(practice_user.practice_id).items() if k in drawn.names}

    response = practice_client.post("/referrals/new", data=data)

    assert FormPage(response.text).errors == {}
    assert response.status_code == 302
    assert only_referral(db).source == ReferralSource.PRACTICE


def _years_ago(years: int) -> date:
    today = date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


_too_old = _years_ago(121)
_earliest = _years_ago(120)
_next_year = date.today().year + 1

BAD_INPUT = [
    pytest.param(
        {"nhs_number": "943 476 5918"},
        "nhs_number",
        "Enter a valid NHS number. Check it against a letter or the NHS App",
        ("nhs_number", "943 476 5918"),
        id="nhs-number-wrong-check-digit",
    ),
    pytest.param(
        {"nhs_number": "943 476 591"},
        "nhs_number",
        "NHS number must be 10 digits",
        ("nhs_number", "943 476 591"),
        id="nhs-number-9-digits",
    ),
    pytest.param(
        {"nhs_number": "94347659190"},
        "nhs_number",
        "NHS number must be 10 digits",
        ("nhs_number", "94347659190"),
        id="nhs-number-11-digits",
    ),
    pytest.param(
        {"nhs_number": "943 476 59A9"},
        "nhs_number",
        "NHS number must only include numbers, spaces and dashes",
        ("nhs_number", "943 476 59A9"),
        id="nhs-number-letters",
    ),
    pytest.param(
        date_of_birth(1, 1, _next_year),
        "date_of_birth",
        "Date of birth must be in the past",
        ("date_of_birth[year]", str(_next_year)),
        id="date-of-birth-in-the-future",
    ),
    pytest.param(
        date_of_birth(_too_old.day, _too_old.month, _too_old.year),
        "date_of_birth",
        f"Date of birth must be after {_earliest.day} {_earliest:%B %Y}",
        ("date_of_birth[year]", str(_too_old.year)),
        id="date-of-birth-over-120-years-ago",
    ),
    pytest.param(
        {"postcode": "QQ1 2AB"},
        "postcode",
        "Enter a real postcode, like CV1 2AB",
        ("postcode", "QQ1 2AB"),
        id="postcode-not-uk-shaped",
    ),
    pytest.param(
        {"postcode": "12345"},
        "postcode",
        "Enter a real postcode, like CV1 2AB",
        ("postcode", "12345"),
        id="postcode-digits-only",
    ),
    pytest.param(
        {"reasons": None},
        "reasons",
        "Choose at least one reason for the referral",
        ("given_name", "Maya"),
        id="no-reason",
    ),
    pytest.param(
        {"consent": None},
        "consent",
        CONSENT_MESSAGE,
        ("details", "Lost her husband last year and rarely goes out"),
        id="no-consent",
    ),
    pytest.param(
        {"details": "x" * 5001},
        "details",
        "Details must be 5,000 characters or fewer",
        ("details", "x" * 5001),
        id="details-over-5000",
    ),
    pytest.param(
        {"given_name": "M" * 101},
        "given_name",
        "First name must be 100 characters or fewer",
        ("given_name", "M" * 101),
        id="given-name-over-100",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message", "kept"), BAD_INPUT)
def test_bad_input_is_refused_beside_the_field_and_nothing_is_saved(
    practice_client, practice_user, db, changes, field, message, kept
):
    before = row_counts(db)

    response = practice_client.post(
        "/referrals/new", data=gp_form(practice_user.practice_id, **changes)
    )

    assert response.status_code == 400
    page = FormPage(response.text)
    assert page.error_beside(field) == message
    kept_name, kept_value = kept
    assert page.values.get(kept_name) == kept_value
    assert row_counts(db) == before


def test_no_consent_message_says_why_consent_is_needed(practice_client, practice_user):
    response = practice_client.post(
        "/referrals/new", data=gp_form(practice_user.practice_id, consent=None)
    )
    message = FormPage(response.text).error_beside("consent")
    assert "only be made with the person's agreement" in message


def test_rejected_form_keeps_every_typed_value(practice_client, practice_user):
    data = gp_form(
        practice_user.practice_id,
        nhs_number="943 476 5918",
        address="2 Low Road",
        phone="07700 900 123",
        language="Polish",
        interpreter_needed="y",
        details="Some detail",
        known_risks="Dog at the property",
        urgency="urgent",
        reasons=["money", "housing"],
    )
    page = FormPage(practice_client.post("/referrals/new", data=data).text)
    for name in (
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth[day]",
        "date_of_birth[month]",
        "date_of_birth[year]",
        "phone",
        "language",
        "details",
        "known_risks",
        "referrer_name",
        "referrer_role",
        "consent_recorded_by",
    ):
        assert page.values[name] == data[name], name
    assert page.values["address"] == "2 Low Road"
    assert sorted(page.checked["reasons"]) == ["housing", "money"]
    assert page.checked["urgency"] == ["urgent"]
    assert page.checked["interpreter_needed"] == ["y"]
    assert page.checked["consent"] == ["y"]


def test_practice_user_cannot_refer_for_another_practice(practice_client, practice_user, db):
    other = make_practice()
    before = row_counts(db)

    response = practice_client.post("/referrals/new", data=gp_form(other.id))

    assert response.status_code == 400
    page = FormPage(response.text)
    assert page.error_beside("practice_id") == (
        "You can only refer people registered at your own practice"
    )
    assert page.options["practice_id"] == [str(practice_user.practice_id)]
    assert row_counts(db) == before


# --- A. script in free text ---------------------------------------------------------------

TEXT_FIELDS = (
    "given_name",
    "family_name",
    "address",
    "details",
    "known_risks",
    "language",
    "accessibility_needs",
    "referrer_name",
    "referrer_role",
    "consent_recorded_by",
)


def _refer_with_script_everywhere(client, practice_user, db) -> Referral:
    data = gp_form(practice_user.practice_id, **dict.fromkeys(TEXT_FIELDS, SCRIPT))
    response = client.post("/referrals/new", data=data)
    assert response.status_code == 302
    return only_referral(db)


def test_script_in_text_fields_is_saved_as_typed(practice_client, practice_user, db):
    referral = _refer_with_script_everywhere(practice_client, practice_user, db)
    resident = referral.resident
    for name in ("given_name", "family_name", "address", "language", "accessibility_needs"):
        assert getattr(resident, name) == SCRIPT, name
    for name in ("details", "known_risks", "referrer_name", "referrer_role"):
        assert getattr(referral, name) == SCRIPT, name
    assert referral.consent_recorded_by == SCRIPT


@pytest.mark.parametrize(
    "where", ["hub referral page", "hub queue", "practice referral page", "practice list"]
)
def test_script_in_text_fields_is_rendered_inert(
    app, practice_client, practice_user, coordinator, db, where
):
    referral = _refer_with_script_everywhere(practice_client, practice_user, db)
    hub = signed_in(app, coordinator)
    client, path = {
        "hub referral page": (hub, f"/referrals/{referral.id}"),
        "hub queue": (hub, "/hub"),
        "practice referral page": (practice_client, f"/practice/referrals/{referral.id}"),
        "practice list": (practice_client, "/practice/referrals"),
    }[where]

    response = client.get(path)

    assert response.status_code == 200
    assert SCRIPT not in response.text
    assert ESCAPED_SCRIPT in response.text


def test_rejected_form_does_not_let_typed_text_out_of_its_box(practice_client, practice_user):
    """A textarea shown again after an error must not let `</textarea>` close it early."""
    breakout = "</textarea>" + SCRIPT
    data = gp_form(
        practice_user.practice_id,
        consent=None,
        details=breakout,
        address=breakout,
        known_risks=breakout,
        accessibility_needs=breakout,
    )
    response = practice_client.post("/referrals/new", data=data)
    assert response.status_code == 400
    assert SCRIPT not in response.text
    assert FormPage(response.text).values["details"] == breakout


def test_rejected_choice_is_not_echoed_as_markup(practice_client, practice_user, db):
    before = row_counts(db)
    response = practice_client.post(
        "/referrals/new",
        data=gp_form(practice_user.practice_id, reasons=["<img src=x onerror=alert(1)>"]),
    )
    assert response.status_code == 400
    assert "<img src=x onerror=alert(1)>" not in response.text
    assert row_counts(db) == before


# --- A. the same person referred again ----------------------------------------------------


def test_known_nhs_number_reuses_the_resident_and_shows_earlier_referrals(
    app, practice_client, practice_user, coordinator, db
):
    resident = make_resident(nhs_number=NHS_NUMBER, given_name="Maya", family_name="Okafor")
    earlier = make_referral(
        resident=resident,
        practice=db.session.get(Practice, practice_user.practice_id),
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.MOVED_AWAY,
    )

    response = practice_client.post(
        "/referrals/new", data=gp_form(practice_user.practice_id, given_name="Maya-Rose")
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Resident)) == 1
    new = db.session.scalars(sa.select(Referral).where(Referral.id != earlier.id)).one()
    assert new.resident_id == resident.id
    assert new.resident.given_name == "Maya-Rose"  # a practice is trusted to update the name
    page = signed_in(app, coordinator).get(f"/referrals/{new.id}").text
    assert "Earlier referrals for this person" in page
    section = page[page.index("Earlier referrals for this person") :]
    assert earlier.reference in section[: section.index("</ul>")]


# --- A. the NHS number is shown with care -------------------------------------------------


def test_nhs_number_never_in_a_url_masked_in_lists_and_formatted_on_the_page(
    app, practice_client, practice_user, coordinator, db
):
    response = practice_client.post("/referrals/new", data=gp_form(practice_user.practice_id))
    location = response.headers["Location"]
    referral = only_referral(db)
    hub = signed_in(app, coordinator)

    for form in (NHS_NUMBER, "943 476 5919", "943%20476%205919", "943+476+5919"):
        assert form not in location
    for client, path in ((hub, "/hub"), (practice_client, "/practice/referrals")):
        page = client.get(path).text
        assert referral.reference in page, path
        assert "*** *** 5919" in page, path
        assert NHS_NUMBER not in page and "943 476 5919" not in page, path
    assert "943 476 5919" in hub.get(f"/referrals/{referral.id}").text
    assert NHS_NUMBER not in hub.get(f"/referrals/{referral.id}").text


# --- B. the hub's form --------------------------------------------------------------------


def test_hub_form_asks_who_is_referring_and_allows_an_unknown_practice(
    logged_in_coordinator, coordinator
):
    page = FormPage(logged_in_coordinator.get("/referrals/new").text)
    assert "source" in page.names
    assert page.options["practice_id"][0] == ""
    assert page.values["consent_recorded_by"] == coordinator.full_name


@pytest.mark.parametrize("source", ["self", "professional"])
def test_hub_can_refer_without_nhs_number_or_practice(logged_in_coordinator, db, source):
    response = logged_in_coordinator.post(
        "/referrals/new",
        data=gp_form(None, source=source, nhs_number="", referrer_role="Social worker"),
    )

    referral = only_referral(db)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert referral.source == ReferralSource(source)
    assert referral.practice_id is None
    assert referral.resident.nhs_number is None
    assert referral.resident.practice_id is None


def test_hub_referral_from_a_practice_needs_the_practice(logged_in_coordinator, db):
    before = row_counts(db)

    response = logged_in_coordinator.post("/referrals/new", data=gp_form(None, source="practice"))

    assert response.status_code == 400
    page = FormPage(response.text)
    assert page.error_beside("practice_id") == "Choose the GP practice that is referring"
    assert page.checked["source"] == ["practice"]
    assert row_counts(db) == before


def test_hub_referral_from_a_practice_records_the_practice(logged_in_coordinator, db):
    practice = make_practice()

    response = logged_in_coordinator.post(
        "/referrals/new", data=gp_form(practice.id, source="practice", nhs_number="")
    )

    assert response.status_code == 302
    referral = only_referral(db)
    assert referral.source == ReferralSource.PRACTICE
    assert referral.practice_id == practice.id
    assert referral.resident.nhs_number is None


def test_hub_still_checks_an_nhs_number_it_is_given(logged_in_coordinator, db):
    before = row_counts(db)
    response = logged_in_coordinator.post(
        "/referrals/new", data=gp_form(None, source="self", nhs_number="943 476 5918")
    )
    assert response.status_code == 400
    assert FormPage(response.text).error_beside("nhs_number") == (
        "Enter a valid NHS number. Check it against a letter or the NHS App"
    )
    assert row_counts(db) == before


def test_other_roles_cannot_use_the_referral_form(client, make_user, login):
    login(make_user(Role.NAVIGATOR))
    assert client.get("/referrals/new").status_code == 403
