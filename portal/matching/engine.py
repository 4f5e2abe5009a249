"""Ranking with reasons: the part every kind of match shares.

A kind (buddies, activities, navigators) supplies its hard rules, which exclude a
candidate and say why, and its soft factors, each of which scores every eligible
candidate from 0 to 1 and can say in words what it saw. A candidate's score is the
weighted sum of the factors counted for this person, out of 100 when it fits every
one perfectly. A factor that cannot be counted for the person (no postcode, no free
times recorded) is left out for every candidate alike, and a note says so.

Reasons are written only for the candidates someone looks at, so ranking thousands
stays quick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from portal.matching.geo import Centroids, district_distance_km
from portal.matching.people import Person

C = TypeVar("C")


@dataclass(frozen=True)
class Refusal:
    """One hard rule a candidate fails. `key` groups refusals for the "no one matches" message."""

    key: str
    text: str


@dataclass(frozen=True)
class Reason:
    factor: str
    text: str
    # What the factor added to the score (out of 100); 0 for a reason that counts against.
    points: float

    @property
    def counts_for(self) -> bool:
        return self.points > 0


# A factor's values for every candidate (0 to 1), or a sentence saying why it is not counted
# for this person at all (no postcode, no free times recorded…).
Values = list[float] | str


@dataclass(frozen=True)
class SoftFactor(Generic[C]):
    key: str
    values: Callable[[Person, Sequence[C], Context], Values]
    explain: Callable[[Person, C, Context], str | None]


@dataclass
class Context:
    """What ranking needs beyond the person and the candidates; caches distances per district."""

    centroids: Centroids = field(default_factory=dict)
    _distances: dict[tuple[str | None, str | None], float | None] = field(default_factory=dict)

    def km(self, one: str | None, other: str | None) -> float | None:
        key = (one, other)
        if key not in self._distances:
            self._distances[key] = district_distance_km(self.centroids, one, other)
        return self._distances[key]


@dataclass(frozen=True)
class Kind(Generic[C]):
    name: str  # "buddy"
    plural: str  # "buddies"
    rules: Callable[[Person, C, Context], list[Refusal]]
    factors: tuple[SoftFactor[C], ...]
    # Refusal key → (one candidate, several candidates), e.g. ("is at capacity", "are at capacity").
    refusal_phrases: Mapping[str, tuple[str, str]]
    # When nobody is on the books at all.
    empty_pool: str
    # How equal scores are ordered: least busy first, then by name.
    tie_break: Callable[[C], Any]
    candidate_id: Callable[[C], int]
    candidate_name: Callable[[C], str]


@dataclass
class Suggestion(Generic[C]):
    candidate: C
    rank: int
    score: float
    reasons: list[Reason] | None = None


@dataclass
class Exclusion(Generic[C]):
    candidate: C
    refusals: list[Refusal]

    @property
    def why_not(self) -> list[str]:
        return [r.text for r in self.refusals]


@dataclass
class Ranking(Generic[C]):
    kind: Kind[C]
    person: Person
    weights: Mapping[str, float]
    context: Context
    suggestions: list[Suggestion[C]]
    excluded: list[Exclusion[C]]
    # Factors left out for this person, and why.
    notes: list[str]
    pool_size: int
    # Points per unit of weighted value: 100 over the weights of the factors counted.
    scale: float = 0.0

    def explain(self, suggestion: Suggestion[C]) -> list[Reason]:
        if suggestion.reasons is None:
            suggestion.reasons = _reasons(self, suggestion.candidate)
        return suggestion.reasons

    def top(self, n: int) -> list[Suggestion[C]]:
        chosen = self.suggestions[:n]
        for suggestion in chosen:
            self.explain(suggestion)
        return chosen

    def find(self, candidate_id: int) -> Suggestion[C] | Exclusion[C] | None:
        for suggestion in self.suggestions:
            if self.kind.candidate_id(suggestion.candidate) == candidate_id:
                self.explain(suggestion)
                return suggestion
        for exclusion in self.excluded:
            if self.kind.candidate_id(exclusion.candidate) == candidate_id:
                return exclusion
        return None

    def look_up(self, name: str, limit: int = 10) -> list[Suggestion[C] | Exclusion[C]]:
        """Candidates whose name contains these words, with their place or why not."""
        words = name.lower().split()
        if not words:
            return []
        found: list[Suggestion[C] | Exclusion[C]] = []
        for item in [*self.suggestions, *self.excluded]:
            label = self.kind.candidate_name(item.candidate).lower()
            if all(w in label for w in words):
                if isinstance(item, Suggestion):
                    self.explain(item)
                found.append(item)
                if len(found) == limit:
                    break
        return found

    @property
    def no_one_message(self) -> str | None:
        """Why nobody can be suggested, in one sentence; None when someone can."""
        if self.suggestions:
            return None
        if self.pool_size == 0:
            return f"No one matches, because {self.kind.empty_pool}."
        counts = Counter(e.refusals[0].key for e in self.excluded)
        parts = []
        for key, count in counts.most_common():
            one, several = self.kind.refusal_phrases[key]
            parts.append(f"{count} {one if count == 1 else several}")
        of = (
            f"the only {self.kind.name}"
            if self.pool_size == 1
            else f"the {self.pool_size} {self.kind.plural}"
        )
        return f"No one matches, because of {of}: " + _and(parts) + "."


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def scores(
    kind: Kind[C],
    person: Person,
    candidates: Sequence[C],
    weights: Mapping[str, float],
    context: Context,
) -> tuple[list[float], list[str], float]:
    """Every candidate's score out of 100, notes on the factors left out, and the scale used."""
    sums = [0.0] * len(candidates)
    notes: list[str] = []
    counted = 0.0
    for factor in kind.factors:
        weight = weights.get(factor.key, 0)
        if weight <= 0:
            continue
        # Asked even with no candidates, so the notes still say what was left out.
        values = factor.values(person, candidates, context)
        if isinstance(values, str):
            notes.append(values)
            continue
        counted += weight
        sums = [s + weight * v for s, v in zip(sums, values, strict=True)]
    scale = 100 / counted if counted else 0.0
    return [round(s * scale, 1) for s in sums], notes, scale


def rank(
    kind: Kind[C],
    person: Person,
    pool: Sequence[C],
    weights: Mapping[str, float],
    context: Context | None = None,
) -> Ranking[C]:
    """Every candidate in the pool: ranked with a score, or excluded with the rules it fails."""
    context = context or Context()
    eligible: list[C] = []
    excluded: list[Exclusion[C]] = []
    for candidate in pool:
        refusals = kind.rules(person, candidate, context)
        if refusals:
            excluded.append(Exclusion(candidate, refusals))
        else:
            eligible.append(candidate)
    points, notes, scale = scores(kind, person, eligible, weights, context)
    order = sorted(range(len(eligible)), key=lambda i: (-points[i], kind.tie_break(eligible[i])))
    suggestions = [
        Suggestion(eligible[i], place, points[i]) for place, i in enumerate(order, start=1)
    ]
    return Ranking(kind, person, weights, context, suggestions, excluded, notes, len(pool), scale)


def _reasons(ranking: Ranking[C], candidate: C) -> list[Reason]:
    kind, weights = ranking.kind, ranking.weights
    reasons = []
    for factor in kind.factors:
        weight = weights.get(factor.key, 0)
        if weight <= 0:
            continue
        values = factor.values(ranking.person, [candidate], ranking.context)
        if isinstance(values, str):
            continue
        text = factor.explain(ranking.person, candidate, ranking.context)
        if text:
            reasons.append(Reason(factor.key, text, round(weight * values[0] * ranking.scale, 1)))
    reasons.sort(key=lambda r: -r.points)
    return reasons
