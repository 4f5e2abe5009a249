"""Form fields and validators shared by every domain, with messages in the NHS.UK style."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from wtforms import DateTimeLocalField, Field, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import Length, StopValidation, ValidationError
from wtforms.widgets import TextInput

LONDON = ZoneInfo("Europe/London")


def max_length(label: str, limit: int) -> Length:
    return Length(max=limit, message=f"{label} must be {limit:,} characters or fewer")


def enum_choices(enum_cls, first: str | None = None) -> list[SelectChoice]:
    """WTForms choices from a LabelledEnum, optionally after a 'Choose …' placeholder."""
    choices = [SelectChoice("", first)] if first else []
    return choices + [SelectChoice(value, label) for value, label in enum_cls.choices()]


def show_refusal(form, refusal) -> None:
    """Put a rule's refusal beside the field it names, or above the form when it names none."""
    field = getattr(form, refusal.field, None) if refusal.field not in (None, "version") else None
    if field is not None:
        field.errors = [refusal.message]
    else:
        form.form_errors = [refusal.message]


def strip(value):
    return value.strip() if isinstance(value, str) else value


def blank_to_none(value):
    value = strip(value)
    return value or None


class DateInputField(Field):
    """A date typed as day, month and year in three boxes (the NHS.UK date input).

    The boxes are posted as `name[day]`, `name[month]` and `name[year]`; what was
    typed is kept in `parts` so a wrong date is shown back as typed.
    """

    widget = TextInput()
    PARTS = ("day", "month", "year")

    def __init__(self, label=None, validators=None, required_message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required_message = required_message
        self.parts = dict.fromkeys(self.PARTS, "")
        self.parse_error: str | None = None

    @property
    def error_href_id(self) -> str:
        return f"{self.id}-day"

    def process(self, formdata, data=None, extra_filters=None):
        self.process_errors = []
        self.parse_error = None
        if data is unset_value or data is None:
            data = self.default() if callable(self.default) else self.default
        self.object_data = data
        self.data = data
        if isinstance(data, date):
            self.parts = {"day": str(data.day), "month": str(data.month), "year": str(data.year)}
        if formdata is None or not any(f"{self.name}[{p}]" in formdata for p in self.PARTS):
            return
        self.parts = {p: (formdata.get(f"{self.name}[{p}]") or "").strip() for p in self.PARTS}
        self.data = None
        label = self.label.text
        missing = [p for p in self.PARTS if not self.parts[p]]
        if len(missing) == 3:
            return
        if missing:
            self.parse_error = f"{label} must include a {' and '.join(missing)}"
            return
        if not all(re.fullmatch(r"\d{1,4}", self.parts[p]) for p in self.PARTS):
            self.parse_error = f"{label} must be a real date, in numbers"
            return
        day, month, year = (int(self.parts[p]) for p in self.PARTS)
        if year < 1000:
            self.parse_error = f"{label} must include a 4-digit year, like 1948"
            return
        try:
            self.data = date(year, month, day)
        except ValueError:
            self.parse_error = f"{label} must be a real date"

    def pre_validate(self, form):
        if self.parse_error:
            raise ValidationError(self.parse_error)
        if self.data is None and self.required_message:
            raise ValidationError(self.required_message)


class DateOfBirth:
    """In the past, and not more than `max_years` ago."""

    def __init__(self, max_years: int = 120):
        self.max_years = max_years

    def __call__(self, form, field):
        if field.data is None:
            return
        today = date.today()
        if field.data > today:
            raise ValidationError(f"{field.label.text} must be in the past")
        try:
            earliest = today.replace(year=today.year - self.max_years)
        except ValueError:  # 29 February
            earliest = today.replace(year=today.year - self.max_years, day=28)
        if field.data < earliest:
            raise ValidationError(
                f"{field.label.text} must be after {earliest.day} {earliest:%B %Y}"
            )


_PHONE_ALLOWED = re.compile(r"^\+?[\d\s()-]+$")


def uk_phone(form, field):
    """A UK or international number: digits, spaces, brackets, dashes and a leading +."""
    value = (field.data or "").strip()
    if not value:
        return
    digits = re.sub(r"\D", "", value)
    if not _PHONE_ALLOWED.match(value) or not 10 <= len(digits) <= 15:
        raise ValidationError(
            "Enter a phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"
        )


def local_to_utc(value: datetime) -> datetime:
    """A time typed in the UK (wall clock, Europe/London) as an aware UTC datetime."""
    return value.replace(tzinfo=LONDON).astimezone(ZoneInfo("UTC"))


def utc_to_local_input(value: datetime) -> str:
    return value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def now_local() -> datetime:
    """Now on the UK wall clock, to the minute: the default of a date-and-time box."""
    return datetime.now(LONDON).replace(tzinfo=None, second=0, microsecond=0)


class LocalDateTimeField(DateTimeLocalField):
    """A date and time from a `datetime-local` box, or typed as 2026-11-21 14:30 without one."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"])
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(
                f"{self.label.text} must be a real date and time, like 21/11/2026 14:30"
            ) from error


class WholeNumberField(IntegerField):
    """A whole number whose error says what to type, not "Not a valid integer value"."""

    def __init__(self, label=None, validators=None, message: str | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(
                self.message or f"{self.label.text} must be a whole number, like 12"
            ) from None

    def pre_validate(self, form):
        # What was typed is not a number: that one message is enough, so no range check.
        if self.process_errors:
            raise StopValidation()
