"""The person being matched, as plain data, and the small vocabularies matching shares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from portal.directory.models import ActivityCategory
from portal.referrals.models import ReferralReason
from portal.volunteers.profile import DAYS, PARTS, SLOTS, describe_availability

SLOT_BITS = {slot: 1 << n for n, slot in enumerate(SLOTS)}


def slot_mask(slots: Iterable[str]) -> int:
    return sum(SLOT_BITS[s] for s in set(slots or []) if s in SLOT_BITS)


def slots_of(mask: int) -> list[str]:
    return [slot for slot, bit in SLOT_BITS.items() if mask & bit]


def describe_slots(mask: int) -> str:
    """'Tuesday morning; Thursday afternoon and evening'."""
    return "; ".join(describe_availability(slots_of(mask)))


def activity_slots(days: Iterable[int], part_of_day: str | None) -> int:
    """The slots an activity's sessions fall in: its days, at its time of day (or all day)."""
    parts = [part_of_day] if part_of_day else [p for p, _ in PARTS]
    return slot_mask(f"{DAYS[d][0]}_{p}" for d in days or [] if 0 <= d < 7 for p in parts)


# What each reason for referral is usually helped by, in the directory's categories.
REASON_CATEGORIES: dict[str, tuple[str, ...]] = {
    ReferralReason.LONELINESS.value: (ActivityCategory.SOCIAL_CONNECTION.value,),
    ReferralReason.LOW_MOOD.value: (
        ActivityCategory.MENTAL_WELLBEING.value,
        ActivityCategory.SOCIAL_CONNECTION.value,
    ),
    ReferralReason.CARER_SUPPORT.value: (ActivityCategory.CARERS.value,),
    ReferralReason.BEREAVEMENT.value: (
        ActivityCategory.MENTAL_WELLBEING.value,
        ActivityCategory.SOCIAL_CONNECTION.value,
    ),
    ReferralReason.MONEY.value: (ActivityCategory.MONEY_ADVICE.value,),
    ReferralReason.HOUSING.value: (ActivityCategory.MONEY_ADVICE.value,),
    ReferralReason.PHYSICAL_ACTIVITY.value: (ActivityCategory.PHYSICAL_ACTIVITY.value,),
    ReferralReason.LONG_TERM_CONDITION.value: (
        ActivityCategory.PHYSICAL_ACTIVITY.value,
        ActivityCategory.MENTAL_WELLBEING.value,
    ),
    ReferralReason.DIGITAL_INCLUSION.value: (ActivityCategory.DIGITAL_SKILLS.value,),
}
# The directory category each volunteer-style interest belongs to.
INTEREST_CATEGORIES: dict[str, str] = {
    "gardening": ActivityCategory.NATURE.value,
    "walking": ActivityCategory.PHYSICAL_ACTIVITY.value,
    "crafts": ActivityCategory.ARTS.value,
    "music": ActivityCategory.ARTS.value,
    "reading": ActivityCategory.LEARNING.value,
    "cooking": ActivityCategory.LEARNING.value,
    "football": ActivityCategory.PHYSICAL_ACTIVITY.value,
    "local history": ActivityCategory.LEARNING.value,
    "computers": ActivityCategory.DIGITAL_SKILLS.value,
    "art": ActivityCategory.ARTS.value,
    "dogs": ActivityCategory.NATURE.value,
    "cards and board games": ActivityCategory.SOCIAL_CONNECTION.value,
    "theatre": ActivityCategory.ARTS.value,
    "faith groups": ActivityCategory.FAITH_CULTURE.value,
}
# Interests a buddy might share with someone referred for these reasons.
REASON_INTERESTS: dict[str, tuple[str, ...]] = {
    ReferralReason.PHYSICAL_ACTIVITY.value: ("walking", "football"),
    ReferralReason.DIGITAL_INCLUSION.value: ("computers",),
}

# Words too common in goals to say anything about an activity.
_STOPWORDS = frozenset(
    (
        "about",
        "again",
        "also",
        "back",
        "because",
        "been",
        "being",
        "better",
        "could",
        "doing",
        "feel",
        "from",
        "going",
        "have",
        "into",
        "just",
        "know",
        "like",
        "little",
        "more",
        "most",
        "much",
        "need",
        "other",
        "over",
        "people",
        "really",
        "some",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "they",
        "things",
        "this",
        "time",
        "very",
        "want",
        "wants",
        "week",
        "with",
        "would",
        "your",
    )
)
_SUFFIXES = ("ings", "ing", "ers", "er", "es", "s")


def stem(word: str) -> str:
    """A deliberately crude stem, so "gardening" meets "garden" and "walks" meets "walking"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stems(text: str | None) -> frozenset[str]:
    """The telling words of a piece of text, stemmed: what goal matching compares."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return frozenset(stem(w) for w in words if len(w) >= 4 and w not in _STOPWORDS)


def interests_in(text: str | None) -> frozenset[str]:
    """Volunteer-style interests named in free text: 'get back to gardening' names gardening."""
    found = stems(text)
    return frozenset(
        interest for interest in INTEREST_CATEGORIES if stems(interest) and stems(interest) <= found
    )


_GENDER_WORDS = {
    "female": "woman",
    "f": "woman",
    "woman": "woman",
    "male": "man",
    "m": "man",
    "man": "man",
}


def gender_group(text: str | None) -> str | None:
    """ "Female" and "woman" are the same answer to "would you like a man or a woman?"."""
    if not text or not text.strip():
        return None
    cleaned = text.strip().lower()
    return _GENDER_WORDS.get(cleaned, cleaned)


@dataclass(frozen=True)
class Goal:
    text: str
    stems: frozenset[str]


@dataclass(frozen=True)
class Person:
    """Everything matching weighs about one referred person."""

    name: str
    district: str | None = None
    has_postcode: bool = False
    language: str = "English"
    age: int | None = None
    reasons: frozenset[str] = frozenset()
    goals: tuple[Goal, ...] = ()
    interests: frozenset[str] = frozenset()
    availability: int = 0
    access_needs: frozenset[str] = frozenset()
    preferred_gender: str | None = None
    neighbourhood_id: int | None = None
    neighbourhood_name: str | None = None
    previous_navigator_ids: frozenset[int] = frozenset()
    support_level: int | None = None
    current_navigator_id: int | None = None
    # Activities this case already has an open referral to, and volunteers already asked.
    referred_activity_ids: frozenset[int] = frozenset()
    current_buddy_ids: frozenset[int] = frozenset()
    # Volunteers who said no to buddying this person: not asked again.
    declined_buddy_ids: frozenset[int] = frozenset()
    wanted_categories: frozenset[str] = field(init=False)
    wanted_interests: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        # What the person's reasons, interests and goals say they would enjoy.
        goal_interests = frozenset().union(*(interests_in(g.text) for g in self.goals))
        interests = (
            self.interests
            | goal_interests
            | frozenset(i for r in self.reasons for i in REASON_INTERESTS.get(r, ()))
        )
        object.__setattr__(self, "wanted_interests", interests)
        object.__setattr__(
            self,
            "wanted_categories",
            frozenset(c for r in self.reasons for c in REASON_CATEGORIES.get(r, ()))
            | frozenset(INTEREST_CATEGORIES[i] for i in interests if i in INTEREST_CATEGORIES),
        )

    @property
    def speaks_other_language(self) -> bool:
        return bool(self.language) and self.language.strip().lower() != "english"
