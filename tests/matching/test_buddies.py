"""Ranking buddies and telephone befrienders: the hard rules, then each soft factor alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.matching import buddies
from portal.matching.buddies import BuddyCandidate
from portal.matching.engine import Context, rank
from portal.matching.people import Goal, Person, gender_group, slot_mask, stems
from portal.matching.weights import DEFAULTS

# A few real district centres from the demo area.
CENTROIDS = {
    "CV1": (52.40939, -1.506),
    "CV2": (52.4227, -1.46467),  # 3.2 km from CV1
    "CV11": (52.51885, -1.45318),  # 12.7 km from CV1
    "CV37": (52.1853, -1.71328),  # 28.6 km from CV1: beyond FAR_KM
}
CONTEXT = Context(CENTROIDS)


def person(**kw) -> Person:
    kw.setdefault("name", "Ann")
    kw.setdefault("district", "CV1")
    for key in ("reasons", "interests", "current_buddy_ids"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    if "availability" in kw:
        kw["availability"] = slot_mask(kw["availability"])
    if "goals" in kw:
        kw["goals"] = tuple(Goal(text, stems(text)) for text in kw["goals"])
    return Person(**kw)


def buddy(id: int, name: str | None = None, **kw) -> BuddyCandidate:
    for key in ("languages", "interests"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    if "availability" in kw:
        kw["availability"] = slot_mask(kw["availability"])
    return BuddyCandidate(id=id, name=name or f"Buddy {id}", **kw)


def ranked(p: Person, pool, weights=None):
    return rank(buddies.KIND, p, pool, DEFAULTS if weights is None else weights, Context(CENTROIDS))


def order(ranking) -> list[str]:
    return [s.candidate.name for s in ranking.suggestions]


def score_of(ranking, name: str) -> float:
    return next(s.score for s in ranking.suggestions if s.candidate.name == name)


def reasons_of(ranking, name: str, factor: str) -> list[str]:
    found = next(s for s in ranking.suggestions if s.candidate.name == name)
    return [r.text for r in ranking.explain(found) if r.factor == factor]


# --- hard rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "candidate", "expected"),
    [
        (
            person(),
            buddy(1, problems=("Their status is paused, not active", "Training not done: Intro")),
            [
                ("compliance", "Their status is paused, not active"),
                ("compliance", "Training not done: Intro"),
            ],
        ),
        (person(current_buddy_ids={1}), buddy(1), [("already", "Already asked to buddy Ann")]),
        (
            person(),
            buddy(1, taken=2, capacity=2),
            [("capacity", "At capacity: buddying 2 of 2")],
        ),
        (
            person(),
            buddy(1, taken=3, capacity=2),
            [("capacity", "At capacity: buddying 3 of 2")],
        ),
        (
            person(),
            buddy(1, taken=0, capacity=0),
            [("capacity", "At capacity: buddying 0 of 0")],
        ),
        (
            person(availability=["mon_morning"]),
            buddy(1, availability=["tue_evening", "thu_afternoon", "thu_evening"]),
            [
                (
                    "unavailable",
                    "Not free when Ann is (they are free Tuesday evening; "
                    "Thursday afternoon and evening)",
                )
            ],
        ),
        (
            person(current_buddy_ids={1}, availability=["mon_morning"]),
            buddy(1, taken=1, capacity=1, problems=("No DBS",), availability=["sun_evening"]),
            [
                ("compliance", "No DBS"),
                ("already", "Already asked to buddy Ann"),
                ("capacity", "At capacity: buddying 1 of 1"),
                ("unavailable", "Not free when Ann is (they are free Sunday evening)"),
            ],
        ),
    ],
    ids=["compliance", "already", "full", "over-full", "no-capacity", "unavailable", "all"],
)
def test_hard_rules_exclude_and_say_why(p, candidate, expected):
    ranking = ranked(p, [candidate])
    assert ranking.suggestions == []
    [excluded] = ranking.excluded
    assert [(r.key, r.text) for r in excluded.refusals] == expected
    # Every rule has words for "no one matches", from the first rule failed.
    one, _several = buddies.KIND.refusal_phrases[expected[0][0]]
    assert ranking.no_one_message == f"No one matches, because of the only buddy: 1 {one}."


@pytest.mark.parametrize(
    ("p", "candidate"),
    [
        (person(), buddy(1)),
        (person(current_buddy_ids={2}), buddy(1)),  # someone else was asked
        (person(), buddy(1, taken=1, capacity=2)),  # room for one more
        # Unavailable only when both gave times and they do not meet.
        (person(availability=["mon_morning"]), buddy(1)),
        (person(), buddy(1, availability=["mon_morning"])),
        (
            person(availability=["mon_morning", "fri_evening"]),
            buddy(1, availability=["fri_evening"]),
        ),
    ],
)
def test_candidates_who_pass_every_rule_are_ranked(p, candidate):
    ranking = ranked(p, [candidate])
    assert ranking.excluded == []
    assert order(ranking) == [candidate.name]


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        (
            [],
            "No one matches, because there are no buddies or telephone befrienders on the "
            "portal yet.",
        ),
        (
            [buddy(1, taken=2, capacity=2)],
            "No one matches, because of the only buddy: 1 already has as many people as they "
            "can take.",
        ),
        (
            [
                buddy(1, taken=2, capacity=2),
                buddy(4, taken=1, capacity=1),
                buddy(3, problems=("No DBS check recorded: an enhanced check is needed",)),
            ],
            "No one matches, because of the 3 buddies and befrienders: 2 already have as many "
            "people as they can take and 1 is not cleared to buddy (status, DBS check or "
            "training).",
        ),
        (
            [buddy(1, availability=["sat_morning"]), buddy(2)],
            "No one matches, because of the 2 buddies and befrienders: 1 is not free when the "
            "person is and 1 is already asked.",
        ),
    ],
)
def test_no_one_matches_message(pool, message):
    p = person(availability=["mon_morning"], current_buddy_ids={2})
    assert ranked(p, pool).no_one_message == message


# --- distance ---------------------------------------------------------------------------------

DISTANCE = {"distance": 1}


def test_distance_nearer_first_and_far_counts_nothing():
    pool = [
        buddy(1, "Far", district="CV37"),
        buddy(2, "Near", district="CV2"),
        buddy(3, "Same", district="CV1"),
        buddy(4, "Middling", district="CV11"),
    ]
    ranking = ranked(person(), pool, DISTANCE)
    assert order(ranking) == ["Same", "Near", "Middling", "Far"]
    assert score_of(ranking, "Same") == 100.0
    assert score_of(ranking, "Near") == round(100 * (1 - 3.16975 / 15), 1)
    assert score_of(ranking, "Middling") == round(100 * (1 - 12.68653 / 15), 1)
    assert score_of(ranking, "Far") == 0.0
    assert reasons_of(ranking, "Same", "distance") == ["In the same postcode district (CV1)"]
    assert reasons_of(ranking, "Near", "distance") == ["3.2 km away (CV2)"]
    assert reasons_of(ranking, "Far", "distance") == ["28.6 km away (CV37)"]


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (
            buddy(1, "Odd", district="ZZ9"),
            "Distance not known: ZZ9 is not a district the portal knows",
        ),
        (buddy(1, "Odd", district=None), "Distance not known: no postcode recorded"),
    ],
    ids=["unknown-district", "no-postcode"],
)
def test_a_buddy_whose_distance_is_not_known_scores_0_on_it_but_is_kept(candidate, reason):
    ranking = ranked(person(), [candidate, buddy(2, "Far", district="CV37")], DISTANCE)
    assert ranking.excluded == []
    assert score_of(ranking, "Odd") == 0.0
    assert reasons_of(ranking, "Odd", "distance") == [reason]


@pytest.mark.parametrize(
    ("district", "note"),
    [
        (None, "Distance is not counted: there is no postcode for Ann."),
        ("ZZ9", "Distance is not counted: ZZ9 is not a postcode district the portal knows."),
    ],
)
def test_distance_is_left_out_when_the_persons_district_is_not_known(district, note):
    pool = [buddy(1, "Same", district="CV1"), buddy(2, "Far", district="CV37")]
    ranking = ranked(person(district=district), pool, {"distance": 1, "load": 1})
    assert ranking.notes == [note]
    # Only load counts now, and both are free: the same score for both.
    assert [s.score for s in ranking.suggestions] == [100.0, 100.0]
    assert all(r.factor != "distance" for s in ranking.top(2) for r in s.reasons)


def test_a_telephone_befriender_is_halfway_on_distance_wherever_they_live():
    pool = [
        buddy(1, "Phone far", district="CV37", by_phone=True),
        buddy(2, "Phone same", district="CV1", by_phone=True),
        buddy(3, "Same", district="CV1"),
        buddy(4, "Middling", district="CV11"),
        buddy(5, "Far", district="CV37"),
    ]
    ranking = ranked(person(), pool, DISTANCE)
    assert order(ranking) == ["Same", "Phone far", "Phone same", "Middling", "Far"]
    assert score_of(ranking, "Phone far") == score_of(ranking, "Phone same") == 50.0
    assert reasons_of(ranking, "Phone far", "distance") == [
        "Befriends by phone: no travel, but they will not meet in person"
    ]


# --- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["Polish", "polish", " Polish "])
def test_a_buddy_who_speaks_the_persons_language_comes_first(language):
    pool = [
        buddy(1, "Aled", languages={"welsh"}),
        buddy(2, "Zofia", languages={"polish", "german"}),
    ]
    ranking = ranked(person(language=language), pool, {"language": 1})
    assert order(ranking) == ["Zofia", "Aled"]
    assert [s.score for s in ranking.suggestions] == [100.0, 0.0]
    assert reasons_of(ranking, "Zofia", "language") == [f"Speaks {language}"]
    assert reasons_of(ranking, "Aled", "language") == [f"Does not speak {language}"]


@pytest.mark.parametrize("language", ["English", "english", " ENGLISH "])
def test_language_is_left_out_for_an_english_speaker(language):
    ranking = ranked(person(language=language), [buddy(1, languages={"polish"})], {"language": 1})
    assert ranking.notes == ["Language is not counted: Ann speaks English."]


# --- interests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "expected_order", "top_reason"),
    [
        (
            person(interests={"gardening", "walking"}),
            ["Both", "One", "None"],
            "Shares Ann's interest in gardening and walking",
        ),
        # Interests implied by the reasons for referral.
        (
            person(reasons={"physical_activity"}),
            ["Both", "One", "None"],
            "Shares Ann's interest in football and walking",
        ),
        # Interests named in a goal.
        (
            person(goals=["Get back to gardening", "Walk to the shops"]),
            ["Both", "One", "None"],
            "Shares Ann's interest in gardening and walking",
        ),
    ],
    ids=["recorded", "from-reasons", "from-goals"],
)
def test_shared_interests(p, expected_order, top_reason):
    pool = [
        buddy(1, "None", interests={"music", "theatre"}),
        buddy(2, "One", interests={"gardening" if p.goals or p.interests else "football"}),
        buddy(3, "Both", interests={"gardening", "walking", "football", "music"}),
    ]
    ranking = ranked(p, pool, {"interests": 1})
    assert order(ranking) == expected_order
    assert [s.score for s in ranking.suggestions] == [100.0, 50.0, 0.0]
    assert reasons_of(ranking, "Both", "interests") == [top_reason]
    assert reasons_of(ranking, "None", "interests") == ["No interests in common with Ann"]


def test_digital_inclusion_implies_computers():
    pool = [
        buddy(1, "Cards", interests={"cards and board games"}),
        buddy(2, "Geek", interests={"computers"}),
    ]
    ranking = ranked(person(reasons={"digital_inclusion"}), pool, {"interests": 1})
    assert order(ranking) == ["Geek", "Cards"]
    assert reasons_of(ranking, "Geek", "interests") == ["Shares Ann's interest in computers"]


def test_interests_are_left_out_when_none_are_known():
    ranking = ranked(
        person(reasons={"loneliness"}), [buddy(1, interests={"music"})], {"interests": 1}
    )
    assert ranking.notes == ["Shared interests are not counted: none are recorded for Ann."]


# --- availability -----------------------------------------------------------------------------


def test_more_shared_free_times_rank_higher_and_no_times_scores_0():
    p = person(availability=["mon_morning", "wed_afternoon", "fri_evening"])
    pool = [
        buddy(1, "Silent"),  # has not said when they are free
        buddy(2, "One", availability=["mon_morning", "sat_morning"]),
        buddy(3, "Two", availability=["mon_morning", "wed_afternoon"]),
        buddy(4, "Three", availability=["mon_morning", "wed_afternoon", "fri_evening"]),
    ]
    ranking = ranked(p, pool, {"availability": 1})
    assert ranking.excluded == []
    assert order(ranking) == ["Three", "Two", "One", "Silent"]
    # Two shared times are as good as it gets.
    assert [s.score for s in ranking.suggestions] == [100.0, 100.0, 50.0, 0.0]
    assert reasons_of(ranking, "Silent", "availability") == ["Has not said when they are free"]
    assert reasons_of(ranking, "Two", "availability") == [
        "Free when Ann is: Monday morning; Wednesday afternoon"
    ]
    assert reasons_of(ranking, "One", "availability") == ["Free when Ann is: Monday morning"]


def test_availability_is_left_out_when_the_persons_times_are_not_recorded():
    pool = [buddy(1, "Weekend", availability=["sat_morning"]), buddy(2, "Silent")]
    ranking = ranked(person(), pool, {"availability": 1, "load": 1})
    assert ranking.excluded == []
    assert ranking.notes == ["Availability is not counted: Ann's free times are not recorded."]
    assert [s.score for s in ranking.suggestions] == [100.0, 100.0]


# --- gender -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Female", "woman"),
        ("female", "woman"),
        ("F", "woman"),
        (" Woman ", "woman"),
        ("Male", "man"),
        ("m", "man"),
        ("MAN", "man"),
        ("Non-binary", "non-binary"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_gender_group(text, group):
    assert gender_group(text) == group


@pytest.mark.parametrize("wanted", ["Woman", "woman", "Female", "F"])
def test_a_buddy_of_the_gender_asked_for_comes_first(wanted):
    pool = [
        buddy(1, "Unsaid"),
        buddy(2, "Mo", gender="Male"),
        buddy(3, "Flo", gender="Female"),
    ]
    ranking = ranked(person(preferred_gender=wanted), pool, {"gender": 1})
    assert order(ranking) == ["Flo", "Mo", "Unsaid"]
    assert [s.score for s in ranking.suggestions] == [100.0, 0.0, 0.0]
    assert reasons_of(ranking, "Flo", "gender") == ["A woman, as Ann asked"]
    assert reasons_of(ranking, "Mo", "gender") == ["Ann asked for a buddy who is a woman"]


@pytest.mark.parametrize("wanted", [None, "", "  "])
def test_gender_is_left_out_without_a_preference(wanted):
    ranking = ranked(person(preferred_gender=wanted), [buddy(1, gender="Male")], {"gender": 1})
    assert ranking.notes == ["Gender is not counted: Ann has no preference."]


# --- load -------------------------------------------------------------------------------------


def test_the_least_loaded_buddy_comes_first():
    pool = [
        buddy(1, "Half", taken=1, capacity=2),
        buddy(2, "Quarter", taken=1, capacity=4),
        buddy(3, "Empty", taken=0, capacity=1),
        buddy(4, "Nearly", taken=4, capacity=5),
    ]
    ranking = ranked(person(), pool, {"load": 1})
    assert order(ranking) == ["Empty", "Quarter", "Half", "Nearly"]
    assert [s.score for s in ranking.suggestions] == [100.0, 75.0, 50.0, 20.0]
    assert reasons_of(ranking, "Quarter", "load") == ["Has capacity: buddying 1 of 4"]


# --- everything at once -------------------------------------------------------------------------

EVERYTHING = {
    "language": "Polish",
    "interests": {"gardening", "reading"},
    "availability": ["tue_morning", "thu_morning"],
    "preferred_gender": "Woman",
}


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        # One is nearer, speaks Polish and shares interests: first whatever the others' names.
        (
            [
                buddy(1, "Aaron", district="CV37", languages={"french"}, interests={"music"}),
                buddy(2, "Zofia", district="CV1", languages={"polish"}, interests={"gardening"}),
                buddy(3, "Bea", district="CV11", languages={"welsh"}, interests={"football"}),
            ],
            ["Zofia", "Bea", "Aaron"],
        ),
        # A woman who speaks Polish beats a nearer man who does not.
        (
            [
                buddy(1, "Adam", gender="Male", district="CV1"),
                buddy(2, "Ola", gender="Female", district="CV2", languages={"polish"}),
            ],
            ["Ola", "Adam"],
        ),
        # Free at both of Ann's times beats free at neither, all else equal.
        (
            [
                buddy(1, "Never", availability=["sun_evening", "tue_morning"]),
                buddy(2, "Always", availability=["tue_morning", "thu_morning"]),
            ],
            ["Always", "Never"],
        ),
    ],
)
def test_obvious_orders_with_the_default_weights(pool, expected):
    ranking = ranked(person(**EVERYTHING), pool)
    assert order(ranking) == expected


def test_a_buddy_who_fits_every_factor_scores_100_and_the_reasons_add_up():
    perfect = buddy(
        1,
        "Perfect",
        district="CV1",
        gender="female",
        languages={"polish"},
        interests={"gardening", "reading"},
        availability=["tue_morning", "thu_morning"],
    )
    poor = buddy(2, "Poor", district="CV37", gender="male", taken=1, capacity=2)
    ranking = ranked(person(**EVERYTHING), [poor, perfect])
    assert ranking.notes == []
    assert order(ranking) == ["Perfect", "Poor"]
    assert score_of(ranking, "Perfect") == 100.0
    for suggestion in ranking.top(2):
        assert {r.factor for r in suggestion.reasons} == {
            "distance",
            "language",
            "interests",
            "availability",
            "gender",
            "load",
        }
        assert sum(r.points for r in suggestion.reasons) == pytest.approx(suggestion.score, abs=0.3)
    # Poor scores only for being half free: load weight 1 of 3+4+3+2+4+1 = 17.
    assert score_of(ranking, "Poor") == round(0.5 * 100 / 17, 1)


def test_equal_scores_are_ordered_least_busy_then_by_name():
    pool = [
        buddy(1, "cara", taken=1, capacity=2),
        buddy(2, "Bea", taken=0, capacity=2),
        buddy(3, "Abe", taken=1, capacity=2),
        buddy(4, "Dee", taken=0, capacity=3),
    ]
    ranking = ranked(person(), pool, {"language": 1})  # left out: everyone scores 0
    assert order(ranking) == ["Bea", "Dee", "Abe", "cara"]


def test_equal_scores_are_ordered_by_name_ignoring_case():
    # As activities and navigators are: a name typed in lower case is not sent to the back.
    pool = [buddy(1, "Carl"), buddy(2, "bob"), buddy(3, "Anna")]
    ranking = ranked(person(), pool, {"language": 1})  # left out: everyone scores 0
    assert order(ranking) == ["Anna", "bob", "Carl"]


def test_look_up_finds_an_excluded_buddy_and_says_why():
    pool = [buddy(1, "Sam Smith", taken=2, capacity=2), buddy(2, "Sam Jones")]
    ranking = ranked(person(), pool)
    found = ranking.look_up("sam smith")
    assert [item.candidate.name for item in found] == ["Sam Smith"]
    assert found[0].why_not == ["At capacity: buddying 2 of 2"]


# --- property: the reasons shown add up to the score ------------------------------------------

_SLOTS = ("mon_morning", "wed_afternoon", "sat_evening")
_candidates = st.builds(
    BuddyCandidate,
    id=st.integers(1, 10_000),
    name=st.sampled_from(("Al", "Bea", "cy")),
    district=st.sampled_from(("CV1", "CV2", "CV11", "CV37", "ZZ9", None)),
    gender=st.sampled_from((None, "Female", "Male")),
    languages=st.frozensets(st.sampled_from(("polish", "urdu"))),
    interests=st.frozensets(st.sampled_from(("music", "walking", "gardening"))),
    availability=st.sets(st.sampled_from(_SLOTS)).map(slot_mask),
    taken=st.integers(0, 3),
    capacity=st.integers(0, 3),
    by_phone=st.booleans(),
)
_people = st.builds(
    Person,
    name=st.just("Ann"),
    district=st.sampled_from(("CV1", "CV37", "ZZ9", None)),
    language=st.sampled_from(("English", "Polish")),
    interests=st.frozensets(st.sampled_from(("music", "gardening"))),
    reasons=st.frozensets(st.sampled_from(("loneliness", "physical_activity"))),
    availability=st.sets(st.sampled_from(_SLOTS)).map(slot_mask),
    preferred_gender=st.sampled_from((None, "Woman", "man")),
)
_weights = st.fixed_dictionaries(
    {key: st.sampled_from((0.0, 0.5, 1.0, 4.0, 10.0)) for key in DEFAULTS}
)


@settings(max_examples=150, deadline=None, database=None)
@given(p=_people, pool=st.lists(_candidates, max_size=6, unique_by=lambda c: c.id), w=_weights)
def test_property_scores_are_0_to_100_in_order_and_reasons_add_up(p, pool, w):
    ranking = rank(buddies.KIND, p, pool, w, Context(CENTROIDS))
    assert len(ranking.suggestions) + len(ranking.excluded) == len(pool)
    shown = ranking.top(len(pool))
    assert [s.rank for s in shown] == list(range(1, len(shown) + 1))
    assert [s.score for s in shown] == sorted((s.score for s in shown), reverse=True)
    for suggestion in shown:
        assert 0 <= suggestion.score <= 100
        assert buddies.rules(p, suggestion.candidate, Context(CENTROIDS)) == []
        # Each reason's points are rounded on their own: at most 0.05 off per factor.
        total = sum(r.points for r in suggestion.reasons)
        assert total == pytest.approx(suggestion.score, abs=0.05 * len(DEFAULTS))
    for exclusion in ranking.excluded:
        assert exclusion.why_not
