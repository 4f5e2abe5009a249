"""Soft factors more than one kind of match weighs the same way: distance and language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from portal.matching.engine import Context, Values
from portal.matching.people import Person

# Beyond this, distance adds nothing: a buddy this far away is as good as any other far one.
FAR_KM = 15.0


class Placed(Protocol):
    district: str | None


class Speaker(Protocol):
    languages: frozenset[str]  # lower case


def distance_note(person: Person, context: Context) -> str | None:
    """Why distance is left out for this person, or None when it counts."""
    if person.district is None:
        return f"Distance is not counted: there is no postcode for {person.name}."
    if person.district not in context.centroids:
        return (
            f"Distance is not counted: {person.district} is not a postcode district "
            "the portal knows."
        )
    return None


def closeness(km: float | None) -> float:
    return 0.0 if km is None else max(0.0, 1 - km / FAR_KM)


def distance_values(
    person: Person, pool: Sequence[Placed], context: Context, no_travel: str, value: float
) -> Values:
    """Closeness per candidate, worked out once per district. A candidate whose `no_travel`
    flag is set (a phone befriender, an online activity) gets `value` instead."""
    note = distance_note(person, context)
    if note:
        return note
    near = {d: closeness(context.km(person.district, d)) for d in {c.district for c in pool}}
    return [value if getattr(c, no_travel) else near[c.district] for c in pool]


def describe_distance(person: Person, district: str | None, context: Context) -> str:
    km = context.km(person.district, district)
    if km is None:
        return (
            "Distance not known: no postcode recorded"
            if district is None
            else f"Distance not known: {district} is not a district the portal knows"
        )
    if km == 0:
        return f"In the same postcode district ({district})"
    return f"{km:.1f} km away ({district})"


def language_values(person: Person, pool: Sequence[Speaker], context: Context) -> Values:
    if not person.speaks_other_language:
        return f"Language is not counted: {person.name} speaks English."
    wanted = person.language.strip().lower()
    return [1.0 if wanted in c.languages else 0.0 for c in pool]


def language_reason(person: Person, c: Speaker, context: Context) -> str:
    if person.language.strip().lower() in c.languages:
        return f"Speaks {person.language}"
    return f"Does not speak {person.language}"
