"""Keeping each choice of navigator, buddy or activity with where the ranking placed it."""

from __future__ import annotations

from collections.abc import Callable

from portal.extensions import db
from portal.matching.engine import Exclusion, Ranking
from portal.matching.models import MatchDecision, MatchKind


def record(
    ranking: Ranking,
    kind: MatchKind,
    referral_id: int,
    candidate_id: int,
    by_user_id: int,
    from_suggestions: bool,
    name: Callable[[], str] | str = "",
) -> MatchDecision:
    """Store the choice; the caller commits it with the action it records.

    `ranking` is the one taken just before the choice, so the rank and reasons are
    those the person choosing could see.
    """
    found = ranking.find(candidate_id)
    top = ranking.first
    placed = None if found is None or isinstance(found, Exclusion) else found
    decision = MatchDecision(
        referral_id=referral_id,
        kind=kind,
        candidate_id=candidate_id,
        candidate_name=(
            ranking.kind.candidate_name(found.candidate)
            if found is not None
            else (name() if callable(name) else name)
        )[:200],
        rank=placed.rank if placed else None,
        score=placed.score if placed else None,
        reasons=[r.text for r in placed.reasons or []] if placed else [],
        top_candidate_id=ranking.kind.candidate_id(top.candidate) if top else None,
        top_score=top.score if top else None,
        eligible_count=ranking.count,
        from_suggestions=from_suggestions,
        chosen_by_id=by_user_id,
    )
    db.session.add(decision)
    return decision
