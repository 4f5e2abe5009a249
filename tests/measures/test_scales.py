"""Scoring of the wellbeing scales against the published tables and thresholds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.measures.models import Scale
from portal.measures.scales import (
    DEFINITIONS,
    AnswersRefused,
    Result,
    ScaleDefinition,
    change,
    definition,
    ons4_band,
    results,
    score,
    swemwbs_metric,
    ucla3_band,
    validate,
)

# Written out again here, not imported, so a slip in the module's copy is caught.
PUBLISHED_SWEMWBS = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32,
    15: 15.84, 16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98,
    23: 20.73, 24: 21.54, 25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03,
    31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00,
}  # fmt: skip

POSITIVE_BANDS = ["low"] * 5 + ["medium"] * 2 + ["high"] * 2 + ["very high"] * 2
ANXIETY_BANDS = ["very low"] * 2 + ["low"] * 2 + ["medium"] * 2 + ["high"] * 5


def values(scale: Scale) -> list[int]:
    return [option.value for option in DEFINITIONS[scale].options]


def valid_answers(scale: Scale) -> st.SearchStrategy[list[int]]:
    n = len(DEFINITIONS[scale].items)
    return st.lists(st.sampled_from(values(scale)), min_size=n, max_size=n)


any_scale = st.sampled_from(list(Scale))
scale_and_answers = any_scale.flatmap(lambda s: st.tuples(st.just(s), valid_answers(s)))


# --- definitions ---------------------------------------------------------------------------


def test_every_scale_has_a_definition_with_one_short_name_per_item():
    assert set(DEFINITIONS) == set(Scale)
    for scale in Scale:
        spec = definition(scale)
        assert isinstance(spec, ScaleDefinition) and spec.scale == scale
        assert len(spec.short_names) == len(spec.items)
    assert [len(definition(s).items) for s in (Scale.ONS4, Scale.SWEMWBS, Scale.UCLA3)] == [
        4,
        7,
        3,
    ]


def test_options_and_summing_are_as_published():
    assert values(Scale.ONS4) == list(range(11))
    assert [o.label for o in definition(Scale.ONS4).options] == [str(n) for n in range(11)]
    assert [(o.value, o.label) for o in definition(Scale.SWEMWBS).options] == [
        (1, "None of the time"),
        (2, "Rarely"),
        (3, "Some of the time"),
        (4, "Often"),
        (5, "All of the time"),
    ]
    assert [(o.value, o.label) for o in definition(Scale.UCLA3).options] == [
        (1, "Hardly ever"),
        (2, "Some of the time"),
        (3, "Often"),
    ]
    assert [definition(s).summed for s in (Scale.ONS4, Scale.SWEMWBS, Scale.UCLA3)] == [
        False,
        True,
        True,
    ]


def test_item_wording_and_short_names():
    ons4 = definition(Scale.ONS4)
    assert ons4.items[0] == "Overall, how satisfied are you with your life nowadays?"
    assert ons4.items[3].endswith("overall, how anxious did you feel yesterday?")
    assert ons4.short_names == ("Life satisfaction", "Worthwhile", "Happiness", "Anxiety")
    assert "'not at all'" in ons4.intro and "'completely'" in ons4.intro
    swemwbs = definition(Scale.SWEMWBS)
    assert swemwbs.items[1] == "I've been feeling useful"
    assert swemwbs.short_names[-1] == "Own mind"
    assert "over the last 2 weeks" in swemwbs.intro
    assert definition(Scale.UCLA3).items == (
        "How often do you feel that you lack companionship?",
        "How often do you feel left out?",
        "How often do you feel isolated from others?",
    )


# --- SWEMWBS -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "metric"), sorted(PUBLISHED_SWEMWBS.items()))
def test_swemwbs_metric_matches_the_conversion_table(raw, metric):
    assert swemwbs_metric(raw) == metric


def test_swemwbs_metric_at_known_points():
    assert swemwbs_metric(7) == 7.00
    assert swemwbs_metric(21) == 19.25
    assert swemwbs_metric(28) == 25.03
    assert swemwbs_metric(35) == 35.00


def test_all_threes_score_the_middle_of_the_table():
    assert score(Scale.SWEMWBS, [3, 3, 3, 3, 3, 3, 3]) == 19.25
    assert score(Scale.SWEMWBS, [1] * 7) == 7.00
    assert score(Scale.SWEMWBS, [5] * 7) == 35.00


@pytest.mark.parametrize("raw", [6, 36, 0, -7, True, 21.0])
def test_swemwbs_metric_refuses_totals_off_the_table(raw):
    with pytest.raises(ValueError, match="7 to 35"):
        swemwbs_metric(raw)


def test_swemwbs_results_are_one_metric_score():
    assert results(Scale.SWEMWBS, [4, 4, 3, 3, 3, 3, 3]) == [
        Result(
            name="Mental wellbeing (SWEMWBS metric score)",
            value=20.73,
            lowest=7.0,
            highest=35.0,
            higher_is_better=True,
            band=None,
        )
    ]


# --- ONS4 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [0, 1, 2])
@pytest.mark.parametrize("value", range(11))
def test_ons4_positive_item_bands(item, value):
    assert ons4_band(item, value) == POSITIVE_BANDS[value]


@pytest.mark.parametrize("value", range(11))
def test_ons4_anxiety_bands_run_the_other_way(value):
    assert ons4_band(3, value) == ANXIETY_BANDS[value]


@pytest.mark.parametrize(("item", "value"), [(0, -1), (0, 11), (3, 11), (4, 5), (-1, 5)])
def test_ons4_band_refuses_values_and_items_that_do_not_exist(item, value):
    with pytest.raises(ValueError):
        ons4_band(item, value)


def test_ons4_is_never_summed_and_reports_each_item_with_its_band():
    assert score(Scale.ONS4, [7, 8, 6, 2]) is None
    found = results(Scale.ONS4, [7, 8, 6, 2])
    assert [(r.name, r.value, r.band, r.higher_is_better) for r in found] == [
        ("Life satisfaction", 7.0, "high", True),
        ("Worthwhile", 8.0, "high", True),
        ("Happiness", 6.0, "medium", True),
        ("Anxiety", 2.0, "low", False),
    ]
    assert all((r.lowest, r.highest) == (0.0, 10.0) for r in found)


# --- UCLA-3 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([1, 1, 1], 3, "not lonely"),
        ([2, 2, 1], 5, "not lonely"),
        ([2, 2, 2], 6, "lonely"),
        ([3, 3, 3], 9, "lonely"),
    ],
)
def test_ucla3_totals_and_bands(answers, total, band):
    assert score(Scale.UCLA3, answers) == float(total)
    assert ucla3_band(total) == band
    [result] = results(Scale.UCLA3, answers)
    assert (result.name, result.value, result.band) == ("Loneliness (UCLA-3 score)", total, band)
    assert (result.lowest, result.highest, result.higher_is_better) == (3.0, 9.0, False)


@pytest.mark.parametrize("total", [2, 10, 0, True])
def test_ucla3_band_refuses_totals_out_of_range(total):
    with pytest.raises(ValueError, match="3 to 9"):
        ucla3_band(total)


# --- change --------------------------------------------------------------------------------


def test_ons4_change_in_every_direction():
    moved = change(Scale.ONS4, [4, 8, 6, 7], [7, 5, 6, 3])
    assert [(c.name, c.difference, c.direction, c.words) for c in moved] == [
        (
            "Life satisfaction",
            3.0,
            "better",
            "Life satisfaction went up from 4 (low) to 7 (high): better.",
        ),
        ("Worthwhile", -3.0, "worse", "Worthwhile went down from 8 (high) to 5 (medium): worse."),
        ("Happiness", 0.0, "no change", "Happiness stayed at 6 (medium)."),
        ("Anxiety", -4.0, "better", "Anxiety went down from 7 (high) to 3 (low): better."),
    ]
    assert moved[0].before.value == 4.0 and moved[0].after.value == 7.0


def test_ons4_anxiety_going_up_is_worse():
    [*_, anxiety] = change(Scale.ONS4, [5, 5, 5, 1], [5, 5, 5, 9])
    assert (anxiety.direction, anxiety.difference) == ("worse", 8.0)
    assert anxiety.words == "Anxiety went up from 1 (very low) to 9 (high): worse."


def test_swemwbs_change_in_every_direction():
    up = [4, 4, 4, 4, 4, 3, 3]  # raw 26 -> 23.21
    down = [3, 3, 3, 2, 2, 2, 3]  # raw 18 -> 17.43
    [better] = change(Scale.SWEMWBS, down, up)
    assert (better.difference, better.direction) == (5.78, "better")
    assert better.words == (
        "Mental wellbeing (SWEMWBS metric score) went up from 17.43 to 23.21: better."
    )
    [worse] = change(Scale.SWEMWBS, up, down)
    assert (worse.difference, worse.direction) == (-5.78, "worse")
    assert worse.words == (
        "Mental wellbeing (SWEMWBS metric score) went down from 23.21 to 17.43: worse."
    )
    [same] = change(Scale.SWEMWBS, [1] * 7, [1] * 7)
    assert (same.difference, same.direction) == (0.0, "no change")
    assert same.words == "Mental wellbeing (SWEMWBS metric score) stayed at 7.00."


def test_ucla3_change_in_every_direction():
    [better] = change(Scale.UCLA3, [3, 2, 2], [2, 1, 1])
    assert (better.difference, better.direction) == (-3.0, "better")
    assert better.words == (
        "Loneliness (UCLA-3 score) went down from 7 (lonely) to 4 (not lonely): better."
    )
    [worse] = change(Scale.UCLA3, [1, 1, 1], [3, 3, 2])
    assert (worse.difference, worse.direction) == (5.0, "worse")
    assert worse.words == (
        "Loneliness (UCLA-3 score) went up from 3 (not lonely) to 8 (lonely): worse."
    )
    [same] = change(Scale.UCLA3, [2, 1, 3], [3, 2, 1])
    assert (same.difference, same.direction) == (0.0, "no change")
    assert same.words == "Loneliness (UCLA-3 score) stayed at 6 (lonely)."


def test_change_validates_both_sittings():
    with pytest.raises(AnswersRefused) as refused:
        change(Scale.UCLA3, [1, 4, 1], [1, 1, 1])
    assert list(refused.value.errors) == [1]
    with pytest.raises(AnswersRefused) as refused:
        change(Scale.UCLA3, [1, 1, 1], [1, 1])
    assert list(refused.value.errors) == [2]


# --- validate ------------------------------------------------------------------------------


def test_validate_accepts_form_strings_and_ints():
    assert validate(Scale.ONS4, ["7", 0, " 10 ", "03"]) == [7, 0, 10, 3]


def test_validate_names_every_bad_item_at_once():
    with pytest.raises(AnswersRefused) as refused:
        validate(Scale.ONS4, [None, "", "11", "seven"])
    assert refused.value.errors == {
        0: 'Answer "Overall, how satisfied are you with your life nowadays?"',
        1: 'Answer "Overall, to what extent do you feel that the things you do in your life '
        'are worthwhile?"',
        2: "Happiness must be a whole number from 0 to 10",
        3: "Anxiety must be a whole number from 0 to 10",
    }


@pytest.mark.parametrize("bad", [True, False, 3.0, "3.5", "-1", "²", "٣", [3], 0, 6])
def test_validate_refuses_anything_but_an_allowed_whole_number(bad):
    with pytest.raises(AnswersRefused) as refused:
        validate(Scale.SWEMWBS, [3, 3, bad, 3, 3, 3, 3])
    assert refused.value.errors == {2: "Relaxed must be a whole number from 1 to 5"}


def test_validate_refuses_too_few_answers_naming_the_missing_items():
    with pytest.raises(AnswersRefused) as refused:
        validate(Scale.UCLA3, [1])
    assert refused.value.errors == {
        1: 'Answer "How often do you feel left out?"',
        2: 'Answer "How often do you feel isolated from others?"',
    }


def test_validate_refuses_too_many_answers_on_the_index_past_the_end():
    with pytest.raises(AnswersRefused) as refused:
        validate(Scale.UCLA3, [1, 2, 3, 1])
    assert refused.value.errors == {
        3: "UCLA 3-item loneliness scale has 3 questions but 4 answers were given"
    }


def test_validate_refuses_a_bare_string():
    with pytest.raises(TypeError):
        validate(Scale.UCLA3, "123")


# --- properties ----------------------------------------------------------------------------


@given(scale_and_answers)
def test_score_stays_within_the_scale_range(case):
    scale, answers = case
    found = score(scale, answers)
    if scale == Scale.ONS4:
        assert found is None
    elif scale == Scale.SWEMWBS:
        assert 7.0 <= found <= 35.0
        assert found == PUBLISHED_SWEMWBS[sum(answers)]
    else:
        assert 3.0 <= found <= 9.0
        assert found == sum(answers)


@given(st.integers(7, 35), st.integers(7, 35))
def test_swemwbs_metric_rises_with_the_raw_total(a, b):
    if a < b:
        assert swemwbs_metric(a) < swemwbs_metric(b)
    elif a == b:
        assert swemwbs_metric(a) == swemwbs_metric(b)
    else:
        assert swemwbs_metric(a) > swemwbs_metric(b)


def test_swemwbs_metric_is_strictly_increasing_at_every_step():
    steps = [swemwbs_metric(raw + 1) - swemwbs_metric(raw) for raw in range(7, 35)]
    assert min(steps) > 0


@given(valid_answers(Scale.ONS4))
def test_every_ons4_result_has_its_band(answers):
    found = results(Scale.ONS4, answers)
    assert len(found) == 4
    for i, (result, answer) in enumerate(zip(found, answers, strict=True)):
        assert result.band == (ANXIETY_BANDS if i == 3 else POSITIVE_BANDS)[answer]
        assert result.value == answer


@given(scale_and_answers)
def test_validate_returns_valid_answers_unchanged(case):
    scale, answers = case
    assert validate(scale, answers) == answers


@given(scale_and_answers)
def test_validate_treats_digit_strings_like_ints(case):
    scale, answers = case
    assert validate(scale, [str(a) for a in answers]) == validate(scale, answers)


@given(scale_and_answers, st.data(), st.sampled_from([None, "", "  "]))
def test_validate_refuses_any_missing_item(case, data, blank):
    scale, answers = case
    index = data.draw(st.integers(0, len(answers) - 1))
    answers[index] = blank
    with pytest.raises(AnswersRefused) as refused:
        validate(scale, answers)
    assert refused.value.errors == {index: f'Answer "{definition(scale).items[index]}"'}


@given(scale_and_answers, st.data())
def test_validate_refuses_any_value_outside_the_options(case, data):
    scale, answers = case
    index = data.draw(st.integers(0, len(answers) - 1))
    allowed = values(scale)
    bad = data.draw(st.integers().filter(lambda n: n not in allowed))
    answers[index] = data.draw(st.sampled_from([bad, str(bad)]))
    with pytest.raises(AnswersRefused) as refused:
        validate(scale, answers)
    assert list(refused.value.errors) == [index]


@given(any_scale, st.data())
def test_validate_refuses_the_wrong_number_of_answers(scale, data):
    n = len(definition(scale).items)
    size = data.draw(st.integers(0, n + 5).filter(lambda k: k != n))
    answers = data.draw(st.lists(st.sampled_from(values(scale)), min_size=size, max_size=size))
    with pytest.raises(AnswersRefused) as refused:
        validate(scale, answers)
    if size < n:
        assert list(refused.value.errors) == list(range(size, n))
    else:
        assert list(refused.value.errors) == [n]


@given(scale_and_answers, scale_and_answers)
def test_change_direction_follows_the_difference(first, second):
    scale, baseline = first
    later = second[1] if second[0] == scale else baseline
    for moved in change(scale, baseline, later):
        assert moved.difference == round(moved.after.value - moved.before.value, 2)
        if moved.difference == 0:
            assert moved.direction == "no change" and "stayed at" in moved.words
        else:
            improved = (moved.difference > 0) == moved.after.higher_is_better
            assert moved.direction == ("better" if improved else "worse")
            assert moved.words.endswith(f": {moved.direction}.")
