"""Ranking directory activities: the hard rules, then distance, what they are about, and when."""

from __future__ import annotations

import pytest

from portal.matching import activities
from portal.matching.activities import ActivityCandidate
from portal.matching.engine import Context, rank
from portal.matching.people import Goal, Person, activity_slots, slot_mask, slots_of, stems
from portal.matching.weights import DEFAULTS

CENTROIDS = {
    "CV1": (52.40939, -1.506),
    "CV2": (52.4227, -1.46467),
    "CV37": (52.1853, -1.71328),
}


def person(**kw) -> Person:
    kw.setdefault("name", "Ann")
    kw.setdefault("district", "CV1")
    for key in ("reasons", "interests", "access_needs", "referred_activity_ids"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    if "availability" in kw:
        kw["availability"] = slot_mask(kw["availability"])
    if "goals" in kw:
        kw["goals"] = tuple(Goal(text, stems(text)) for text in kw["goals"])
    return Person(**kw)


def activity(id: int, title: str | None = None, **kw) -> ActivityCandidate:
    for key in ("access", "categories"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    if "slots" in kw:
        kw["slots"] = slot_mask(kw["slots"])
    kw.setdefault("organisation", "Riverside Trust")
    return ActivityCandidate(id=id, title=title or f"Activity {id}", **kw)


def ranked(p: Person, pool, weights=None):
    return rank(
        activities.KIND, p, pool, DEFAULTS if weights is None else weights, Context(CENTROIDS)
    )


def order(ranking) -> list[str]:
    return [s.candidate.title for s in ranking.suggestions]


def scores_of(ranking) -> list[float]:
    return [s.score for s in ranking.suggestions]


def reasons_of(ranking, title: str, factor: str) -> list[str]:
    found = next(s for s in ranking.suggestions if s.candidate.title == title)
    return [r.text for r in ranking.explain(found) if r.factor == factor]


# --- hard rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "candidate", "expected"),
    [
        (
            person(),
            activity(1, open=False, closed_because="Paused by the organisation"),
            [("closed", "Paused by the organisation")],
        ),
        (person(), activity(1, open=False), [("closed", "Not open in the directory")]),
        (
            person(),
            activity(1, accepts_referrals=False),
            [("no_referrals", "Does not take referrals: signpost instead")],
        ),
        (person(), activity(1, spaces_available=0), [("full", "Full: no spaces at the moment")]),
        (
            person(access_needs={"step_free"}),
            activity(1, access={"hearing_loop"}),
            [("access", "No step-free access, which Ann needs")],
        ),
        (
            person(access_needs={"step_free", "hearing_loop", "transport_offered"}),
            activity(1, access={"hearing_loop"}),
            [
                ("access", "No step-free access, which Ann needs"),
                ("access", "No transport offered, which Ann needs"),
            ],
        ),
        (person(age=16), activity(1, min_age=18), [("age", "For ages 18 and over; Ann is 16")]),
        (person(age=70), activity(1, max_age=25), [("age", "For ages up to 25; Ann is 70")]),
        (
            person(referred_activity_ids={1}),
            activity(1),
            [("already", "Ann is already referred to it")],
        ),
        (
            person(age=90, referred_activity_ids={1}, access_needs={"accessible_toilet"}),
            activity(
                1, open=False, accepts_referrals=False, spaces_available=0, min_age=18, max_age=65
            ),
            [
                ("closed", "Not open in the directory"),
                ("no_referrals", "Does not take referrals: signpost instead"),
                ("full", "Full: no spaces at the moment"),
                ("access", "No accessible toilet, which Ann needs"),
                ("age", "For ages up to 65; Ann is 90"),
                ("already", "Ann is already referred to it"),
            ],
        ),
    ],
    ids=[
        "paused",
        "closed",
        "no-referrals",
        "full",
        "access",
        "two-access-needs",
        "too-young",
        "too-old",
        "already",
        "all",
    ],
)
def test_hard_rules_exclude_and_say_why(p, candidate, expected):
    ranking = ranked(p, [candidate])
    assert ranking.suggestions == []
    [excluded] = ranking.excluded
    assert [(r.key, r.text) for r in excluded.refusals] == expected
    one, _several = activities.KIND.refusal_phrases[expected[0][0]]
    assert ranking.no_one_message == f"No one matches, because of the only activity: 1 {one}."


@pytest.mark.parametrize(
    ("p", "candidate"),
    [
        (person(), activity(1)),
        (person(), activity(1, spaces_available=None)),  # spaces not counted
        (person(), activity(1, spaces_available=3)),
        (person(access_needs={"step_free"}), activity(1, access={"step_free", "hearing_loop"})),
        (person(age=18), activity(1, min_age=18)),  # exactly the youngest
        (person(age=65), activity(1, max_age=65)),  # exactly the oldest
        (person(age=None), activity(1, min_age=18, max_age=25)),  # age not known
        (person(referred_activity_ids={2}), activity(1)),
    ],
)
def test_activities_that_pass_every_rule_are_ranked(p, candidate):
    ranking = ranked(p, [candidate])
    assert ranking.excluded == []
    assert order(ranking) == [candidate.title]


def test_no_one_matches_message():
    pool = [
        activity(1, spaces_available=0),
        activity(2, spaces_available=0),
        activity(3, min_age=60),
        activity(4, open=False, closed_because="The organisation is not verified yet"),
    ]
    assert ranked(person(age=30), pool).no_one_message == (
        "No one matches, because of the 4 activities: 2 are full, 1 is for another age group "
        "and 1 is not open in the directory."
    )
    assert ranked(person(), []).no_one_message == (
        "No one matches, because there are no activities in the directory yet."
    )


# --- distance ---------------------------------------------------------------------------------


def test_nearer_first_online_halfway():
    pool = [
        activity(1, "Far", district="CV37"),
        activity(2, "Online", online=True),
        activity(3, "Here", district="CV1"),
        activity(4, "Near", district="CV2"),
        activity(5, "Nowhere"),
    ]
    ranking = ranked(person(), pool, {"distance": 1})
    assert order(ranking) == ["Here", "Near", "Online", "Far", "Nowhere"]
    assert scores_of(ranking) == [100.0, round(100 * (1 - 3.16975 / 15), 1), 50.0, 0.0, 0.0]
    assert reasons_of(ranking, "Online", "distance") == ["Online: no travel, but needs a device"]
    assert reasons_of(ranking, "Here", "distance") == ["In the same postcode district (CV1)"]
    assert reasons_of(ranking, "Near", "distance") == ["3.2 km away (CV2)"]
    assert reasons_of(ranking, "Nowhere", "distance") == [
        "Distance not known: no postcode recorded"
    ]


@pytest.mark.parametrize(
    ("district", "note"),
    [
        (None, "Distance is not counted: there is no postcode for Ann."),
        ("B1", "Distance is not counted: B1 is not a postcode district the portal knows."),
    ],
)
def test_distance_is_left_out_when_the_person_has_no_known_district(district, note):
    ranking = ranked(person(district=district), [activity(1, district="CV1")], {"distance": 1})
    assert ranking.notes == [note]


# --- what it is about ---------------------------------------------------------------------------

INTERESTS = {"interests": 1}


@pytest.mark.parametrize(
    ("p", "pool", "expected", "reason"),
    [
        # Loneliness is helped by social connection.
        (
            person(reasons={"loneliness"}),
            [
                activity(1, "Painting", categories={"arts"}),
                activity(2, "Coffee morning", categories={"social_connection"}),
            ],
            ["Coffee morning", "Painting"],
            ("Coffee morning", "Social connection matches 'Loneliness or social isolation'"),
        ),
        # Low mood: wellbeing and social connection; an activity with both comes first.
        (
            person(reasons={"low_mood"}),
            [
                activity(1, "Chat", categories={"social_connection"}),
                activity(2, "Football", categories={"physical_activity"}),
                activity(3, "Peer support", categories={"mental_wellbeing", "social_connection"}),
            ],
            ["Peer support", "Chat", "Football"],
            (
                "Peer support",
                "Mental wellbeing matches 'Low mood'; Social connection matches 'Low mood'",
            ),
        ),
        # A recorded interest names its category.
        (
            person(interests={"gardening"}),
            [
                activity(1, "Choir", categories={"arts"}),
                activity(2, "Allotment", categories={"nature"}),
            ],
            ["Allotment", "Choir"],
            ("Allotment", "Nature and gardening matches 'gardening'"),
        ),
        # An interest named in a goal does too.
        (
            person(goals=["Learn to use a computer"]),
            [
                activity(1, "Quiz", categories={"social_connection"}),
                activity(2, "Tablet help", categories={"digital_skills"}),
            ],
            ["Tablet help", "Quiz"],
            ("Tablet help", "Digital skills matches 'computers'"),
        ),
    ],
    ids=["loneliness", "low-mood", "interest", "interest-in-goal"],
)
def test_categories_from_reasons_and_interests(p, pool, expected, reason):
    ranking = ranked(p, pool, INTERESTS)
    assert order(ranking) == expected
    title, text = reason
    assert reasons_of(ranking, title, "interests") == [text]


@pytest.mark.parametrize(
    ("goal", "text", "hits"),
    [
        ("Help out in the garden", "community gardening club", True),  # "garden" in "gardening"
        ("Start gardening again", "garden volunteers", True),  # "gardening" stems to "garden"
        ("Learn to swim", "swimming lessons for adults", True),
        ("Go on walks", "walking football", True),
        ("Go on walks", "sidewalk cafe", False),  # a goal word must begin a listing word
        ("Learn to swim", "knit and natter", False),
        ("Feel better and see people", "people better feel", False),  # too common to tell
    ],
)
def test_goal_words_match_the_start_of_listing_words(goal, text, hits):
    pool = [activity(1, "Listing", text=text)]
    ranking = ranked(person(goals=[goal]), pool, INTERESTS)
    assert scores_of(ranking) == [50.0 if hits else 0.0]
    expected = (
        f"Fits Ann's goal '{goal}'"
        if hits
        else ("Not one of the kinds of thing Ann is looking for")
    )
    assert reasons_of(ranking, "Listing", "interests")[-1] == expected


def test_a_goal_and_a_category_together_make_a_perfect_fit():
    p = person(reasons={"loneliness"}, goals=["Join a choir"])
    pool = [
        activity(1, "Coffee", categories={"social_connection"}, text="coffee morning"),
        activity(2, "Choir", categories={"social_connection"}, text="community choir singing"),
        activity(3, "Gym", categories={"physical_activity"}, text="gym session"),
    ]
    ranking = ranked(p, pool, INTERESTS)
    assert order(ranking) == ["Choir", "Coffee", "Gym"]
    assert scores_of(ranking) == [100.0, 50.0, 0.0]
    assert reasons_of(ranking, "Choir", "interests") == [
        "Social connection matches 'Loneliness or social isolation'; Fits Ann's goal 'Join a choir'"
    ]
    assert reasons_of(ranking, "Gym", "interests") == [
        "Not one of the kinds of thing Ann is looking for"
    ]


@pytest.mark.parametrize("reasons", [set(), {"other"}])
def test_interests_are_left_out_with_nothing_to_go_on(reasons):
    ranking = ranked(person(reasons=reasons), [activity(1, categories={"arts"})], INTERESTS)
    assert ranking.notes == ["Interests are not counted: no reasons, interests or goals for Ann."]


# --- when ---------------------------------------------------------------------------------------


def test_meeting_when_the_person_is_free_comes_first_by_arrangement_halfway():
    p = person(availability=["mon_morning", "thu_afternoon"])
    pool = [
        activity(1, "Evenings", slots=["tue_evening"]),
        activity(2, "Arranged", by_arrangement=True),
        activity(3, "Thursdays", slots=["thu_afternoon", "thu_evening"]),
        activity(4, "Untimed"),
    ]
    ranking = ranked(p, pool, {"availability": 1})
    assert ranking.excluded == []  # not meeting when free never excludes an activity
    assert order(ranking) == ["Thursdays", "Arranged", "Evenings", "Untimed"]
    assert scores_of(ranking) == [100.0, 50.0, 0.0, 0.0]
    assert reasons_of(ranking, "Thursdays", "availability") == [
        "Meets when Ann is free: Thursday afternoon"
    ]
    assert reasons_of(ranking, "Arranged", "availability") == ["Times by arrangement"]
    assert reasons_of(ranking, "Evenings", "availability") == [
        "Meets when Ann is not free (Tuesday evening)"
    ]
    assert reasons_of(ranking, "Untimed", "availability") == [
        "Meets when Ann is not free (times not given)"
    ]


def test_availability_is_left_out_when_the_persons_times_are_not_recorded():
    ranking = ranked(person(), [activity(1, slots=["mon_morning"])], {"availability": 1})
    assert ranking.notes == ["Availability is not counted: Ann's free times are not recorded."]


@pytest.mark.parametrize(
    ("days", "part", "expected"),
    [
        ([0], "morning", ["mon_morning"]),
        ([0, 3], "evening", ["mon_evening", "thu_evening"]),
        ([6], None, ["sun_morning", "sun_afternoon", "sun_evening"]),  # no time: all day
        ([], "morning", []),
        (None, "morning", []),
        ([7, -1, 2], "afternoon", ["wed_afternoon"]),  # impossible days are ignored
    ],
)
def test_activity_slots(days, part, expected):
    assert slots_of(activity_slots(days, part)) == expected


# --- together -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        # Near, about what she wants, and when she is free: first.
        (
            [
                activity(
                    1, "Far arts", district="CV37", categories={"arts"}, slots=["sat_evening"]
                ),
                activity(
                    2,
                    "Local walk",
                    district="CV1",
                    categories={"physical_activity"},
                    slots=["tue_morning"],
                    text="local walking group",
                ),
                activity(3, "Online chat", online=True, categories={"social_connection"}),
            ],
            ["Local walk", "Online chat", "Far arts"],
        ),
        # Equal scores: free first, then by title.
        (
            [
                activity(1, "Bowls", free=False),
                activity(2, "Crafts", free=True),
                activity(3, "art", free=True),
            ],
            ["art", "Crafts", "Bowls"],
        ),
    ],
)
def test_obvious_orders_with_the_default_weights(pool, expected):
    p = person(reasons={"physical_activity"}, goals=["Walk more"], availability=["tue_morning"])
    assert order(ranked(p, pool)) == expected


def test_look_up_by_organisation_name():
    pool = [activity(1, "Walk", organisation="Ramblers"), activity(2, "Sing", organisation="Choir")]
    ranking = ranked(person(), pool)
    assert [item.candidate.title for item in ranking.look_up("ramblers")] == ["Walk"]
    assert [item.candidate.title for item in ranking.look_up("walk ramblers")] == ["Walk"]
