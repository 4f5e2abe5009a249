"""The quick one-pass filter and the itemised hard rules must always agree.

Ranking uses `passes` to split thousands of candidates; "why not?" uses `rules`.
If they ever disagreed, a buddy could be suggested whose "why not" lists a refusal.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portal.matching import buddies
from portal.matching.engine import Context, rank
from portal.matching.people import SLOT_BITS, Person
from portal.matching.weights import DEFAULTS

slots = st.integers(min_value=0, max_value=(1 << len(SLOT_BITS)) - 1)
candidates = st.builds(
    buddies.BuddyCandidate,
    id=st.integers(min_value=1, max_value=40),
    name=st.sampled_from(["Ann", "Bo", "Cy"]),
    availability=slots,
    taken=st.integers(min_value=0, max_value=4),
    capacity=st.integers(min_value=0, max_value=3),
    problems=st.lists(st.sampled_from(["No DBS check recorded"]), max_size=1).map(tuple),
)
people = st.builds(
    Person,
    name=st.just("Dee"),
    availability=slots,
    current_buddy_ids=st.frozensets(st.integers(min_value=1, max_value=40), max_size=3),
    declined_buddy_ids=st.frozensets(st.integers(min_value=1, max_value=40), max_size=3),
)


@given(people, st.lists(candidates, max_size=12))
def test_passes_is_exactly_those_without_refusals(person, pool):
    context = Context()
    quick = buddies.passes(person, pool, context)
    itemised = [c for c in pool if not buddies.rules(person, c, context)]
    assert quick == itemised


@given(people, st.lists(candidates, max_size=12))
def test_no_suggestion_has_a_refusal_and_every_exclusion_has_one(person, pool):
    ranking = rank(buddies.KIND, person, pool, DEFAULTS, Context())
    for suggestion in ranking.suggestions:
        assert buddies.rules(person, suggestion.candidate, ranking.context) == []
    for exclusion in ranking.excluded:
        assert exclusion.why_not
    assert ranking.count + ranking.excluded_count == len(pool)


def test_a_volunteer_who_said_no_is_not_suggested_again_and_the_reason_says_so():
    person = Person(name="Dee", declined_buddy_ids=frozenset({7}))
    pool = [buddies.BuddyCandidate(7, "Gil"), buddies.BuddyCandidate(8, "Hal")]
    ranking = rank(buddies.KIND, person, pool, DEFAULTS, Context())
    assert [s.candidate.name for s in ranking.suggestions] == ["Hal"]
    assert ranking.find(7).why_not == ["Already said they cannot buddy Dee"]
