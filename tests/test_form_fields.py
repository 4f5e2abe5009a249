"""Shared form fields: the three-box date, dates of birth, phone numbers and UK wall-clock times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from portal import form_fields
from portal.form_fields import (
    DateInputField,
    DateOfBirth,
    LocalDateTimeField,
    local_to_utc,
    uk_phone,
    utc_to_local_input,
)


class DateForm(Form):
    date_of_birth = DateInputField(
        "Date of birth", required_message="Enter your date of birth", validators=[DateOfBirth()]
    )


class OptionalDateForm(Form):
    seen_on = DateInputField("Date seen")


def posted(day="", month="", year="", name="date_of_birth") -> MultiDict:
    return MultiDict({f"{name}[day]": day, f"{name}[month]": month, f"{name}[year]": year})


def errors(form: Form, name: str = "date_of_birth") -> list[str]:
    form.validate()
    return form[name].errors


# --- DateInputField -----------------------------------------------------------------------


def test_three_boxes_make_a_date():
    form = DateForm(posted("15", "3", "1948"))
    assert form.validate()
    assert form.date_of_birth.data == date(1948, 3, 15)


def test_spaces_and_leading_zeros_are_fine():
    form = DateForm(posted(" 05 ", "03", " 1948"))
    assert form.validate()
    assert form.date_of_birth.data == date(1948, 3, 5)
    assert form.date_of_birth.parts == {"day": "05", "month": "03", "year": "1948"}


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("15", "", "", "Date of birth must include a month and year"),
        ("", "3", "", "Date of birth must include a day and year"),
        ("", "", "1948", "Date of birth must include a day and month"),
        ("15", "3", "", "Date of birth must include a year"),
        ("15", "", "1948", "Date of birth must include a month"),
        ("", "3", "1948", "Date of birth must include a day"),
        ("  ", "3", "1948", "Date of birth must include a day"),
    ],
)
def test_missing_parts_are_named(day, month, year, message):
    form = DateForm(posted(day, month, year))
    assert errors(form) == [message]
    assert form.date_of_birth.data is None


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [
        ("first", "3", "1948"),
        ("15", "March", "1948"),
        ("15", "3", "nineteen"),
        ("1.5", "3", "1948"),
        ("-1", "3", "1948"),
        ("15", "3", "19480"),
    ],
)
def test_parts_that_are_not_numbers_are_refused(day, month, year):
    form = DateForm(posted(day, month, year))
    assert errors(form) == ["Date of birth must be a real date, in numbers"]
    assert form.date_of_birth.data is None


@pytest.mark.parametrize("year", ["48", "948", "0048"])
def test_a_short_year_asks_for_four_digits(year):
    form = DateForm(posted("15", "3", year))
    assert errors(form) == ["Date of birth must include a 4-digit year, like 1948"]


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [("31", "2", "1990"), ("29", "2", "1991"), ("0", "3", "1948"), ("15", "13", "1948")],
)
def test_dates_that_do_not_exist_are_refused(day, month, year):
    form = DateForm(posted(day, month, year))
    assert errors(form) == ["Date of birth must be a real date"]
    assert form.date_of_birth.data is None


def test_29_february_in_a_leap_year_is_real():
    form = DateForm(posted("29", "2", "1992"))
    assert form.validate()
    assert form.date_of_birth.data == date(1992, 2, 29)


def test_a_wrong_date_is_shown_back_as_typed():
    form = DateForm(posted(" 31 ", "2", "1990"))
    form.validate()
    assert form.date_of_birth.parts == {"day": "31", "month": "2", "year": "1990"}
    assert form.date_of_birth.error_href_id == "date_of_birth-day"


def test_all_boxes_blank_uses_the_required_message():
    form = DateForm(posted("", "", ""))
    assert errors(form) == ["Enter your date of birth"]
    assert form.date_of_birth.data is None


def test_boxes_not_posted_at_all_still_need_a_date():
    form = DateForm(MultiDict({"something_else": "x"}))
    assert errors(form) == ["Enter your date of birth"]
    assert form.date_of_birth.data is None


def test_an_optional_date_may_be_left_blank():
    blank = OptionalDateForm(posted(name="seen_on"))
    assert blank.validate()
    assert blank.seen_on.data is None

    absent = OptionalDateForm(MultiDict())
    assert absent.validate()
    assert absent.seen_on.data is None


def test_a_saved_date_fills_the_boxes():
    form = DateForm(obj=SimpleNamespace(date_of_birth=date(1950, 1, 2)))
    assert form.date_of_birth.data == date(1950, 1, 2)
    assert form.date_of_birth.parts == {"day": "2", "month": "1", "year": "1950"}


def test_a_default_date_is_used_when_nothing_is_posted():
    class WithDefault(Form):
        seen_on = DateInputField("Date seen", default=date(2026, 1, 5))

    form = WithDefault()
    assert form.seen_on.data == date(2026, 1, 5)
    assert form.seen_on.parts == {"day": "5", "month": "1", "year": "2026"}


def test_posted_boxes_replace_a_saved_date():
    form = DateForm(posted("3", "4", "1960"), obj=SimpleNamespace(date_of_birth=date(1950, 1, 2)))
    assert form.validate()
    assert form.date_of_birth.data == date(1960, 4, 3)


# --- DateOfBirth --------------------------------------------------------------------------


def check_date_of_birth(value: date, max_years: int = 120) -> None:
    field = SimpleNamespace(data=value, label=SimpleNamespace(text="Date of birth"))
    DateOfBirth(max_years)(None, field)


def test_a_date_of_birth_in_the_future_is_refused():
    with pytest.raises(ValidationError) as caught:
        check_date_of_birth(date.today() + timedelta(days=1))
    assert caught.value.args == ("Date of birth must be in the past",)


def test_today_and_120_years_ago_are_accepted():
    today = date.today()
    check_date_of_birth(today)
    check_date_of_birth(date(1950, 1, 1))
    if (today.month, today.day) != (2, 29):
        check_date_of_birth(today.replace(year=today.year - 120))


def test_a_date_of_birth_over_120_years_ago_is_refused():
    today = date.today()
    earliest = (
        today.replace(year=today.year - 120)
        if (today.month, today.day) != (2, 29)
        else today.replace(year=today.year - 120, day=28)
    )
    with pytest.raises(ValidationError) as caught:
        check_date_of_birth(earliest - timedelta(days=1))
    assert caught.value.args == (f"Date of birth must be after {earliest.day} {earliest:%B %Y}",)


def test_the_oldest_date_of_birth_on_29_february_falls_back_to_the_28th(monkeypatch):
    class LeapDay(date):
        @classmethod
        def today(cls):
            return cls(2020, 2, 29)  # 1900 was not a leap year

    monkeypatch.setattr(form_fields, "date", LeapDay)
    check_date_of_birth(date(1900, 2, 28))
    with pytest.raises(ValidationError) as caught:
        check_date_of_birth(date(1900, 2, 27))
    assert caught.value.args == ("Date of birth must be after 28 February 1900",)


def test_a_date_of_birth_validates_through_the_form():
    future = date.today() + timedelta(days=400)
    form = DateForm(posted(str(future.day), str(future.month), str(future.year)))
    assert errors(form) == ["Date of birth must be in the past"]

    form = DateForm(posted("1", "1", "1850"))
    assert len(errors(form)) == 1
    assert errors(form)[0].startswith("Date of birth must be after ")


# --- uk_phone -----------------------------------------------------------------------------


class PhoneForm(Form):
    phone = StringField("Phone", validators=[uk_phone])


PHONE_MESSAGE = "Enter a phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"


@pytest.mark.parametrize(
    "number",
    [
        "01632 960 001",
        "07700 900 982",
        "07700900982",
        "+44 808 157 0192",
        "+44 (0)1632 960001",
        "(01632) 960-001",
        "  07700 900 982  ",
        "+1 202 555 0123",
        "",
        "   ",
    ],
)
def test_phone_numbers_that_are_accepted(number):
    form = PhoneForm(MultiDict({"phone": number}))
    assert form.validate(), form.phone.errors


@pytest.mark.parametrize(
    "number",
    [
        "12345",
        "0770 090 09",  # 9 digits
        "0044 7700 900 982 12",  # 16 digits
        "call me on 07700 900982",
        "07700 900982 ext 3",
        "07700.900.982",
        "44+7700900982",
        "++447700900982",
        "07700/900982",
    ],
)
def test_phone_numbers_that_are_refused(number):
    form = PhoneForm(MultiDict({"phone": number}))
    assert not form.validate()
    assert form.phone.errors == [PHONE_MESSAGE]


# --- LocalDateTimeField and UK time -------------------------------------------------------


class AttemptForm(Form):
    occurred_at = LocalDateTimeField("Time of the attempt")


@pytest.mark.parametrize("typed", ["2026-11-21T14:30", "2026-11-21 14:30", "21/11/2026 14:30"])
def test_local_date_time_accepts_the_box_and_typed_forms(typed):
    form = AttemptForm(MultiDict({"occurred_at": typed}))
    assert form.validate(), form.occurred_at.errors
    assert form.occurred_at.data == datetime(2026, 11, 21, 14, 30)


@pytest.mark.parametrize(
    "typed", ["yesterday", "21/11/2026", "31/02/2026 10:00", "2026-11-21T25:00", "14:30"]
)
def test_local_date_time_explains_a_bad_value(typed):
    form = AttemptForm(MultiDict({"occurred_at": typed}))
    assert not form.validate()
    assert form.occurred_at.errors == [
        "Time of the attempt must be a real date and time, like 21/11/2026 14:30"
    ]
    assert form.occurred_at.data is None


def test_summer_time_is_an_hour_ahead_of_utc():
    moment = local_to_utc(datetime(2026, 7, 1, 10, 0))
    assert moment == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


def test_winter_time_is_utc():
    moment = local_to_utc(datetime(2026, 1, 15, 10, 0))
    assert moment == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


def test_the_clocks_changing_is_followed():
    # 2026: clocks go forward at 01:00 UTC on 29 March and back at 01:00 UTC on 25 October.
    assert local_to_utc(datetime(2026, 3, 29, 0, 30)) == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 3, 29, 2, 30)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 10, 25, 0, 30)) == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 10, 25, 2, 30)) == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "utc",
    [datetime(2026, 7, 1, 9, 0, tzinfo=UTC), datetime(2026, 1, 15, 10, 0, tzinfo=UTC)],
)
def test_utc_times_are_shown_in_uk_time_and_read_back_the_same(utc):
    shown = utc_to_local_input(utc)
    assert shown == ("2026-07-01T10:00" if utc.month == 7 else "2026-01-15T10:00")
    assert local_to_utc(datetime.strptime(shown, "%Y-%m-%dT%H:%M")) == utc
