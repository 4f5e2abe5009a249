"""The generic ranking: hard rules exclude, soft factors score 0 to 100, reasons when looked at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest

from portal.matching import buddies
from portal.matching.buddies import BuddyCandidate
from portal.matching.engine import (
    Context,
    Exclusion,
    Kind,
    Reason,
    Refusal,
    SoftFactor,
    Suggestion,
    rank,
    scores,
)
from portal.matching.people import Person


@dataclass(frozen=True)
class Toy:
    id: int
    name: str
    a: float = 0.0
    b: float = 0.0
    busy: float = 0.0
    refusals: tuple[tuple[str, str], ...] = ()


EXPLAINED: list[tuple[str, int]] = []


def _rules(person: Person, c: Toy, context: Context) -> list[Refusal]:
    return [Refusal(key, text) for key, text in c.refusals]


def _a_values(person: Person, pool: Sequence[Toy], context: Context):
    return [c.a for c in pool]


def _a_explain(person: Person, c: Toy, context: Context) -> str:
    EXPLAINED.append(("a", c.id))
    return f"a is {c.a}"


def _b_values(person: Person, pool: Sequence[Toy], context: Context):
    return [c.b for c in pool]


def _b_explain(person: Person, c: Toy, context: Context) -> str | None:
    EXPLAINED.append(("b", c.id))
    return f"b is {c.b}" if c.b else None


def _noted_values(person: Person, pool: Sequence[Toy], context: Context):
    # Counted only for a person with interests; otherwise left out, with a note.
    if not person.interests:
        return f"Gamma is not counted for {person.name}."
    return [1.0 for _ in pool]


def _noted_explain(person: Person, c: Toy, context: Context) -> str:
    return "gamma fits"


TOY: Kind[Toy] = Kind(
    name="toy",
    plural="toys",
    rules=_rules,
    factors=(
        SoftFactor("a", _a_values, _a_explain),
        SoftFactor("b", _b_values, _b_explain),
        SoftFactor("gamma", _noted_values, _noted_explain),
    ),
    refusal_phrases={
        "broken": ("is broken", "are broken"),
        "lost": ("is lost", "are lost"),
    },
    empty_pool="there are no toys at all",
    tie_break=lambda c: (c.busy, c.name.lower(), c.id),
    candidate_id=lambda c: c.id,
    candidate_name=lambda c: c.name,
)
ANN = Person(name="Ann")
KEEN = Person(name="Kim", interests=frozenset({"music"}))


@pytest.fixture(autouse=True)
def _forget_explained():
    EXPLAINED.clear()


def names(ranking) -> list[str]:
    return [s.candidate.name for s in ranking.suggestions]


def by_name(ranking) -> dict[str, float]:
    return {s.candidate.name: s.score for s in ranking.suggestions}


# --- scores -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "a", "b", "expected"),
    [
        ({"a": 1, "b": 1}, 1, 1, 100.0),  # perfect on every counted factor
        ({"a": 1, "b": 1}, 0, 0, 0.0),
        ({"a": 1, "b": 1}, 1, 0, 50.0),
        ({"a": 3, "b": 1}, 1, 0, 75.0),  # a weight says how much a factor counts against others
        ({"a": 3, "b": 1}, 0, 1, 25.0),
        ({"a": 6, "b": 2}, 1, 0, 75.0),  # only the ratio of weights matters
        ({"a": 1, "b": 1}, 0.5, 0.5, 50.0),
        ({"a": 1, "b": 2}, 1 / 3, 0, 11.1),  # rounded to one decimal place
        ({"a": 1}, 1, 1, 100.0),  # a factor missing from the weights is left out
        ({"a": 1, "b": 0}, 0, 1, 0.0),  # weight 0 leaves a factor out
        ({"a": 1, "b": 0}, 1, 0, 100.0),
        ({"a": 1, "b": -5}, 1, 0, 100.0),  # a negative weight counts as 0, never subtracts
    ],
)
def test_score_is_the_weighted_share_out_of_100(weights, a, b, expected):
    ranking = rank(TOY, ANN, [Toy(1, "One", a=a, b=b)], weights)
    assert ranking.suggestions[0].score == expected


def test_scores_stay_between_0_and_100_whatever_the_weights():
    pool = [Toy(n, f"T{n}", a=n / 4, b=1 - n / 4) for n in range(5)]
    for weights in ({"a": 10, "b": 0.5}, {"a": 0.01, "b": 9}, {"a": 2, "b": 2, "gamma": 7}):
        points, _notes, _scale = scores(TOY, KEEN, pool, weights, Context())
        assert all(0 <= p <= 100 for p in points)
    points, _notes, _scale = scores(
        TOY, KEEN, [Toy(1, "Top", a=1, b=1)], {"a": 7, "b": 3}, Context()
    )
    assert points == [100.0]


def test_the_scale_is_100_over_the_weights_counted():
    _points, _notes, scale = scores(
        TOY, ANN, [Toy(1, "One")], {"a": 3, "b": 1, "gamma": 4}, Context()
    )
    # gamma is left out for Ann (no interests), so only a and b count.
    assert scale == 25.0
    _points, _notes, scale = scores(
        TOY, KEEN, [Toy(1, "One")], {"a": 3, "b": 1, "gamma": 4}, Context()
    )
    assert scale == 12.5


def test_a_factor_that_cannot_be_counted_is_left_out_for_everyone_with_a_note():
    pool = [Toy(1, "Low", a=0.2), Toy(2, "High", a=0.8)]
    ranking = rank(TOY, ANN, pool, {"a": 1, "gamma": 9})
    assert ranking.notes == ["Gamma is not counted for Ann."]
    # gamma's weight does not dilute the others: a alone is out of 100.
    assert by_name(ranking) == {"High": 80.0, "Low": 20.0}
    counted = rank(TOY, KEEN, pool, {"a": 1, "gamma": 9})
    assert counted.notes == []
    assert by_name(counted) == {"High": 98.0, "Low": 92.0}


def test_notes_are_given_even_when_no_candidate_is_eligible():
    ranking = rank(TOY, ANN, [Toy(1, "Gone", refusals=(("lost", "Lost"),))], {"gamma": 1})
    assert ranking.suggestions == []
    assert ranking.notes == ["Gamma is not counted for Ann."]


def test_a_factor_with_weight_0_is_not_even_asked_so_gives_no_note():
    ranking = rank(TOY, ANN, [Toy(1, "One")], {"a": 1, "gamma": 0})
    assert ranking.notes == []


def test_all_weights_zero_does_not_crash_and_everyone_scores_0():
    pool = [Toy(1, "Bea", a=1, b=1, busy=0.5), Toy(2, "Al", a=0, busy=0.5), Toy(3, "Cy", busy=0)]
    ranking = rank(TOY, KEEN, pool, {"a": 0, "b": 0, "gamma": 0})
    assert ranking.scale == 0.0
    assert [s.score for s in ranking.suggestions] == [0.0, 0.0, 0.0]
    # With nothing to score, the tie-break alone orders them: least busy, then by name.
    assert names(ranking) == ["Cy", "Al", "Bea"]
    assert all(ranking.explain(s) == [] for s in ranking.suggestions)


def test_no_weights_at_all_does_not_crash():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=1)], {})
    assert [s.score for s in ranking.suggestions] == [0.0]
    assert ranking.notes == []


# --- order, ranks, tie-break --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        # Higher score first.
        (
            [Toy(1, "Low", a=0.1), Toy(2, "High", a=0.9), Toy(3, "Mid", a=0.5)],
            ["High", "Mid", "Low"],
        ),
        # Equal scores: the least busy first.
        ([Toy(1, "Ann", a=1, busy=0.9), Toy(2, "Bob", a=1, busy=0.1)], ["Bob", "Ann"]),
        # Equal scores and load: by name, ignoring case.
        ([Toy(1, "bob", a=1), Toy(2, "Ann", a=1), Toy(3, "Cat", a=1)], ["Ann", "bob", "Cat"]),
        # A higher score beats a lighter load.
        ([Toy(1, "Idle", a=0.5, busy=0), Toy(2, "Busy", a=0.6, busy=0.9)], ["Busy", "Idle"]),
    ],
)
def test_order_is_by_score_then_tie_break(pool, expected):
    ranking = rank(TOY, ANN, pool, {"a": 1})
    assert names(ranking) == expected
    assert [s.rank for s in ranking.suggestions] == list(range(1, len(pool) + 1))


def test_the_order_does_not_depend_on_the_order_of_the_pool():
    pool = [Toy(n, f"T{n}", a=(n * 7 % 5) / 5, busy=(n % 3) / 3) for n in range(1, 12)]
    forwards = rank(TOY, ANN, pool, {"a": 1})
    backwards = rank(TOY, ANN, list(reversed(pool)), {"a": 1})
    assert names(forwards) == names(backwards)


def test_excluded_candidates_are_not_ranked_and_say_every_rule_they_fail():
    pool = [
        Toy(1, "Fine", a=0.1),
        Toy(2, "Both", a=1, refusals=(("broken", "Snapped in two"), ("lost", "Behind the sofa"))),
    ]
    ranking = rank(TOY, ANN, pool, {"a": 1})
    assert names(ranking) == ["Fine"]
    assert ranking.suggestions[0].rank == 1
    [excluded] = ranking.excluded
    assert excluded.candidate.name == "Both"
    assert excluded.why_not == ["Snapped in two", "Behind the sofa"]
    assert ranking.pool_size == 2


# --- reasons ----------------------------------------------------------------------------------


def test_reasons_are_written_only_for_the_candidates_looked_at():
    pool = [Toy(n, f"T{n}", a=n / 10, b=1) for n in range(1, 8)]
    ranking = rank(TOY, ANN, pool, {"a": 1, "b": 1})
    assert EXPLAINED == []
    assert all(s.reasons is None for s in ranking.suggestions)
    top = ranking.top(2)
    assert [s.candidate.name for s in top] == ["T7", "T6"]
    assert {cid for _, cid in EXPLAINED} == {7, 6}
    assert all(s.reasons is not None for s in top)
    assert all(s.reasons is None for s in ranking.suggestions[2:])


def test_explaining_twice_does_not_write_the_reasons_again():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=1, b=1)], {"a": 1, "b": 1})
    first = ranking.top(1)[0].reasons
    count = len(EXPLAINED)
    ranking.top(1)
    ranking.find(1)
    assert len(EXPLAINED) == count
    assert ranking.suggestions[0].reasons is first


def test_reasons_carry_the_points_each_factor_added_best_first():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=0.5, b=1)], {"a": 1, "b": 3})
    [suggestion] = ranking.top(1)
    assert suggestion.score == 87.5
    assert suggestion.reasons == [Reason("b", "b is 1", 75.0), Reason("a", "a is 0.5", 12.5)]
    assert sum(r.points for r in suggestion.reasons) == suggestion.score
    assert all(r.counts_for for r in suggestion.reasons)


def test_a_reason_that_adds_nothing_does_not_count_for():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=0, b=1)], {"a": 1, "b": 1})
    reasons = ranking.top(1)[0].reasons
    assert [(r.text, r.points, r.counts_for) for r in reasons] == [
        ("b is 1", 50.0, True),
        ("a is 0", 0.0, False),
    ]


def test_factors_left_out_give_no_reasons():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=1, b=1)], {"a": 1, "b": 0, "gamma": 5})
    assert [r.factor for r in ranking.top(1)[0].reasons] == ["a"]


def test_a_factor_with_nothing_to_say_gives_no_reason():
    ranking = rank(TOY, ANN, [Toy(1, "One", a=1, b=0)], {"a": 1, "b": 1})
    assert [r.factor for r in ranking.top(1)[0].reasons] == ["a"]


def test_counted_factor_reasons_appear_for_the_person_they_count_for():
    ranking = rank(TOY, KEEN, [Toy(1, "One", a=1)], {"a": 1, "gamma": 1})
    assert [(r.factor, r.points) for r in ranking.top(1)[0].reasons] == [
        ("a", 50.0),
        ("gamma", 50.0),
    ]


# --- refusals written when read --------------------------------------------------------------


def test_a_refusal_can_write_its_words_only_when_read():
    calls = []

    def words() -> str:
        calls.append(1)
        return "Not free on Mondays"

    refusal = Refusal("unavailable", render=words)
    assert calls == []
    assert refusal.text == "Not free on Mondays"
    assert refusal.text == "Not free on Mondays"
    assert calls == [1]  # written once, then kept
    assert refusal == Refusal("unavailable", "Not free on Mondays")
    assert refusal != Refusal("capacity", "Not free on Mondays")


def test_counts_and_first():
    pool = [Toy(1, "A", a=0.2), Toy(2, "B", a=0.9), broken(3)]
    ranking = rank(TOY, ANN, pool, {"a": 1})
    assert (ranking.count, ranking.excluded_count, ranking.pool_size) == (2, 1, 3)
    assert ranking.first.candidate.name == "B"
    assert ranking.first.reasons is not None
    assert rank(TOY, ANN, [broken(1)], {"a": 1}).first is None


# --- find, look_up, top -----------------------------------------------------------------------


@pytest.fixture
def toys():
    pool = [
        Toy(1, "Red Ball", a=0.9),
        Toy(2, "Blue Ball", a=0.5),
        Toy(3, "Red Kite", a=0.1),
        Toy(4, "Red Car", refusals=(("broken", "No wheels"),)),
    ]
    return rank(TOY, ANN, pool, {"a": 1})


def test_find_gives_the_place_and_reasons_or_why_not(toys):
    found = toys.find(2)
    assert isinstance(found, Suggestion)
    assert (found.rank, found.score) == (2, 50.0)
    assert [r.text for r in found.reasons] == ["a is 0.5"]
    excluded = toys.find(4)
    assert isinstance(excluded, Exclusion)
    assert excluded.why_not == ["No wheels"]
    assert toys.find(99) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("red", ["Red Ball", "Red Kite", "Red Car"]),  # suggestions in order, then exclusions
        ("RED ball", ["Red Ball"]),  # every word, any case
        ("ball red", ["Red Ball"]),  # in any order
        ("kit", ["Red Kite"]),  # part of a word
        ("car", ["Red Car"]),
        ("green", []),
        ("", []),
        ("   ", []),
    ],
)
def test_look_up_by_name(toys, typed, expected):
    assert [item.candidate.name for item in toys.look_up(typed)] == expected


def test_look_up_explains_the_suggestions_it_finds_and_stops_at_the_limit(toys):
    found = toys.look_up("red", limit=2)
    assert [item.candidate.name for item in found] == ["Red Ball", "Red Kite"]
    assert all(item.reasons is not None for item in found)


def test_top_takes_at_most_n(toys):
    assert [s.rank for s in toys.top(2)] == [1, 2]
    assert len(toys.top(10)) == 3
    assert toys.top(0) == []


# --- "no one matches" -------------------------------------------------------------------------


def broken(n: int) -> Toy:
    return Toy(n, f"Broken {n}", refusals=(("broken", "Broken"),))


def lost(n: int) -> Toy:
    # Also broken, but the first rule it fails is what the message counts.
    return Toy(n, f"Lost {n}", refusals=(("lost", "Lost"), ("broken", "Broken")))


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ([], "No one matches, because there are no toys at all."),
        ([broken(1)], "No one matches, because of the only toy: 1 is broken."),
        ([broken(1), broken(2)], "No one matches, because of the 2 toys: 2 are broken."),
        (
            [lost(1), broken(2), broken(3)],
            "No one matches, because of the 3 toys: 2 are broken and 1 is lost.",
        ),
        (
            [lost(1), lost(2), lost(3), broken(4)],
            "No one matches, because of the 4 toys: 3 are lost and 1 is broken.",
        ),
    ],
)
def test_no_one_message_says_why(pool, message):
    ranking = rank(TOY, ANN, pool, {"a": 1})
    assert ranking.suggestions == []
    assert ranking.no_one_message == message


def test_no_one_message_lists_three_reasons_with_commas():
    kind = replace(TOY, refusal_phrases={**TOY.refusal_phrases, "wet": ("is wet", "are wet")})
    pool = [broken(1), broken(2), lost(3), Toy(4, "Wet", refusals=(("wet", "Soaked"),))]
    assert rank(kind, ANN, pool, {}).no_one_message == (
        "No one matches, because of the 4 toys: 2 are broken, 1 is lost and 1 is wet."
    )


def test_no_message_when_someone_can_be_suggested():
    assert rank(TOY, ANN, [broken(1), Toy(2, "Fine")], {"a": 1}).no_one_message is None


# --- the context --------------------------------------------------------------------------------


def test_context_gives_distances_between_districts_and_remembers_them():
    context = Context({"CV1": (52.40939, -1.506), "CV2": (52.4227, -1.46467)})
    assert context.km("CV1", "CV2") == pytest.approx(3.1698, abs=1e-3)
    assert context.km("CV1", "CV1") == 0.0
    assert context.km("CV1", "ZZ9") is None
    assert context.km(None, "CV1") is None
    assert set(context._distances) == {
        ("CV1", "CV2"),
        ("CV1", "CV1"),
        ("CV1", "ZZ9"),
        (None, "CV1"),
    }


def test_rank_works_without_a_context():
    person = Person(name="Ann", district="CV1")
    ranking = rank(buddies.KIND, person, [BuddyCandidate(1, "Bo", district="CV1")], {"distance": 1})
    # No centroids known: distance is left out with a note rather than failing.
    assert ranking.notes == [
        "Distance is not counted: CV1 is not a postcode district the portal knows."
    ]
    assert [s.score for s in ranking.suggestions] == [0.0]
