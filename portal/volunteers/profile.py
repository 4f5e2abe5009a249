"""The lists a volunteer chooses from, and availability slots written as people read them."""

from __future__ import annotations

from wtforms.fields.choices import SelectChoice

DAYS = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)
PARTS = (("morning", "Morning"), ("afternoon", "Afternoon"), ("evening", "Evening"))
# Stored as "mon_morning" … "sun_evening", in week order.
SLOTS = tuple(f"{day}_{part}" for day, _ in DAYS for part, _ in PARTS)
SLOT_CHOICES = [
    SelectChoice(f"{day}_{part}", f"{day_label} {part_label.lower()}")
    for day, day_label in DAYS
    for part, part_label in PARTS
]

INTERESTS = (
    "gardening",
    "walking",
    "crafts",
    "music",
    "reading",
    "cooking",
    "football",
    "local history",
    "computers",
    "art",
    "dogs",
    "cards and board games",
    "theatre",
    "faith groups",
)

TRANSPORT = ("Car", "Public transport", "On foot or by bike", "I would need help getting about")


def describe_availability(slots: list[str]) -> list[str]:
    """'Monday morning and afternoon', one line per day, in week order."""
    lines = []
    for day, day_label in DAYS:
        parts = [label.lower() for part, label in PARTS if f"{day}_{part}" in slots]
        if parts:
            joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
            lines.append(f"{day_label} {joined}")
    return lines
