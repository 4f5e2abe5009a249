"""Directory search: words and filters over published activities of verified organisations."""

from __future__ import annotations

from datetime import time

import pytest
from werkzeug.datastructures import MultiDict

from portal.directory.models import ActivityCategory, ActivityStatus
from portal.directory.search import ACCESS_FEATURES, SearchFilters, search
from tests.factories import make_activity, make_organisation

C = ActivityCategory


def filters(*pairs, **kw) -> SearchFilters:
    return SearchFilters.from_args(MultiDict([*pairs, *kw.items()]))


def titles(*pairs, **kw) -> list[str]:
    return [a.title for a in search(filters(*pairs, **kw), None).items]


def found(*pairs, **kw) -> set[str]:
    return set(titles(*pairs, **kw))


@pytest.fixture
def org(app):
    return make_organisation(name="Riverside Trust")


# --- reading the query string -----------------------------------------------------------------


def test_from_args_keeps_only_real_choices():
    f = filters(
        ("category", "arts"),
        ("category", "knitting"),
        ("category", "arts"),
        ("day", "1"),
        ("day", "7"),
        ("day", "-1"),
        ("day", "x"),
        ("day", "1"),
        ("time", "morning"),
        ("time", "midnight"),
        ("access", "hearing_loop"),
        ("access", "lift"),
        cost="cheap",
        where="the moon",
        referrals="yes",
    )
    assert f.categories == ["arts"]
    assert f.days == [1]
    assert f.times == ["morning"]
    assert f.access == ["hearing_loop"]
    assert f.cost == ""
    assert f.where == ""
    assert f.referrals_only is False
    assert f.district == "" and f.district_error is None


@pytest.mark.parametrize("day", ["²", "¹", "99999999999999999999"])
def test_a_day_that_is_not_an_ascii_weekday_number_is_ignored(day):
    # "²".isdigit() is true but int("²") fails: a query string must never crash the page.
    assert filters(("day", day), ("day", "2")).days == [2]


def test_from_args_reads_every_filter():
    f = filters(
        ("day", "0"),
        ("day", "6"),
        q="  walking   group ",
        cost="free",
        where="in_person",
        referrals="1",
    )
    assert f.q == "walking group"
    assert f.words == ["walking", "group"]
    assert f.days == [0, 6]
    assert f.cost == "free" and f.where == "in_person" and f.referrals_only
    assert f.active
    assert not filters().active


def test_as_args_round_trips():
    f = filters(
        ("category", "arts"),
        ("day", "2"),
        ("day", "5"),
        q="walk",
        district="cv2 4ab",
        time="evening",
        access="step_free",
        cost="free",
        where="online",
        referrals="1",
    )
    # As a link would carry them: every value a string.
    pairs = [
        (key, str(value))
        for key, values in f.as_args().items()
        for value in (values if isinstance(values, list) else [values])
    ]
    again = SearchFilters.from_args(MultiDict(pairs))
    assert again.as_args() == f.as_args()
    assert again.district == "CV2" and again.days == [2, 5]


@pytest.mark.parametrize(
    ("typed", "district"),
    [
        ("cv2 4ab", "CV2"),
        ("CV24AB", "CV2"),
        ("cv2", "CV2"),
        (" CV31 ", "CV31"),
        ("cv31 1aa", "CV31"),
        ("b1 1aa", "B1"),
        ("ec1a 1bb", "EC1A"),
    ],
)
def test_district_from_a_district_or_full_postcode(typed, district):
    f = filters(district=typed)
    assert f.district == district
    assert f.district_error is None
    assert f.typed_district == typed.strip()


@pytest.mark.parametrize("typed", ["12345", "hello", "CV", "2CV", "CV2 4AB extra", "%", "_"])
def test_a_bad_district_gives_an_error_and_no_filter(typed):
    f = filters(district=typed)
    assert f.district == ""
    assert f.district_error == "Enter a postcode district like CV2, or a full postcode"


def test_the_query_is_cut_to_its_limits():
    f = filters(q="word " * 60)
    assert len(f.q) <= 100
    assert f.words == ["word"] * 8


# --- what may be found ------------------------------------------------------------------------


def test_only_published_activities_of_verified_organisations_are_found(app, org):
    make_activity(org, title="Shown")
    for status in (ActivityStatus.DRAFT, ActivityStatus.PAUSED, ActivityStatus.ARCHIVED):
        make_activity(org, title=f"Hidden {status.value}", status=status)
    make_activity(make_organisation(verified=False), title="Hidden unverified")
    assert titles() == ["Shown"]
    assert titles(q="hidden") == []


# --- words ------------------------------------------------------------------------------------


def test_a_word_matches_the_start_of_words(app, org):
    make_activity(org, title="Walking group")
    make_activity(org, title="Sidewalk chalk art")
    make_activity(org, title="Tea", description="We walk to the cafe")
    assert found(q="walk") == {"Walking group", "Tea"}
    assert found(q="WALK") == {"Walking group", "Tea"}
    assert found(q="alking") == set()


def test_every_word_must_match(app, org):
    make_activity(org, title="Walking group", description="Gentle walks in the park")
    make_activity(org, title="Park run")
    make_activity(org, title="Chess club")
    assert found(q="walk park") == {"Walking group"}
    assert found(q="park") == {"Walking group", "Park run"}
    assert found(q="walk chess") == set()


def test_words_match_every_searchable_field(app, org):
    make_activity(org, title="A", description="Pottery wheel")
    make_activity(org, title="B", venue_name="Foleshill Library")
    make_activity(org, title="C", eligibility="Carers of someone with dementia")
    make_activity(org, title="D", categories=[C.NATURE.value])
    assert found(q="pottery") == {"A"}
    assert found(q="foleshill") == {"B"}
    assert found(q="dementia") == {"C"}
    assert found(q="gardening") == {"D"}  # the category's name, "Nature and gardening"


def test_the_organisation_name_matches(app, org):
    make_activity(org, title="Coffee morning")
    make_activity(make_organisation(name="Age Friendly Coventry"), title="Bingo")
    assert found(q="riverside") == {"Coffee morning"}
    assert found(q="riverside coffee") == {"Coffee morning"}
    assert found(q="riverside bingo") == set()


def test_the_organisation_name_matches_only_at_the_start_of_a_word(app):
    # The same rule as for the activity: "art" is not in "Heart of England".
    make_activity(make_organisation(name="Heart of England Trust"), title="Bingo")
    make_activity(make_organisation(name="Arts Collective"), title="Drawing")
    make_activity(make_organisation(name="Foleshill Partnership"), title="Lunch club")
    assert found(q="heart") == {"Bingo"}
    assert found(q="partnership") == {"Lunch club"}
    assert found(q="art") == {"Drawing"}


def test_punctuation_in_the_query_is_ignored(app, org):
    make_activity(org, title="Women's walking group")
    make_activity(org, title="Men's shed")
    assert found(q="women's") == {"Women's walking group"}
    assert found(q="walking-group!") == {"Women's walking group"}
    assert found(q="men's") == {"Men's shed"}
    assert found(q="'; DROP TABLE activities; --") == set()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # "%" and "_" are punctuation, dropped like any other: they never widen a match.
        ("%walk", {"Walking group"}),  # not "Sidewalk art", as "%walk%" would
        ("wa%", {"Walking group", "Wax craft"}),
        ("wa_k", set()),  # two words, "wa" and "k": not "walk" with any one letter
        ("w_", {"Walking group", "Wax craft", "W_ club"}),
        ("\\walk", {"Walking group"}),
        ("w\\_", {"Walking group", "Wax craft", "W_ club"}),
    ],
)
def test_like_wildcards_in_the_query_are_inert(app, org, q, expected):
    make_activity(org, title="Walking group")
    make_activity(org, title="Wax craft")
    make_activity(org, title="Sidewalk art")
    make_activity(org, title="W_ club")
    assert found(q=q) == expected


def test_a_query_of_only_punctuation_finds_everything(app, org):
    make_activity(org, title="Walking group")
    make_activity(org, title="Chess club")
    assert found(q="%") == {"Walking group", "Chess club"}
    assert found(q="_ %") == {"Walking group", "Chess club"}


def test_a_title_match_ranks_first(app, org):
    make_activity(org, title="Allotment", description="Sometimes we walk to the shop")
    make_activity(org, title="Book club", description="We read books about walking")
    make_activity(org, title="Walking group")
    assert titles(q="walk") == ["Walking group", "Allotment", "Book club"]


# --- filters ----------------------------------------------------------------------------------


def test_category_filter(app, org):
    make_activity(org, title="Art", categories=[C.ARTS.value])
    make_activity(org, title="Art walk", categories=[C.ARTS.value, C.PHYSICAL_ACTIVITY.value])
    make_activity(org, title="Money", categories=[C.MONEY_ADVICE.value])
    make_activity(org, title="None", categories=[])
    assert found(category="arts") == {"Art", "Art walk"}
    assert found(category="physical_activity") == {"Art walk"}
    assert found(("category", "money_advice"), ("category", "physical_activity")) == {
        "Art walk",
        "Money",
    }
    assert found(category="carers") == set()


@pytest.mark.parametrize("category", list(ActivityCategory))
def test_every_category_filters(app, org, category):
    make_activity(org, title="In", categories=[category.value])
    make_activity(org, title="Out", categories=[c.value for c in ActivityCategory if c != category])
    assert found(category=category.value) == {"In"}


def test_day_filter(app, org):
    make_activity(org, title="Mon", days=[0])
    make_activity(org, title="Mon Thu", days=[0, 3])
    make_activity(org, title="Sun", days=[6])
    make_activity(org, title="Any time", days=[])
    assert found(day="0") == {"Mon", "Mon Thu"}
    assert found(day="3") == {"Mon Thu"}
    assert found(day="6") == {"Sun"}
    assert found(("day", "3"), ("day", "6")) == {"Mon Thu", "Sun"}
    assert found(day="2") == set()


def test_time_of_day_filter(app, org):
    make_activity(org, title="Early", start_time=time(0, 0))
    make_activity(org, title="Late morning", start_time=time(11, 59))
    make_activity(org, title="Noon", start_time=time(12, 0))
    make_activity(org, title="Tea time", start_time=time(16, 59))
    make_activity(org, title="Five", start_time=time(17, 0))
    make_activity(org, title="Night", start_time=time(23, 0))
    make_activity(org, title="Unknown", start_time=None)
    assert found(time="morning") == {"Early", "Late morning"}
    assert found(time="afternoon") == {"Noon", "Tea time"}
    assert found(time="evening") == {"Five", "Night"}
    assert found(("time", "morning"), ("time", "evening")) == {
        "Early",
        "Late morning",
        "Five",
        "Night",
    }


def test_free_filter(app, org):
    make_activity(org, title="No price", cost_pence=None)
    make_activity(org, title="Zero", cost_pence=0)
    make_activity(org, title="Penny", cost_pence=1)
    make_activity(org, title="Three fifty", cost_pence=350)
    assert found(cost="free") == {"No price", "Zero"}
    assert found() == {"No price", "Zero", "Penny", "Three fifty"}


@pytest.mark.parametrize("feature", list(ACCESS_FEATURES))
def test_each_accessibility_feature_filters(app, org, feature):
    make_activity(org, title="With", **{feature: True})
    make_activity(org, title="Without", **{f: True for f in ACCESS_FEATURES if f != feature})
    assert found(access=feature) == {"With"}


def test_several_accessibility_features_must_all_be_there(app, org):
    make_activity(org, title="Both", step_free=True, hearing_loop=True)
    make_activity(org, title="Step free", step_free=True)
    assert found(("access", "step_free"), ("access", "hearing_loop")) == {"Both"}


def test_district_filter(app, org):
    make_activity(org, title="Stoke", postcode="CV2 4AB")
    make_activity(org, title="Leamington", postcode="CV31 1AA")
    make_activity(org, title="Birmingham", postcode="B1 1AA")
    make_activity(org, title="Online", postcode=None, online=True)
    assert found(district="cv2 9zz") == {"Stoke"}
    assert found(district="CV3") == set()  # not a prefix match: CV31 is another district
    assert found(district="CV31") == {"Leamington"}
    assert found(district="B1") == {"Birmingham"}
    # A bad district is no filter at all.
    assert found(district="nonsense") == {"Stoke", "Leamington", "Birmingham", "Online"}


def test_online_and_in_person_filters(app, org):
    make_activity(org, title="Zoom quiz", online=True)
    make_activity(org, title="Pub quiz", online=False, postcode="CV1 1AA")
    assert found(where="online") == {"Zoom quiz"}
    assert found(where="in_person") == {"Pub quiz"}
    assert found(where="") == {"Zoom quiz", "Pub quiz"}


def test_referrals_only_excludes_full_and_signpost_only(app, org):
    make_activity(org, title="Spaces", spaces_available=3)
    make_activity(org, title="Unknown spaces", spaces_available=None)
    make_activity(org, title="Full", spaces_available=0)
    make_activity(org, title="Signpost only", accepts_referrals=False, spaces_available=5)
    assert found(referrals="1") == {"Spaces", "Unknown spaces"}
    assert found() == {"Spaces", "Unknown spaces", "Full", "Signpost only"}


def test_filters_combine(app, org):
    make_activity(org, title="Free Monday art", categories=["arts"], days=[0], cost_pence=None)
    make_activity(org, title="Paid Monday art", categories=["arts"], days=[0], cost_pence=200)
    make_activity(org, title="Free Tuesday art", categories=["arts"], days=[1])
    make_activity(org, title="Free Monday walk", categories=["physical_activity"], days=[0])
    assert found(category="arts", day="0", cost="free") == {"Free Monday art"}
    assert found(q="art", day="0") == {"Free Monday art", "Paid Monday art"}


# --- paging -----------------------------------------------------------------------------------


def test_paging(app, org):
    for n in range(7):
        make_activity(org, title=f"Group {n}")
    make_activity(org, title="Other", status=ActivityStatus.DRAFT)
    f = filters()
    first = search(f, None, per_page=3)
    assert first.total == 7 and first.pages == 3 and first.page == 1
    assert [a.title for a in first.items] == ["Group 0", "Group 1", "Group 2"]
    assert not first.has_prev and first.has_next
    last = search(f, "3", per_page=3)
    assert [a.title for a in last.items] == ["Group 6"]
    assert last.has_prev and not last.has_next
    assert search(f, "9", per_page=3).items == []
    assert search(f, "9", per_page=3).total == 7
    assert search(f, "abc", per_page=3).page == 1
    assert search(f, "-1", per_page=3).page == 1
    # Every activity appears on exactly one page.
    seen = [a.title for p in ("1", "2", "3") for a in search(f, p, per_page=3).items]
    assert sorted(seen) == [f"Group {n}" for n in range(7)]


def test_paging_totals_follow_the_filters(app, org):
    for n in range(5):
        make_activity(org, title=f"Walk {n}", days=[0])
    for n in range(4):
        make_activity(org, title=f"Chess {n}", days=[1])
    assert search(filters(q="walk"), None, per_page=2).total == 5
    assert search(filters(day="1"), None, per_page=2).total == 4
    assert search(filters(day="1"), "2", per_page=2).pages == 2
