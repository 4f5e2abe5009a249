"""The admin's weights: typed in, checked, stored, and used in place of the defaults."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.matching import weights
from portal.matching.models import MatchingWeight
from portal.matching.weights import DEFAULTS, FACTOR_KEYS, FACTORS, WeightRefused, parse_weight
from tests.factories import make_user

BY_KEY = {f.key: f for f in FACTORS}
DISTANCE = BY_KEY["distance"]
TEAM = BY_KEY["neighbourhood"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "The weight for distance cannot be negative: use 0 to leave it out"),
        ("-0.5", "The weight for distance cannot be negative: use 0 to leave it out"),
        ("two", "The weight for distance must be a number from 0 to 10, like 2 or 0.5"),
        ("2,5", "The weight for distance must be a number from 0 to 10, like 2 or 0.5"),
        ("3 4", "The weight for distance must be a number from 0 to 10, like 2 or 0.5"),
        ("", "Enter a weight for distance, from 0 to 10"),
        ("   ", "Enter a weight for distance, from 0 to 10"),
        (None, "Enter a weight for distance, from 0 to 10"),
        ("nan", "The weight for distance must be a number from 0 to 10"),
        ("NaN", "The weight for distance must be a number from 0 to 10"),
        ("inf", "The weight for distance must be a number from 0 to 10"),
        ("-inf", "The weight for distance must be a number from 0 to 10"),
        ("Infinity", "The weight for distance must be a number from 0 to 10"),
        ("10.5", "The weight for distance must be 10 or less"),
        ("11", "The weight for distance must be 10 or less"),
        ("1e3", "The weight for distance must be 10 or less"),
    ],
)
def test_parse_weight_refuses_with_a_clear_message(text, message):
    with pytest.raises(WeightRefused) as refused:
        parse_weight(DISTANCE, text)
    assert refused.value.message == message
    assert str(refused.value) == message
    assert refused.value.factor == "distance"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-2", "The weight for neighbourhood team cannot be negative: use 0 to leave it out"),
        ("", "Enter a weight for neighbourhood team, from 0 to 10"),
        ("lots", "The weight for neighbourhood team must be a number from 0 to 10, like 2 or 0.5"),
        ("99", "The weight for neighbourhood team must be 10 or less"),
    ],
)
def test_the_message_names_the_factor(text, message):
    with pytest.raises(WeightRefused) as refused:
        parse_weight(TEAM, text)
    assert refused.value.message == message
    assert refused.value.factor == "neighbourhood"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0.0),
        ("2.5", 2.5),
        (" 3 ", 3.0),
        ("\t7\n", 7.0),
        ("10", 10.0),
        ("10.0", 10.0),
        (".5", 0.5),
        ("1e0", 1.0),
        ("0.333333", 0.33),  # kept to two decimal places
    ],
)
def test_parse_weight_accepts_numbers_from_0_to_10(text, value):
    assert parse_weight(DISTANCE, text) == value


def test_every_factor_has_a_default_within_range_and_a_label():
    assert set(DEFAULTS) == set(FACTOR_KEYS)
    assert len(FACTOR_KEYS) == len(set(FACTOR_KEYS))
    for factor in FACTORS:
        assert 0 <= factor.default <= 10
        assert factor.label and factor.hint
        # The defaults themselves would pass the admin's form.
        assert parse_weight(factor, str(factor.default)) == factor.default


# --- stored -------------------------------------------------------------------------------------


def test_current_falls_back_to_the_defaults(app, db):
    assert weights.current() == DEFAULTS


def test_save_then_current_round_trips(app, db):
    admin = make_user(Role.ADMIN)
    chosen = {key: float(n) for n, key in enumerate(FACTOR_KEYS)}
    chosen["load"] = 2.5
    weights.save(chosen, admin.id)
    db.session.commit()
    db.session.expire_all()
    assert weights.current() == chosen
    rows = db.session.scalars(sa.select(MatchingWeight)).all()
    assert {r.factor for r in rows} == set(FACTOR_KEYS)
    assert {r.updated_by_id for r in rows} == {admin.id}


def test_saving_again_updates_the_rows_in_place(app, db):
    first, second = make_user(Role.ADMIN), make_user(Role.ADMIN)
    weights.save(dict.fromkeys(FACTOR_KEYS, 1.0), first.id)
    db.session.commit()
    weights.save({**dict.fromkeys(FACTOR_KEYS, 1.0), "distance": 9.0}, second.id)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MatchingWeight)) == len(
        FACTOR_KEYS
    )
    assert weights.current()["distance"] == 9.0
    assert weights.current()["language"] == 1.0
    distance = db.session.get(MatchingWeight, "distance")
    assert distance.updated_by_id == second.id


def test_a_factor_without_a_row_keeps_its_default(app, db):
    db.session.add(MatchingWeight(factor="language", weight=0.0))
    db.session.commit()
    assert weights.current() == {**DEFAULTS, "language": 0.0}


@pytest.mark.parametrize("bad", [-1.0, 10.5])
def test_the_database_refuses_a_weight_out_of_range(app, db, bad):
    db.session.add(MatchingWeight(factor="distance", weight=bad))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_minus_zero_is_taken_as_plain_zero():
    # "-0" is not negative, so it is accepted; it must then be stored and shown as 0, not as
    # "-0" (the weights page writes each stored weight back with f"{value:g}").
    value = parse_weight(DISTANCE, "-0")
    assert value == 0
    assert f"{value:g}" == "0"
