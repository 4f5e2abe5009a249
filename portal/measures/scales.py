"""Wording and scoring of the wellbeing scales: ONS4, SWEMWBS and UCLA-3.

Pure code, no Flask and no database, so forms, reports and the demo data can all score
answers the same way and the tests can check it against the published tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.measures.models import Scale


class AnswersRefused(ValueError):
    """Raised by validate(); .errors maps 0-based item index -> a message a person can act on."""

    errors: dict[int, str]

    def __init__(self, errors: dict[int, str]):
        self.errors = dict(sorted(errors.items()))
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    lowest: float
    highest: float
    higher_is_better: bool
    band: str | None


@dataclass(frozen=True)
class Change:
    name: str
    before: Result
    after: Result
    difference: float
    direction: str
    words: str


@dataclass(frozen=True)
class ScaleDefinition:
    scale: Scale
    title: str
    intro: str
    items: tuple[str, ...]
    short_names: tuple[str, ...]
    options: tuple[Option, ...]
    summed: bool


DEFINITIONS: dict[Scale, ScaleDefinition] = {
    Scale.ONS4: ScaleDefinition(
        scale=Scale.ONS4,
        title="ONS4 personal wellbeing",
        intro=(
            "I'm going to ask you four questions about how you feel about your life. "
            "There are no right or wrong answers. Please answer each one on a scale from "
            "0 to 10, where 0 is 'not at all' and 10 is 'completely'."
        ),
        items=(
            "Overall, how satisfied are you with your life nowadays?",
            "Overall, to what extent do you feel that the things you do in your life are "
            "worthwhile?",
            "Overall, how happy did you feel yesterday?",
            "On a scale where 0 is 'not at all anxious' and 10 is 'completely anxious', "
            "overall, how anxious did you feel yesterday?",
        ),
        short_names=("Life satisfaction", "Worthwhile", "Happiness", "Anxiety"),
        options=tuple(Option(n, str(n)) for n in range(11)),
        summed=False,
    ),
    Scale.SWEMWBS: ScaleDefinition(
        scale=Scale.SWEMWBS,
        title="Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
        intro=(
            "Below are some statements about feelings and thoughts. Please choose the answer "
            "that best describes your experience of each over the last 2 weeks."
        ),
        items=(
            "I've been feeling optimistic about the future",
            "I've been feeling useful",
            "I've been feeling relaxed",
            "I've been dealing with problems well",
            "I've been thinking clearly",
            "I've been feeling close to other people",
            "I've been able to make up my own mind about things",
        ),
        short_names=(
            "Optimistic",
            "Useful",
            "Relaxed",
            "Dealing with problems",
            "Thinking clearly",
            "Close to others",
            "Own mind",
        ),
        options=(
            Option(1, "None of the time"),
            Option(2, "Rarely"),
            Option(3, "Some of the time"),
            Option(4, "Often"),
            Option(5, "All of the time"),
        ),
        summed=True,
    ),
    Scale.UCLA3: ScaleDefinition(
        scale=Scale.UCLA3,
        title="UCLA 3-item loneliness scale",
        intro=(
            "The next questions are about how you feel about your relationships with other "
            "people. For each one, please say how often you feel that way."
        ),
        items=(
            "How often do you feel that you lack companionship?",
            "How often do you feel left out?",
            "How often do you feel isolated from others?",
        ),
        short_names=("Lack companionship", "Left out", "Isolated"),
        options=(Option(1, "Hardly ever"), Option(2, "Some of the time"), Option(3, "Often")),
        summed=True,
    ),
}

# The published SWEMWBS conversion table; the raw total is not interval-scaled, the metric is.
_SWEMWBS_METRIC = (
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36,
    16.88, 17.43, 17.98, 18.59, 19.25, 19.98, 20.73, 21.54, 22.35, 23.21,
    24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
)  # fmt: skip

# ONS thresholds as (highest value in band, band). Anxiety runs the other way round, so its
# bands are named for how much anxiety there is, not how well the person is doing.
_ONS4_BANDS = ((4, "low"), (6, "medium"), (8, "high"), (10, "very high"))
_ONS4_ANXIETY_BANDS = ((1, "very low"), (3, "low"), (5, "medium"), (10, "high"))
_ONS4_ANXIETY = 3


def definition(scale: Scale) -> ScaleDefinition:
    return DEFINITIONS[scale]


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but True is not an answer anyone gave.
    return isinstance(value, int) and not isinstance(value, bool)


def validate(scale: Scale, answers: Sequence[object]) -> list[int]:
    """Answers as a form sends them -> a list of ints, or AnswersRefused naming every problem."""
    if isinstance(answers, str | bytes):
        # A string is a Sequence too, but "1234" is one value, not four answers.
        raise TypeError("answers must be a list of answers, one per item")
    spec = DEFINITIONS[scale]
    allowed = {option.value for option in spec.options}
    lowest, highest = spec.options[0].value, spec.options[-1].value
    errors: dict[int, str] = {}
    clean: list[int] = []
    for index, item in enumerate(spec.items):
        raw = answers[index] if index < len(answers) else None
        if isinstance(raw, str):
            raw = raw.strip()
            # isdigit() alone lets through other scripts' digits and superscripts.
            if raw.isascii() and raw.isdigit():
                raw = int(raw)
        if raw is None or raw == "":
            errors[index] = f'Answer "{item}"'
        elif not _is_int(raw) or raw not in allowed:
            errors[index] = (
                f"{spec.short_names[index]} must be a whole number from {lowest} to {highest}"
            )
        else:
            clean.append(raw)
    if len(answers) > len(spec.items):
        errors[len(spec.items)] = (
            f"{spec.title} has {len(spec.items)} questions but {len(answers)} answers were given"
        )
    if errors:
        raise AnswersRefused(errors)
    return clean


def swemwbs_metric(raw_total: int) -> float:
    if not _is_int(raw_total) or not 7 <= raw_total <= 35:
        raise ValueError(f"SWEMWBS raw total must be a whole number from 7 to 35, not {raw_total}")
    return _SWEMWBS_METRIC[raw_total - 7]


def ons4_band(item_index: int, value: int) -> str:
    if not _is_int(item_index) or not 0 <= item_index <= 3:
        raise ValueError(f"ONS4 has items 0 to 3, not {item_index}")
    if not _is_int(value) or not 0 <= value <= 10:
        raise ValueError(f"ONS4 answers run from 0 to 10, not {value}")
    bands = _ONS4_ANXIETY_BANDS if item_index == _ONS4_ANXIETY else _ONS4_BANDS
    return next(name for top, name in bands if value <= top)


def ucla3_band(total: int) -> str:
    if not _is_int(total) or not 3 <= total <= 9:
        raise ValueError(f"UCLA-3 totals run from 3 to 9, not {total}")
    return "not lonely" if total <= 5 else "lonely"


def score(scale: Scale, answers: Sequence[int]) -> float | None:
    """The scale's single score; None for ONS4, whose items are never added together."""
    clean = validate(scale, answers)
    if scale == Scale.SWEMWBS:
        return swemwbs_metric(sum(clean))
    if scale == Scale.UCLA3:
        return float(sum(clean))
    return None


def results(scale: Scale, answers: Sequence[int]) -> list[Result]:
    clean = validate(scale, answers)
    if scale == Scale.ONS4:
        names = DEFINITIONS[scale].short_names
        return [
            Result(
                name=names[i],
                value=float(value),
                lowest=0.0,
                highest=10.0,
                higher_is_better=i != _ONS4_ANXIETY,
                band=ons4_band(i, value),
            )
            for i, value in enumerate(clean)
        ]
    if scale == Scale.SWEMWBS:
        return [
            Result(
                name="Mental wellbeing (SWEMWBS metric score)",
                value=swemwbs_metric(sum(clean)),
                lowest=7.0,
                highest=35.0,
                higher_is_better=True,
                band=None,
            )
        ]
    total = sum(clean)
    return [
        Result(
            name="Loneliness (UCLA-3 score)",
            value=float(total),
            lowest=3.0,
            highest=9.0,
            higher_is_better=False,
            band=ucla3_band(total),
        )
    ]


def _shown(scale: Scale, result: Result) -> str:
    # Metric scores are read off a table to 2 dp; the other scales only have whole numbers.
    number = f"{result.value:.2f}" if scale == Scale.SWEMWBS else f"{result.value:.0f}"
    return f"{number} ({result.band})" if result.band else number


def change(scale: Scale, baseline: Sequence[int], later: Sequence[int]) -> list[Change]:
    """How each result moved between two sittings, in numbers and in a sentence."""
    befores, afters = results(scale, baseline), results(scale, later)
    changes = []
    for before, after in zip(befores, afters, strict=True):
        difference = round(after.value - before.value, 2)
        if difference == 0:
            direction = "no change"
            words = f"{before.name} stayed at {_shown(scale, after)}."
        else:
            went_up = difference > 0
            direction = "better" if went_up == before.higher_is_better else "worse"
            words = (
                f"{before.name} went {'up' if went_up else 'down'} from "
                f"{_shown(scale, before)} to {_shown(scale, after)}: {direction}."
            )
        changes.append(Change(before.name, before, after, difference, direction, words))
    return changes
