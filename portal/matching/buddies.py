"""Ranking buddies (and telephone befrienders) for one person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from portal.matching.engine import Context, Kind, Refusal, SoftFactor, Values
from portal.matching.factors import (
    describe_distance,
    distance_values,
    language_reason,
    language_values,
)
from portal.matching.people import Person, describe_slots, gender_group

# A telephone befriender never travels, but most people asking for a buddy hope to meet one:
# neither favoured nor passed over on distance.
BY_PHONE_CLOSENESS = 0.5
# Shared interests or free times: one is good, two or more is as good as it gets.
# A table rather than min(1, n / 2): it is looked up for thousands of candidates.
TWO_IS_PLENTY = (0.0, 0.5) + (1.0,) * 64


@dataclass(frozen=True)
class BuddyCandidate:
    id: int
    name: str
    district: str | None = None
    gender: str | None = None
    languages: frozenset[str] = frozenset()  # lower case
    interests: frozenset[str] = frozenset()
    availability: int = 0
    taken: int = 0
    capacity: int = 2
    by_phone: bool = False  # a telephone befriender, who never travels
    # Why they are not cleared to buddy (status, DBS, training), from `compliance`.
    problems: tuple[str, ...] = ()
    gender_key: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gender_key", gender_group(self.gender))


def rules(person: Person, c: BuddyCandidate, context: Context) -> list[Refusal]:
    refusals = [Refusal("compliance", p) for p in c.problems]
    if c.id in person.current_buddy_ids:
        refusals.append(Refusal("already", f"Already asked to buddy {person.name}"))
    if c.id in person.declined_buddy_ids:
        refusals.append(Refusal("declined", f"Already said they cannot buddy {person.name}"))
    if c.taken >= c.capacity:
        refusals.append(Refusal("capacity", f"At capacity: buddying {c.taken} of {c.capacity}"))
    if person.availability and c.availability and not person.availability & c.availability:
        refusals.append(
            Refusal(
                "unavailable",
                render=lambda: (
                    f"Not free when {person.name} is "
                    f"(they are free {describe_slots(c.availability)})"
                ),
            )
        )
    return refusals


def passes(
    person: Person, pool: Sequence[BuddyCandidate], context: Context
) -> list[BuddyCandidate]:
    """Those `rules` finds nothing against, in one pass: thousands are checked per ranking."""
    free = person.availability
    asked = person.current_buddy_ids | person.declined_buddy_ids
    return [
        c
        for c in pool
        if not c.problems
        and c.taken < c.capacity
        and (not free or not c.availability or free & c.availability)
        and c.id not in asked
    ]


# --- distance -----------------------------------------------------------------------------


def _distance_values(person: Person, pool: Sequence[BuddyCandidate], context: Context) -> Values:
    return distance_values(person, pool, context, "by_phone", BY_PHONE_CLOSENESS)


def _distance_reason(person: Person, c: BuddyCandidate, context: Context) -> str:
    if c.by_phone:
        return "Befriends by phone: no travel, but they will not meet in person"
    return describe_distance(person, c.district, context)


# --- language, interests, availability, gender, load ------------------------------------


def _interest_values(person: Person, pool: Sequence[BuddyCandidate], context: Context) -> Values:
    wanted = person.wanted_interests
    if not wanted:
        return f"Shared interests are not counted: none are recorded for {person.name}."
    return [TWO_IS_PLENTY[len(wanted & c.interests)] for c in pool]


def _interest_reason(person: Person, c: BuddyCandidate, context: Context) -> str:
    shared = sorted(person.wanted_interests & c.interests)
    if not shared:
        return f"No interests in common with {person.name}"
    return f"Shares {person.name}'s interest in " + _and(shared)


def _availability_values(
    person: Person, pool: Sequence[BuddyCandidate], context: Context
) -> Values:
    if not person.availability:
        return f"Availability is not counted: {person.name}'s free times are not recorded."
    free = person.availability
    return [TWO_IS_PLENTY[(free & c.availability).bit_count()] for c in pool]


def _availability_reason(person: Person, c: BuddyCandidate, context: Context) -> str:
    if not c.availability:
        return "Has not said when they are free"
    return f"Free when {person.name} is: {describe_slots(person.availability & c.availability)}"


def _gender_values(person: Person, pool: Sequence[BuddyCandidate], context: Context) -> Values:
    wanted = gender_group(person.preferred_gender)
    if wanted is None:
        return f"Gender is not counted: {person.name} has no preference."
    return [1.0 if c.gender_key == wanted else 0.0 for c in pool]


def _gender_reason(person: Person, c: BuddyCandidate, context: Context) -> str:
    wanted = gender_group(person.preferred_gender)
    if gender_group(c.gender) == wanted:
        return f"A {wanted}, as {person.name} asked"
    return f"{person.name} asked for a buddy who is a {wanted}"


def _load_values(person: Person, pool: Sequence[BuddyCandidate], context: Context) -> Values:
    return [1 - c.taken / c.capacity if c.capacity else 0.0 for c in pool]


def _load_reason(person: Person, c: BuddyCandidate, context: Context) -> str:
    return f"Has capacity: buddying {c.taken} of {c.capacity}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


KIND: Kind[BuddyCandidate] = Kind(
    name="buddy",
    plural="buddies and befrienders",
    rules=rules,
    factors=(
        SoftFactor("distance", _distance_values, _distance_reason),
        SoftFactor("language", language_values, language_reason),
        SoftFactor("interests", _interest_values, _interest_reason),
        SoftFactor("availability", _availability_values, _availability_reason),
        SoftFactor("gender", _gender_values, _gender_reason),
        SoftFactor("load", _load_values, _load_reason),
    ),
    refusal_phrases={
        "compliance": (
            "is not cleared to buddy (status, DBS check or training)",
            "are not cleared to buddy (status, DBS check or training)",
        ),
        "already": ("is already asked", "are already asked"),
        "declined": ("has already said no", "have already said no"),
        "capacity": (
            "already has as many people as they can take",
            "already have as many people as they can take",
        ),
        "unavailable": ("is not free when the person is", "are not free when the person is"),
    },
    empty_pool="there are no buddies or telephone befrienders on the portal yet",
    tie_break=lambda c: (c.taken / c.capacity if c.capacity else 1, c.name.lower(), c.id),
    candidate_id=lambda c: c.id,
    candidate_name=lambda c: c.name,
    passes=passes,
)
