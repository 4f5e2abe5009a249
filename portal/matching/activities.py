"""Ranking directory activities for one person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.directory.models import ActivityCategory
from portal.directory.search import ACCESS_FEATURES
from portal.matching.engine import Context, Kind, Refusal, SoftFactor, Values
from portal.matching.factors import describe_distance, distance_values
from portal.matching.people import INTEREST_CATEGORIES, REASON_CATEGORIES, Person, describe_slots
from portal.referrals.models import ReferralReason

ONLINE_CLOSENESS = 0.5


@dataclass(frozen=True)
class ActivityCandidate:
    id: int
    title: str
    organisation: str
    uuid: str = ""
    # Published by a verified organisation; otherwise `closed_because` says what it is.
    open: bool = True
    closed_because: str | None = None
    accepts_referrals: bool = True
    spaces_available: int | None = None
    access: frozenset[str] = frozenset()
    min_age: int | None = None
    max_age: int | None = None
    categories: frozenset[str] = frozenset()
    # The listing's words, lower case and space-separated, as directory search keeps them.
    text: str = ""
    district: str | None = None
    online: bool = False
    slots: int = 0
    by_arrangement: bool = False
    free: bool = False


def rules(person: Person, a: ActivityCandidate, context: Context) -> list[Refusal]:
    refusals = []
    if not a.open:
        refusals.append(Refusal("closed", a.closed_because or "Not open in the directory"))
    if not a.accepts_referrals:
        refusals.append(Refusal("no_referrals", "Does not take referrals: signpost instead"))
    if a.spaces_available == 0:
        refusals.append(Refusal("full", "Full: no spaces at the moment"))
    for need in sorted(person.access_needs - a.access):
        label = ACCESS_FEATURES.get(need, need).lower()
        refusals.append(Refusal("access", f"No {label}, which {person.name} needs"))
    if person.age is not None:
        if a.min_age is not None and person.age < a.min_age:
            refusals.append(
                Refusal("age", f"For ages {a.min_age} and over; {person.name} is {person.age}")
            )
        if a.max_age is not None and person.age > a.max_age:
            refusals.append(
                Refusal("age", f"For ages up to {a.max_age}; {person.name} is {person.age}")
            )
    if a.id in person.referred_activity_ids:
        refusals.append(Refusal("already", f"{person.name} is already referred to it"))
    return refusals


def _distance_values(person: Person, pool: Sequence[ActivityCandidate], context: Context) -> Values:
    return distance_values(person, pool, context, "online", ONLINE_CLOSENESS)


def _distance_reason(person: Person, a: ActivityCandidate, context: Context) -> str:
    if a.online:
        return "Online: no travel, but needs a device"
    return describe_distance(person, a.district, context)


def _goal_hits(person: Person, a: ActivityCandidate) -> list[str]:
    """The person's goals whose words begin a word of the listing ("garden" in "gardening")."""
    if not person.goals:
        return []
    padded = " " + a.text
    return [g.text for g in person.goals if any(" " + s in padded for s in g.stems)]


def _interest_values(person: Person, pool: Sequence[ActivityCandidate], context: Context) -> Values:
    wanted = person.wanted_categories
    if not wanted and not person.goals:
        return f"Interests are not counted: no reasons, interests or goals for {person.name}."
    return [
        min(1.0, (len(wanted & a.categories) + (1 if _goal_hits(person, a) else 0)) / 2)
        for a in pool
    ]


def _interest_reason(person: Person, a: ActivityCandidate, context: Context) -> str:
    said = []
    for category in sorted(person.wanted_categories & a.categories):
        label = ActivityCategory(category).label
        why = [
            ReferralReason(r).label
            for r in sorted(person.reasons)
            if category in REASON_CATEGORIES.get(r, ())
        ]
        why += [
            i for i in sorted(person.wanted_interests) if INTEREST_CATEGORIES.get(i) == category
        ]
        said.append(f"{label} matches '{why[0]}'" if why else label)
    hits = _goal_hits(person, a)
    if hits:
        said.append(f"Fits {person.name}'s goal '{hits[0]}'")
    return (
        "; ".join(said) if said else f"Not one of the kinds of thing {person.name} is looking for"
    )


def _availability_values(
    person: Person, pool: Sequence[ActivityCandidate], context: Context
) -> Values:
    if not person.availability:
        return f"Availability is not counted: {person.name}'s free times are not recorded."
    return [
        0.5 if a.by_arrangement else (1.0 if person.availability & a.slots else 0.0) for a in pool
    ]


def _availability_reason(person: Person, a: ActivityCandidate, context: Context) -> str:
    if a.by_arrangement:
        return "Times by arrangement"
    overlap = person.availability & a.slots
    if overlap:
        return f"Meets when {person.name} is free: {describe_slots(overlap)}"
    return f"Meets when {person.name} is not free ({describe_slots(a.slots) or 'times not given'})"


KIND: Kind[ActivityCandidate] = Kind(
    name="activity",
    plural="activities",
    rules=rules,
    factors=(
        SoftFactor("distance", _distance_values, _distance_reason),
        SoftFactor("interests", _interest_values, _interest_reason),
        SoftFactor("availability", _availability_values, _availability_reason),
    ),
    refusal_phrases={
        "closed": ("is not open in the directory", "are not open in the directory"),
        "no_referrals": ("does not take referrals", "do not take referrals"),
        "full": ("is full", "are full"),
        "access": (
            "does not meet the person's access needs",
            "do not meet the person's access needs",
        ),
        "age": ("is for another age group", "are for other age groups"),
        "already": (
            "already has a referral for the person",
            "already have referrals for the person",
        ),
    },
    empty_pool="there are no activities in the directory yet",
    tie_break=lambda a: (not a.free, a.title.lower(), a.id),
    candidate_id=lambda a: a.id,
    candidate_name=lambda a: f"{a.title} ({a.organisation})",
)
