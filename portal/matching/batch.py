"""Buddies for everyone waiting at once, without asking any volunteer for more than they can take.

The rule is a greedy pass in the order the hub works its queue: urgent referrals
first, then whoever has waited longest. Each person gets the best-scoring buddy who
still has room once those before them have been given theirs. It is simple to
explain to the person who waited longest ("you had first pick"), and no volunteer
is counted twice. It does not promise the best total score over everyone: a later
person can lose a buddy who suited them better to someone who waited longer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from portal.matching import buddies
from portal.matching.buddies import BuddyCandidate
from portal.matching.engine import Context, Suggestion, rank, scores
from portal.matching.people import Person


@dataclass
class Pairing:
    referral_id: int
    person: Person
    buddy: BuddyCandidate | None
    score: float | None
    # Why nobody could be suggested, when nobody could.
    message: str | None = None


def _cleared(pool: Sequence[BuddyCandidate]) -> list[BuddyCandidate]:
    """Those no one could be given: not cleared, or already full, whoever is asking."""
    return [c for c in pool if not c.problems and c.taken < c.capacity]


def assign(
    waiting: Sequence[tuple[int, Person]],
    pool: Sequence[BuddyCandidate],
    weights: Mapping[str, float],
    context: Context,
) -> list[Pairing]:
    """One pairing per waiting referral, in the order given (the queue's order)."""
    live = {c.id: c for c in _cleared(pool)}
    pairings = []
    for referral_id, person in waiting:
        eligible = buddies.passes(person, list(live.values()), context)
        if not eligible:
            message = rank(buddies.KIND, person, pool_now(pool, live), weights, context)
            pairings.append(Pairing(referral_id, person, None, None, message.no_one_message))
            continue
        points, _notes, _scale = scores(buddies.KIND, person, eligible, weights, context)
        best = max(points)
        chosen = min(
            (i for i, p in enumerate(points) if p == best),
            key=lambda i: buddies.KIND.tie_break(eligible[i]),
        )
        buddy = eligible[chosen]
        pairings.append(Pairing(referral_id, person, buddy, round(best, 1)))
        # The volunteer now has one more person; full, they drop out of the pass.
        fuller = replace(buddy, taken=buddy.taken + 1)
        if fuller.taken < fuller.capacity:
            live[buddy.id] = fuller
        else:
            del live[buddy.id]
    return pairings


def pool_now(
    pool: Sequence[BuddyCandidate], live: Mapping[int, BuddyCandidate]
) -> list[BuddyCandidate]:
    """The whole pool as the pass has left it: those given people count as fuller."""
    return [
        live.get(c.id) or (c if c.problems or c.taken >= c.capacity else _full(c)) for c in pool
    ]


def _full(c: BuddyCandidate) -> BuddyCandidate:
    return replace(c, taken=c.capacity)


def explain(pairing: Pairing, weights: Mapping[str, float], context: Context) -> Suggestion | None:
    """The chosen buddy's reasons, as the pass saw them: with the load it had at that turn.

    A score depends only on the person and the candidate, so ranking the one candidate
    gives the same score the pass used, and the reasons that make it up.
    """
    if pairing.buddy is None:
        return None
    return rank(buddies.KIND, pairing.person, [pairing.buddy], weights, context).first
