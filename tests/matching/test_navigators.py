"""Ranking navigators: who may take the case, then team, language, continuity and load."""

from __future__ import annotations

import pytest

from portal.matching import navigators
from portal.matching.engine import Context, rank
from portal.matching.navigators import NavigatorCandidate, load_value
from portal.matching.people import Person
from portal.matching.weights import DEFAULTS

NORTH, SOUTH = 10, 20


def person(**kw) -> Person:
    kw.setdefault("name", "Ann")
    if "previous_navigator_ids" in kw:
        kw["previous_navigator_ids"] = frozenset(kw["previous_navigator_ids"])
    if kw.get("neighbourhood_id") == NORTH:
        kw.setdefault("neighbourhood_name", "North")
    return Person(**kw)


def navigator(id: int, name: str | None = None, **kw) -> NavigatorCandidate:
    if "languages" in kw:
        kw["languages"] = frozenset(kw["languages"])
    team = kw.get("neighbourhood_id")
    if team is not None:
        kw.setdefault("neighbourhood_name", {NORTH: "North", SOUTH: "South"}[team])
    return NavigatorCandidate(id=id, name=name or f"Navigator {id}", **kw)


def ranked(p: Person, pool, weights=None):
    return rank(navigators.KIND, p, pool, DEFAULTS if weights is None else weights, Context())


def order(ranking) -> list[str]:
    return [s.candidate.name for s in ranking.suggestions]


def reasons_of(ranking, name: str, factor: str) -> list[str]:
    found = next(s for s in ranking.suggestions if s.candidate.name == name)
    return [r.text for r in ranking.explain(found) if r.factor == factor]


# --- hard rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "candidate", "expected"),
    [
        (person(current_navigator_id=1), navigator(1), [("current", "Already has Ann's case")]),
        (
            person(),
            navigator(1, open_cases=12, capacity=12),
            [("capacity", "At capacity: 12 of 12 cases")],
        ),
        (
            person(),
            navigator(1, open_cases=15, capacity=12),
            [("capacity", "At capacity: 15 of 12 cases")],
        ),
        (
            person(),
            navigator(1, open_cases=0, capacity=0),
            [("capacity", "At capacity: 0 of 0 cases")],
        ),
        (
            person(support_level=2),
            navigator(1, is_volunteer=True),
            [("level", "Volunteer navigators support level 1 only; Ann needs level 2")],
        ),
        (
            person(support_level=3),
            navigator(1, is_volunteer=True),
            [("level", "Volunteer navigators support level 1 only; Ann needs level 3")],
        ),
        (
            person(support_level=3, current_navigator_id=1),
            navigator(1, is_volunteer=True, open_cases=5, capacity=5),
            [
                ("current", "Already has Ann's case"),
                ("capacity", "At capacity: 5 of 5 cases"),
                ("level", "Volunteer navigators support level 1 only; Ann needs level 3"),
            ],
        ),
    ],
    ids=["current", "full", "over-full", "zero", "level-2", "level-3", "all"],
)
def test_hard_rules_exclude_and_say_why(p, candidate, expected):
    ranking = ranked(p, [candidate])
    assert ranking.suggestions == []
    [excluded] = ranking.excluded
    assert [(r.key, r.text) for r in excluded.refusals] == expected
    one, _several = navigators.KIND.refusal_phrases[expected[0][0]]
    assert ranking.no_one_message == f"No one matches, because of the only navigator: 1 {one}."


@pytest.mark.parametrize(
    ("p", "candidate"),
    [
        (person(current_navigator_id=2), navigator(1)),
        (person(), navigator(1, open_cases=11, capacity=12)),
        (person(), navigator(1, open_cases=500, capacity=None)),  # no capacity set: no limit
        (person(support_level=1), navigator(1, is_volunteer=True)),
        (person(support_level=None), navigator(1, is_volunteer=True)),  # at triage, not chosen yet
        (person(support_level=3), navigator(1, is_volunteer=False)),
    ],
)
def test_navigators_who_pass_every_rule_are_ranked(p, candidate):
    ranking = ranked(p, [candidate])
    assert ranking.excluded == []
    assert order(ranking) == [candidate.name]


def test_no_one_matches_message():
    pool = [
        navigator(1, is_volunteer=True),
        navigator(2, is_volunteer=True),
        navigator(3, open_cases=3, capacity=3),
    ]
    assert ranked(person(support_level=2), pool).no_one_message == (
        "No one matches, because of the 3 navigators: 2 are volunteer navigators, who support "
        "level 1 only and 1 is at capacity."
    )
    assert ranked(person(), []).no_one_message == (
        "No one matches, because there are no active navigators on the portal."
    )


# --- soft factors -----------------------------------------------------------------------------


def test_the_neighbourhood_team_of_the_persons_practice_comes_first():
    pool = [
        navigator(1, "Nobody"),
        navigator(2, "Southern", neighbourhood_id=SOUTH),
        navigator(3, "Northern", neighbourhood_id=NORTH),
    ]
    ranking = ranked(person(neighbourhood_id=NORTH), pool, {"neighbourhood": 1})
    assert order(ranking) == ["Northern", "Nobody", "Southern"]
    assert [s.score for s in ranking.suggestions] == [100.0, 0.0, 0.0]
    assert reasons_of(ranking, "Northern", "neighbourhood") == [
        "Works with North, the team for Ann's practice"
    ]
    assert reasons_of(ranking, "Southern", "neighbourhood") == ["Works with another team (South)"]
    assert reasons_of(ranking, "Nobody", "neighbourhood") == ["No neighbourhood team recorded"]


def test_neighbourhood_is_left_out_when_the_practice_is_not_known():
    ranking = ranked(person(), [navigator(1, neighbourhood_id=NORTH)], {"neighbourhood": 1})
    assert ranking.notes == ["Neighbourhood team is not counted: Ann's GP practice is not known."]


@pytest.mark.parametrize("language", ["Urdu", "urdu", " URDU "])
def test_a_navigator_who_speaks_the_persons_language_comes_first(language):
    pool = [navigator(1, "Ali", languages={"punjabi"}), navigator(2, "Zara", languages={"urdu"})]
    ranking = ranked(person(language=language), pool, {"language": 1})
    assert order(ranking) == ["Zara", "Ali"]
    assert reasons_of(ranking, "Zara", "language") == [f"Speaks {language}"]
    assert reasons_of(ranking, "Ali", "language") == [f"Does not speak {language}"]


def test_language_is_left_out_for_an_english_speaker():
    ranking = ranked(person(), [navigator(1, languages={"urdu"})], {"language": 1})
    assert ranking.notes == ["Language is not counted: Ann speaks English."]


def test_a_navigator_who_supported_the_person_before_comes_first():
    pool = [navigator(1, "Alex"), navigator(2, "Before"), navigator(3, "Also before")]
    ranking = ranked(person(previous_navigator_ids={2, 3, 99}), pool, {"continuity": 1})
    assert order(ranking) == ["Also before", "Before", "Alex"]
    assert [s.score for s in ranking.suggestions] == [100.0, 100.0, 0.0]
    assert reasons_of(ranking, "Before", "continuity") == ["Supported Ann before"]
    # Nothing to say about someone new to the person.
    assert reasons_of(ranking, "Alex", "continuity") == []


def test_continuity_is_left_out_for_someone_new():
    ranking = ranked(person(), [navigator(1)], {"continuity": 1})
    assert ranking.notes == ["Continuity is not counted: Ann has not had a navigator before."]


@pytest.mark.parametrize(
    ("open_cases", "capacity", "value"),
    [(0, 10, 1.0), (2, 10, 0.8), (9, 10, 0.1), (0, None, 0.5), (40, None, 0.5), (0, 0, 0.5)],
)
def test_load_value(open_cases, capacity, value):
    assert load_value(navigator(1, open_cases=open_cases, capacity=capacity)) == pytest.approx(
        value
    )


def test_the_least_loaded_navigator_comes_first_and_no_capacity_counts_as_half():
    pool = [
        navigator(1, "Busy", open_cases=8, capacity=10),
        navigator(2, "Unset", open_cases=3, capacity=None),
        navigator(3, "Idle", open_cases=0, capacity=10),
    ]
    ranking = ranked(person(), pool, {"load": 1})
    assert order(ranking) == ["Idle", "Unset", "Busy"]
    assert [s.score for s in ranking.suggestions] == [100.0, 50.0, 20.0]
    assert reasons_of(ranking, "Busy", "load") == ["Has room: 8 of 10 cases"]
    assert reasons_of(ranking, "Unset", "load") == ["3 open cases; no capacity set"]


def test_equal_scores_least_loaded_then_by_name():
    pool = [
        navigator(1, "cy", open_cases=1, capacity=4),
        navigator(2, "Bo", open_cases=2, capacity=4),
        navigator(3, "Al", open_cases=1, capacity=4),
    ]
    ranking = ranked(person(), pool, {"language": 1})  # left out: everyone scores 0
    assert order(ranking) == ["Al", "cy", "Bo"]


@pytest.mark.parametrize(
    ("p", "pool", "expected"),
    [
        # Same team, speaks Urdu and supported her before: first, though busier.
        (
            person(neighbourhood_id=NORTH, language="Urdu", previous_navigator_ids={2}),
            [
                navigator(1, "Idle stranger", open_cases=0, capacity=10),
                navigator(
                    2,
                    "Known",
                    neighbourhood_id=NORTH,
                    languages={"urdu"},
                    open_cases=7,
                    capacity=10,
                ),
                navigator(3, "Team only", neighbourhood_id=NORTH, open_cases=5, capacity=10),
            ],
            ["Known", "Team only", "Idle stranger"],
        ),
        # At triage for level 2: the volunteer navigator is left out, staff ranked by load.
        (
            person(support_level=2),
            [
                navigator(1, "Volunteer", is_volunteer=True, open_cases=0, capacity=5),
                navigator(2, "Busy staff", open_cases=9, capacity=10),
                navigator(3, "Free staff", open_cases=1, capacity=10),
            ],
            ["Free staff", "Busy staff"],
        ),
    ],
)
def test_obvious_orders_with_the_default_weights(p, pool, expected):
    assert order(ranked(p, pool)) == expected
