"""Column types shared by every domain's models."""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def london_today() -> date:
    """Today as people in the hub count days: after 23:00 UTC in summer it is already tomorrow."""
    return datetime.now(ZoneInfo("Europe/London")).date()


class UTCDateTime(TypeDecorator):
    """A point in time stored as naive UTC and always read back as aware UTC.

    SQLite keeps no time zone and PostgreSQL's timestamptz converts to the
    session zone; storing naive UTC in both keeps comparisons and sorting the
    same on either database.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def enum_type(enum_cls: type[enum.Enum], name: str | None = None) -> sa.Enum:
    """A text column limited to the enum's values by a CHECK constraint in the database.

    `name` names the constraint when one table has two columns of the same enum.
    """
    return sa.Enum(
        enum_cls,
        name=name or _snake(enum_cls.__name__),
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class LabelledEnum(enum.StrEnum):
    """A StrEnum whose members carry the words a person reads on screen."""

    def __new__(cls, value: str, label: str = ""):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label or value.replace("_", " ").capitalize()
        return obj

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]
