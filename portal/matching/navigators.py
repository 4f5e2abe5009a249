"""Ranking navigators for a referral at triage, or when a case changes hands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.matching.engine import Context, Kind, Refusal, SoftFactor, Values
from portal.matching.factors import language_reason, language_values
from portal.matching.people import Person


@dataclass(frozen=True)
class NavigatorCandidate:
    id: int
    name: str
    open_cases: int = 0
    capacity: int | None = None
    is_volunteer: bool = False
    neighbourhood_id: int | None = None
    neighbourhood_name: str | None = None
    languages: frozenset[str] = frozenset()  # lower case


def rules(person: Person, n: NavigatorCandidate, context: Context) -> list[Refusal]:
    refusals = []
    if n.id == person.current_navigator_id:
        refusals.append(Refusal("current", f"Already has {person.name}'s case"))
    if n.capacity is not None and n.open_cases >= n.capacity:
        refusals.append(Refusal("capacity", f"At capacity: {n.open_cases} of {n.capacity} cases"))
    if n.is_volunteer and person.support_level not in (None, 1):
        refusals.append(
            Refusal(
                "level",
                f"Volunteer navigators support level 1 only; {person.name} needs level "
                f"{person.support_level}",
            )
        )
    return refusals


def _team_values(person: Person, pool: Sequence[NavigatorCandidate], context: Context) -> Values:
    if person.neighbourhood_id is None:
        return f"Neighbourhood team is not counted: {person.name}'s GP practice is not known."
    return [1.0 if n.neighbourhood_id == person.neighbourhood_id else 0.0 for n in pool]


def _team_reason(person: Person, n: NavigatorCandidate, context: Context) -> str:
    if n.neighbourhood_id == person.neighbourhood_id:
        return f"Works with {n.neighbourhood_name}, the team for {person.name}'s practice"
    if n.neighbourhood_name:
        return f"Works with another team ({n.neighbourhood_name})"
    return "No neighbourhood team recorded"


def _continuity_values(
    person: Person, pool: Sequence[NavigatorCandidate], context: Context
) -> Values:
    if not person.previous_navigator_ids:
        return f"Continuity is not counted: {person.name} has not had a navigator before."
    return [1.0 if n.id in person.previous_navigator_ids else 0.0 for n in pool]


def _continuity_reason(person: Person, n: NavigatorCandidate, context: Context) -> str | None:
    if n.id in person.previous_navigator_ids:
        return f"Supported {person.name} before"
    return None


def load_value(n: NavigatorCandidate) -> float:
    # No capacity set: counted as half full, neither favoured nor passed over.
    if not n.capacity:
        return 0.5
    return max(0.0, 1 - n.open_cases / n.capacity)


def _load_values(person: Person, pool: Sequence[NavigatorCandidate], context: Context) -> Values:
    return [load_value(n) for n in pool]


def _load_reason(person: Person, n: NavigatorCandidate, context: Context) -> str:
    if not n.capacity:
        return f"{n.open_cases} open cases; no capacity set"
    return f"Has room: {n.open_cases} of {n.capacity} cases"


KIND: Kind[NavigatorCandidate] = Kind(
    name="navigator",
    plural="navigators",
    rules=rules,
    factors=(
        SoftFactor("neighbourhood", _team_values, _team_reason),
        SoftFactor("language", language_values, language_reason),
        SoftFactor("continuity", _continuity_values, _continuity_reason),
        SoftFactor("load", _load_values, _load_reason),
    ),
    refusal_phrases={
        "current": ("already has the case", "already have the case"),
        "capacity": ("is at capacity", "are at capacity"),
        "level": (
            "is a volunteer navigator, who support level 1 only",
            "are volunteer navigators, who support level 1 only",
        ),
    },
    empty_pool="there are no active navigators on the portal",
    tie_break=lambda n: (-load_value(n), n.name.lower(), n.id),
    candidate_id=lambda n: n.id,
    candidate_name=lambda n: n.name,
)
