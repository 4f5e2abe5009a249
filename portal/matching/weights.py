"""The soft factors matching weighs, their defaults, and the admin's own weights.

A weight says how much a factor counts against the others: 0 leaves it out, 10 is
the most. Every candidate's score is out of 100 whatever the weights are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from portal.db_types import utcnow
from portal.extensions import db
from portal.matching.models import MAX_WEIGHT, MatchingWeight


@dataclass(frozen=True)
class Factor:
    key: str
    label: str
    hint: str
    default: float


FACTORS: tuple[Factor, ...] = (
    Factor(
        "distance",
        "Distance",
        "How close a buddy or activity is to the person, between postcode district centres",
        3,
    ),
    Factor(
        "neighbourhood",
        "Neighbourhood team",
        "A navigator who works with the neighbourhood team of the person's practice",
        2,
    ),
    Factor("language", "Language", "Speaks the person's language, when it is not English", 4),
    Factor(
        "interests",
        "Shared interests",
        "Interests and activity categories that match the person's reasons, interests and goals",
        3,
    ),
    Factor("availability", "Availability", "Free at the times the person is free", 2),
    Factor(
        "gender", "Buddy's gender", "A buddy of the gender the person asked for, if they asked", 4
    ),
    Factor("continuity", "Continuity", "A navigator who supported the person before", 3),
    Factor("load", "Current load", "Room to take someone on, so work is spread fairly", 1),
)
FACTOR_KEYS = tuple(f.key for f in FACTORS)
DEFAULTS: dict[str, float] = {f.key: f.default for f in FACTORS}

Weights = Mapping[str, float]


class WeightRefused(ValueError):
    def __init__(self, message: str, factor: str):
        super().__init__(message)
        self.message = message
        self.factor = factor


def parse_weight(factor: Factor, text: str | None) -> float:
    """A weight typed by an admin: a number from 0 to 10, or a refusal that says what is wrong."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise WeightRefused(f"Enter a weight for {factor.label.lower()}, from 0 to 10", factor.key)
    try:
        value = float(cleaned)
    except ValueError:
        raise WeightRefused(
            f"The weight for {factor.label.lower()} must be a number from 0 to 10, like 2 or 0.5",
            factor.key,
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise WeightRefused(
            f"The weight for {factor.label.lower()} must be a number from 0 to 10", factor.key
        )
    if value < 0:
        raise WeightRefused(
            f"The weight for {factor.label.lower()} cannot be negative: use 0 to leave it out",
            factor.key,
        )
    if value > MAX_WEIGHT:
        raise WeightRefused(
            f"The weight for {factor.label.lower()} must be {MAX_WEIGHT} or less", factor.key
        )
    # + 0.0 turns a typed "-0" into plain 0.
    return round(value, 2) + 0.0


def current() -> dict[str, float]:
    """The weights in use: the admin's where set, the defaults elsewhere."""
    stored = dict(db.session.execute(sa.select(MatchingWeight.factor, MatchingWeight.weight)).all())
    return {key: float(stored.get(key, DEFAULTS[key])) for key in FACTOR_KEYS}


def save(values: Mapping[str, float], by_user_id: int) -> None:
    """Store every factor's weight at once; the caller has parsed them all first."""
    rows = {row.factor: row for row in db.session.scalars(sa.select(MatchingWeight))}
    for key in FACTOR_KEYS:
        row = rows.get(key)
        if row is None:
            db.session.add(MatchingWeight(factor=key, weight=values[key], updated_by_id=by_user_id))
        else:
            row.weight = values[key]
            row.updated_by_id = by_user_id
            row.updated_at = utcnow()
