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
from functools import cached_property
from typing import Any, Generic, TypeVar

from portal.matching.geo import Centroids, district_distance_km
from portal.matching.people import Person

C = TypeVar("C")


class Refusal:
    """One hard rule a candidate fails. `key` groups refusals for the "no one matches" message.

    The words can be given ready, or as a function that writes them only when someone
    reads them: thousands of candidates are ruled out for every one whose reasons are shown.
    """

    __slots__ = ("_render", "_text", "key")

    def __init__(self, key: str, text: str | None = None, render: Callable[[], str] | None = None):
        self.key = key
        self._text = text
        self._render = render

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._render() if self._render else ""
        return self._text

    def __repr__(self) -> str:
        return f"Refusal({self.key!r}, {self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Refusal) and (self.key, self.text) == (other.key, other.text)

    def __hash__(self) -> int:
        return hash((self.key, self.text))


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
    # The same hard rules as one test over the whole pool, for speed: those who pass them all.
    # None: `rules` is asked of each candidate. Kept beside `rules`, and tested to agree.
    passes: Callable[[Person, Sequence[C], Context], list[C]] | None = None


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


class Ranking(Generic[C]):
    """Everyone in the pool: those who could be chosen, best first, and those ruled out.

    Suggestions, reasons and refusals are made when asked for, not for all thousands:
    a panel shows five, so only five are written out.
    """

    def __init__(
        self,
        kind: Kind[C],
        person: Person,
        weights: Mapping[str, float],
        context: Context,
        ranked: list[C],
        points: list[float],
        ruled_out: list[C],
        notes: list[str],
        scale: float,
    ):
        self.kind = kind
        self.person = person
        self.weights = weights
        self.context = context
        self.ranked = ranked
        self.points = points
        self.ruled_out = ruled_out
        # Factors left out for this person, and why.
        self.notes = notes
        # Points per unit of weighted value: 100 over the weights of the factors counted.
        self.scale = scale
        self._made: dict[int, Suggestion[C]] = {}

    @property
    def count(self) -> int:
        """How many could be chosen."""
        return len(self.ranked)

    @property
    def excluded_count(self) -> int:
        return len(self.ruled_out)

    @property
    def pool_size(self) -> int:
        return len(self.ranked) + len(self.ruled_out)

    def suggestion(self, index: int) -> Suggestion[C]:
        """The suggestion at this place (0 is the top), with its reasons written."""
        made = self._made.get(index)
        if made is None:
            made = Suggestion(self.ranked[index], index + 1, round(self.points[index], 1))
            made.reasons = _reasons(self, made.candidate)
            self._made[index] = made
        return made

    @property
    def first(self) -> Suggestion[C] | None:
        return self.suggestion(0) if self.ranked else None

    @cached_property
    def suggestions(self) -> list[Suggestion[C]]:
        """Every suggestion in order, without reasons unless already written."""
        return [
            self._made.get(i) or Suggestion(c, i + 1, round(p, 1))
            for i, (c, p) in enumerate(zip(self.ranked, self.points, strict=True))
        ]

    @cached_property
    def excluded(self) -> list[Exclusion[C]]:
        return [Exclusion(c, self._refusals(c)) for c in self.ruled_out]

    def _refusals(self, candidate: C) -> list[Refusal]:
        return self.kind.rules(self.person, candidate, self.context)

    def explain(self, suggestion: Suggestion[C]) -> list[Reason]:
        if suggestion.reasons is None:
            suggestion.reasons = _reasons(self, suggestion.candidate)
        return suggestion.reasons

    def top(self, n: int) -> list[Suggestion[C]]:
        return [self.suggestion(i) for i in range(min(n, len(self.ranked)))]

    def find(self, candidate_id: int) -> Suggestion[C] | Exclusion[C] | None:
        identify = self.kind.candidate_id
        for index, candidate in enumerate(self.ranked):
            if identify(candidate) == candidate_id:
                return self.suggestion(index)
        for candidate in self.ruled_out:
            if identify(candidate) == candidate_id:
                return Exclusion(candidate, self._refusals(candidate))
        return None

    def look_up(self, name: str, limit: int = 10) -> list[Suggestion[C] | Exclusion[C]]:
        """Candidates whose name contains these words, with their place or why not."""
        words = name.lower().split()
        if not words:
            return []
        found: list[Suggestion[C] | Exclusion[C]] = []
        named = self.kind.candidate_name
        for index, candidate in enumerate(self.ranked):
            if len(found) < limit and all(w in named(candidate).lower() for w in words):
                found.append(self.suggestion(index))
        for candidate in self.ruled_out:
            if len(found) < limit and all(w in named(candidate).lower() for w in words):
                found.append(Exclusion(candidate, self._refusals(candidate)))
        return found

    @property
    def no_one_message(self) -> str | None:
        """Why nobody can be suggested, in one sentence; None when someone can."""
        if self.ranked:
            return None
        if not self.ruled_out:
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
    return [s * scale for s in sums], notes, scale


def split(
    kind: Kind[C], person: Person, pool: Sequence[C], context: Context
) -> tuple[list[C], list[C]]:
    """Those who pass every hard rule, and those who do not, each in pool order."""
    if kind.passes is not None:
        eligible = kind.passes(person, pool, context)
        if len(eligible) == len(pool):
            return eligible, []
        kept = {id(c) for c in eligible}
        return eligible, [c for c in pool if id(c) not in kept]
    eligible, ruled_out = [], []
    for candidate in pool:
        (ruled_out if kind.rules(person, candidate, context) else eligible).append(candidate)
    return eligible, ruled_out


def rank(
    kind: Kind[C],
    person: Person,
    pool: Sequence[C],
    weights: Mapping[str, float],
    context: Context | None = None,
) -> Ranking[C]:
    """Every candidate in the pool: ranked with a score, or excluded with the rules it fails."""
    context = context or Context()
    eligible, ruled_out = split(kind, person, pool, context)
    points, notes, scale = scores(kind, person, eligible, weights, context)
    tie_break = kind.tie_break
    order = sorted(
        [(-p, tie_break(c), i) for i, (p, c) in enumerate(zip(points, eligible, strict=True))]
    )
    return Ranking(
        kind,
        person,
        weights,
        context,
        [eligible[i] for _, _, i in order],
        [points[i] for _, _, i in order],
        ruled_out,
        notes,
        scale,
    )


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
