"""Taking in a referral: NHS numbers, postcodes, references, and finding the person again."""

from __future__ import annotations

import re
from datetime import date, timedelta

import nhs_number
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals import intake
from portal.referrals.intake import (
    PersonDetails,
    ReferralDetails,
    earlier_referrals,
    new_reference,
    nhs_number_problem,
    normalise_nhs_number,
    normalise_postcode,
    submit,
)
from portal.referrals.models import (
    PreferredContact,
    Referral,
    ReferralAction,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Resident,
)
from portal.referrals.workflow import SELF_REFERRAL_FORM, Actor, TransitionRefused
from tests.factories import make_practice, make_referral, make_resident, valid_nhs_number

VALID = "9434765919"
WRONG_CHECK_DIGIT = "9434765918"
DIGITS_ONLY = "Enter a valid NHS number. Check it against a letter or the NHS App"
NOT_TEN = "NHS number must be 10 digits"
NOT_NUMBERS = "NHS number must only include numbers, spaces and dashes"


# --- NHS numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", [VALID, "943 476 5919", "943-476-5919", " 943  476-5919 ", "943 - 476 - 5919"]
)
def test_valid_nhs_numbers_are_accepted_with_spaces_or_dashes(typed):
    assert nhs_number_problem(typed) is None
    assert normalise_nhs_number(typed) == VALID


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        (WRONG_CHECK_DIGIT, DIGITS_ONLY),
        ("943 476 5918", DIGITS_ONLY),
        ("943476591", NOT_TEN),
        ("94347659190", NOT_TEN),
        ("943 476 591", NOT_TEN),
        ("943476591A", NOT_NUMBERS),
        ("NHS 943 476 5919", NOT_NUMBERS),
        ("943.476.5919", NOT_NUMBERS),
        ("943/476/5919", NOT_NUMBERS),
        ("+943476591", NOT_NUMBERS),
        ("\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19", NOT_NUMBERS),  # fullwidth
        ("\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669", NOT_NUMBERS),  # Arabic
    ],
)
def test_nhs_number_problems_are_explained(typed, problem):
    assert nhs_number_problem(typed) == problem
    with pytest.raises(ValueError):
        normalise_nhs_number(typed)


def test_a_scottish_chi_number_must_start_with_a_real_date():
    stem = "310200000"  # 31 February
    number = stem + str(nhs_number.calculate_checksum(stem))
    assert nhs_number_problem(number) == DIGITS_ONLY
    stem = "010150000"  # 1 January 1950
    assert nhs_number_problem(stem + str(nhs_number.calculate_checksum(stem))) is None


def test_a_number_whose_check_digit_would_be_ten_is_never_valid():
    stem = next(
        f"{i:09d}"
        for i in range(400_000_000, 500_000_000)
        if nhs_number.calculate_checksum(f"{i:09d}") == 10
    )
    assert all(nhs_number_problem(stem + str(d)) == DIGITS_ONLY for d in range(10))


# England and Wales numbers (4, 6, 7) and test numbers (9). Numbers in the Scottish CHI range
# must also start with a real date, which nhs_number_problem rightly checks through the library.
_stems = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("4679"),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
).filter(lambda stem: nhs_number.calculate_checksum(stem) in range(10))
_separators = st.sampled_from(["", " ", "-", "  ", " - ", "\t"])


@settings(max_examples=60, deadline=None, database=None)
@given(stem=_stems, data=st.data())
def test_any_spacing_of_a_valid_number_normalises_back_to_its_digits(stem, data):
    digits = stem + str(nhs_number.calculate_checksum(stem))
    seps = data.draw(st.lists(_separators, min_size=11, max_size=11))
    typed = seps[0] + "".join(d + s for d, s in zip(digits, seps[1:], strict=True))

    assert nhs_number_problem(typed) is None
    assert normalise_nhs_number(typed) == digits


@settings(max_examples=60, deadline=None, database=None)
@given(stem=_stems, position=st.integers(0, 9), change=st.integers(1, 9))
def test_changing_any_one_digit_of_a_valid_number_makes_it_invalid(stem, position, change):
    digits = stem + str(nhs_number.calculate_checksum(stem))
    wrong = digits[:position] + str((int(digits[position]) + change) % 10) + digits[position + 1 :]
    assert nhs_number_problem(wrong) == DIGITS_ONLY


# --- postcodes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("cv1 2ab", "CV1 2AB"),
        ("SW1A1AA", "SW1A 1AA"),
        ("  sw1a   1aa ", "SW1A 1AA"),
        ("M1 1AE", "M1 1AE"),
        ("b338th", "B33 8TH"),
        ("W1A 0AX", "W1A 0AX"),
        ("DN55 1PT", "DN55 1PT"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("gir 0aa", "GIR 0AA"),
    ],
)
def test_postcodes_are_normalised(typed, normalised):
    assert normalise_postcode(typed) == normalised


@pytest.mark.parametrize(
    "typed",
    ["ABC", "12345", "CV1 2A", "CV1 2ABC", "", None, "QV1 2AB", "CV1 2CA", "CV1-2AB", "1V1 2AB"],
)
def test_things_that_are_not_postcodes_are_refused(typed):
    assert normalise_postcode(typed) is None


# --- references ---------------------------------------------------------------------------


def test_new_references_are_easy_to_read_out(app):
    references = {new_reference() for _ in range(200)}
    for reference in references:
        assert re.fullmatch(r"SP-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}", reference)
        assert not set(reference[3:]) & set("0O1IL")
    assert len(references) > 190


def test_new_reference_skips_one_already_taken(app, monkeypatch):
    make_referral(reference="SP-222222")
    letters = iter("222222" + "333333")
    monkeypatch.setattr(intake.secrets, "choice", lambda alphabet: next(letters))

    assert new_reference() == "SP-333333"


# --- submit -------------------------------------------------------------------------------


def person(**kw) -> PersonDetails:
    return PersonDetails(
        **{
            "given_name": "Ada",
            "family_name": "Lovelace",
            "date_of_birth": date(1950, 3, 15),
            "nhs_number": VALID,
            "postcode": "CV1 2AB",
            "phone": "07700 900982",
            **kw,
        }
    )


def details(source=ReferralSource.PRACTICE, **kw) -> ReferralDetails:
    return ReferralDetails(
        **{
            "source": source,
            "reasons": [ReferralReason.LONELINESS],
            "consent_given": True,
            "consent_recorded_by": "Dr Referrer",
            **kw,
        }
    )


def resident_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Resident))


def referral_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Referral))


def test_submit_saves_a_new_person_and_referral(practice_user):
    practice = practice_user.practice
    started = utcnow()

    referral = submit(
        person(practice_id=practice.id, email="ada@example.com"),
        details(
            practice_id=practice.id,
            reasons=[ReferralReason.MONEY, ReferralReason.LONELINESS, ReferralReason.MONEY],
            details="Recently widowed",
        ),
        Actor.of(practice_user),
    )
    db.session.commit()
    db.session.expire_all()

    assert re.fullmatch(r"SP-[2-9A-HJKMNP-Z]{6}", referral.reference)
    assert referral.status == ReferralStatus.RECEIVED
    assert referral.referred_by_id == practice_user.id
    assert referral.consent_given is True
    assert started <= referral.received_at <= utcnow()
    assert referral.consent_recorded_at == referral.received_at
    assert sorted(referral.reason_codes) == [ReferralReason.LONELINESS, ReferralReason.MONEY]
    resident = referral.resident
    assert (resident.nhs_number, resident.full_name) == (VALID, "Ada Lovelace")
    assert resident.email == "ada@example.com"
    assert resident.practice_id == practice.id
    (event,) = referral.events
    assert (event.action, event.to_status) == (ReferralAction.RECEIVED, ReferralStatus.RECEIVED)
    assert event.actor_id == practice_user.id
    assert event.version == referral.version


def test_self_referral_is_received_from_the_public_form(app):
    referral = submit(person(), details(ReferralSource.SELF), SELF_REFERRAL_FORM)
    db.session.commit()

    assert referral.referred_by_id is None
    (event,) = referral.events
    assert event.actor_id is None
    assert event.actor_label == SELF_REFERRAL_FORM.label


def test_extra_notes_become_notes_for_the_hub(coordinator):
    referral = submit(
        person(),
        details(ReferralSource.PROFESSIONAL, extra_notes=["Prefers afternoons"]),
        Actor.of(coordinator),
    )
    db.session.commit()

    assert [(e.action, e.note) for e in referral.events] == [
        (ReferralAction.RECEIVED, None),
        (ReferralAction.NOTE, "Prefers afternoons"),
    ]


def test_a_referral_without_consent_is_refused_and_nothing_is_saved(practice_user):
    with pytest.raises(TransitionRefused) as caught:
        submit(
            person(),
            details(consent_given=False, practice_id=practice_user.practice_id),
            Actor.of(practice_user),
        )
    assert caught.value.field == "consent"
    assert caught.value.message == "A referral needs the person's consent"
    db.session.flush()
    assert resident_count() == 0
    assert referral_count() == 0


def test_a_gp_referral_reuses_the_resident_and_updates_their_details(practice_user):
    practice = practice_user.practice
    existing = make_resident(
        nhs_number=VALID,
        given_name="Adah",
        family_name="Byron",
        phone="01632 960001",
        email="old@example.com",
        address="1 Old Road",
    )
    older = make_referral(resident=existing, received_at=utcnow() - timedelta(days=90))

    referral = submit(
        person(
            given_name="Ada",
            family_name="Lovelace",
            phone="07700 900982",
            address="2 New Street",
            email=None,
            preferred_contact=PreferredContact.TEXT,
            interpreter_needed=True,
            practice_id=practice.id,
        ),
        details(practice_id=practice.id),
        Actor.of(practice_user),
    )
    db.session.commit()
    db.session.expire_all()

    assert resident_count() == 1
    assert referral.resident_id == existing.id
    assert (existing.given_name, existing.family_name) == ("Ada", "Lovelace")
    assert existing.phone == "07700 900982"
    assert existing.address == "2 New Street"
    assert existing.email == "old@example.com"  # left alone when not given
    assert existing.preferred_contact == PreferredContact.TEXT
    assert existing.interpreter_needed is True
    assert existing.practice_id == practice.id
    assert [r.id for r in earlier_referrals(referral)] == [older.id]
    assert [e.action for e in referral.events] == [ReferralAction.RECEIVED]


def test_earlier_referrals_are_the_persons_others_newest_first(app):
    resident = make_resident()
    oldest = make_referral(resident=resident, received_at=utcnow() - timedelta(days=300))
    middle = make_referral(resident=resident, received_at=utcnow() - timedelta(days=30))
    latest = make_referral(resident=resident)
    make_referral()  # someone else

    assert earlier_referrals(latest) == [middle, oldest]
    assert earlier_referrals(oldest) == [latest, middle]
    assert earlier_referrals(make_referral()) == []


def test_a_matching_self_referral_reuses_the_resident_fills_gaps_and_flags_differences(app):
    existing = make_resident(
        nhs_number=VALID,
        given_name="Ada",
        family_name="Lovelace",
        date_of_birth=date(1950, 3, 15),
        phone="01632 960001",
        email=None,
        address="",
        postcode="CV1 1AA",
    )

    referral = submit(
        person(
            given_name="Adeline",
            family_name="LOVELACE",
            phone="07700 900982",
            email="ada@example.com",
            address="2 New Street",
            postcode="CV1 2AB",
        ),
        details(ReferralSource.SELF),
        SELF_REFERRAL_FORM,
    )
    db.session.commit()
    db.session.expire_all()

    assert resident_count() == 1
    assert referral.resident_id == existing.id
    assert existing.nhs_number == VALID
    assert existing.given_name == "Ada"
    assert existing.phone == "01632 960001"
    assert existing.postcode == "CV1 1AA"
    assert existing.email == "ada@example.com"
    assert existing.address == "2 New Street"
    # What differs from the record is put to the hub to check, not taken on trust.
    assert [e.action for e in referral.events] == [
        ReferralAction.RECEIVED,
        ReferralAction.NOTE,
        ReferralAction.NOTE,
    ]
    notes = " ".join(e.note for e in referral.events[1:])
    assert "07700 900982" in notes and "CV1 2AB" in notes


@pytest.mark.parametrize(
    "mismatch",
    [{"family_name": "Babbage"}, {"date_of_birth": date(1951, 3, 15)}],
    ids=["family-name", "date-of-birth"],
)
def test_a_self_referral_that_does_not_match_is_kept_apart_without_the_nhs_number(app, mismatch):
    existing = make_resident(
        nhs_number=VALID,
        given_name="Ada",
        family_name="Lovelace",
        date_of_birth=date(1950, 3, 15),
        phone="01632 960001",
    )

    referral = submit(
        person(phone="07700 900982", **mismatch), details(ReferralSource.SELF), SELF_REFERRAL_FORM
    )
    db.session.commit()
    db.session.expire_all()

    assert resident_count() == 2
    assert referral.resident_id != existing.id
    assert referral.resident.nhs_number is None
    assert referral.resident.phone == "07700 900982"
    assert existing.nhs_number == VALID
    assert existing.phone == "01632 960001"
    assert earlier_referrals(referral) == []

    received, note = referral.events
    assert received.action == ReferralAction.RECEIVED
    assert note.action == ReferralAction.NOTE
    assert note.actor_id is None
    assert "did not match" in note.note
    assert VALID not in note.note.replace(" ", "").replace("-", "")
    assert VALID[6:] not in note.note


def test_a_self_referral_with_a_new_nhs_number_keeps_it(app):
    other = make_resident(nhs_number=valid_nhs_number(42))

    referral = submit(person(), details(ReferralSource.SELF), SELF_REFERRAL_FORM)
    db.session.commit()

    assert referral.resident_id != other.id
    assert referral.resident.nhs_number == VALID
    assert [e.action for e in referral.events] == [ReferralAction.RECEIVED]


def test_people_without_nhs_numbers_are_never_merged(app):
    first = submit(person(nhs_number=None), details(ReferralSource.SELF), SELF_REFERRAL_FORM)
    second = submit(person(nhs_number=None), details(ReferralSource.SELF), SELF_REFERRAL_FORM)
    db.session.commit()

    assert first.resident_id != second.resident_id
    assert resident_count() == 2


def test_a_gp_referral_for_a_self_referred_person_adopts_their_record(practice_user):
    practice = make_practice()
    first = submit(person(practice_id=None), details(ReferralSource.SELF), SELF_REFERRAL_FORM)
    second = submit(
        person(phone="01632 960001", practice_id=practice.id),
        details(practice_id=practice_user.practice_id),
        Actor.of(practice_user),
    )
    db.session.commit()

    assert second.resident_id == first.resident_id
    assert second.resident.practice_id == practice.id
    assert second.resident.phone == "01632 960001"
    assert earlier_referrals(second) == [first]


def test_a_known_person_sets_their_own_preferences_on_a_self_referral(app):
    existing = make_resident(
        nhs_number=VALID,
        family_name="Lovelace",
        date_of_birth=date(1950, 3, 15),
        language="English",
        interpreter_needed=False,
        preferred_contact=PreferredContact.PHONE,
    )

    submit(
        person(
            language="Polish",
            interpreter_needed=True,
            preferred_contact=PreferredContact.LETTER,
            phone=existing.phone,
            postcode=existing.postcode,
        ),
        details(ReferralSource.SELF),
        SELF_REFERRAL_FORM,
    )
    db.session.commit()
    db.session.expire_all()

    assert existing.language == "Polish"
    assert existing.interpreter_needed is True
    assert existing.preferred_contact == PreferredContact.LETTER


def test_a_gp_referral_corrects_the_date_of_birth(app, practice_user):
    existing = make_resident(nhs_number=VALID, date_of_birth=date(1950, 3, 15))

    submit(
        person(date_of_birth=date(1950, 5, 13), practice_id=practice_user.practice_id),
        details(practice_id=practice_user.practice_id),
        Actor.of(practice_user),
    )
    db.session.commit()
    db.session.expire_all()

    assert existing.date_of_birth == date(1950, 5, 13)
