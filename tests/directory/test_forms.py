"""Directory forms: money and clock parsing, and the activity and registration form rules."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.directory.forms import (
    MAX_COST_PENCE,
    ActivityForm,
    RegisterOrganisationForm,
    parse_clock,
    parse_pence,
)
from portal.directory.models import Activity, Frequency

# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "pence"),
    [
        ("£3.50", 350),
        ("3", 300),
        ("3.5", 350),
        ("3.05", 305),
        ("0.29", 29),  # no binary floating point slip: 0.29 * 100 is 28.999... as a float
        ("0.57", 57),
        ("£ 2", 200),
        ("  4.00  ", 400),
        ("£1,000", 100_000),  # the most a session may cost
        ("1,000.00", 100_000),
        ("0", 0),
        ("", None),
        ("   ", None),
        (None, None),
        ("free", 0),
        ("FREE", 0),
        (" Free ", 0),
    ],
)
def test_parse_pence(typed, pence):
    assert parse_pence(typed) == pence


@pytest.mark.parametrize(
    "typed",
    ["abc", "-2", "3.505", "£2000", "1000.01", "3.", ".50", "£", "3,50p", "3 pounds", "1e3", "$3"],
)
def test_parse_pence_refuses_what_is_not_money(typed):
    with pytest.raises(ValueError):
        parse_pence(typed)


def test_parse_pence_says_what_is_wrong():
    with pytest.raises(ValueError, match="pounds and pence"):
        parse_pence("abc")
    with pytest.raises(ValueError, match="£1,000 or less"):
        parse_pence("£2000")


@given(st.integers(0, MAX_COST_PENCE))
def test_every_amount_in_pounds_and_pence_reads_back_exactly(pence):
    assert parse_pence(f"{pence // 100}.{pence % 100:02d}") == pence
    assert parse_pence(f"£{pence // 100}.{pence % 100:02d}") == pence


# --- clock ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("10:30", time(10, 30)),
        ("9.30", time(9, 30)),
        ("09:05", time(9, 5)),
        (" 7:00 ", time(7, 0)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("", None),
        (None, None),
    ],
)
def test_parse_clock(typed, expected):
    assert parse_clock(typed) == expected


@pytest.mark.parametrize(
    "typed", ["24:00", "10:60", "1030", "9:5", "10am", "10:30:00", "-1:00", "ten", "10 30"]
)
def test_parse_clock_refuses_what_is_not_a_24_hour_time(typed):
    with pytest.raises(ValueError):
        parse_clock(typed)


# --- the activity form ------------------------------------------------------------------------


def activity_data(**changes) -> MultiDict:
    fields = {
        "title": "Walking group",
        "description": "A gentle walk, then tea.",
        "categories": ["physical_activity"],
        "frequency": "weekly",
        "days": ["1"],
        "start_time": "10:00",
        "end_time": "11:30",
        "online": "no",
        "venue_name": "Park gates",
        "postcode": "cv3 6pt",
        "cost": "",
        "accepts_referrals": "yes",
        **changes,
    }
    data = MultiDict()
    for key, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            data.add(key, one)
    return data


def activity_form(app, **changes) -> ActivityForm:
    with app.test_request_context():
        form = ActivityForm(formdata=activity_data(**changes), meta={"csrf": False})
        form.validate()
    return form


def test_a_good_activity_is_valid_and_applies(app):
    with app.test_request_context():
        form = ActivityForm(
            formdata=activity_data(cost="£2.50", capacity="10", spaces_available="10"),
            meta={"csrf": False},
        )
        assert form.validate(), form.errors
        activity = Activity()
        form.apply_to(activity)
    assert activity.title == "Walking group"
    assert activity.frequency == Frequency.WEEKLY and activity.days == [1]
    assert activity.postcode == "CV3 6PT"
    assert activity.cost_pence == 250
    assert (activity.start_time, activity.end_time) == (time(10), time(11, 30))
    assert activity.accepts_referrals and not activity.online


def test_an_end_time_before_the_start_time_is_refused(app):
    form = activity_form(app, start_time="14:00", end_time="13:00")
    assert form.errors["end_time"] == ["End time must be after the start time"]
    form = activity_form(app, start_time="14:00", end_time="14:00")
    assert form.errors["end_time"] == ["End time must be after the start time"]
    assert "end_time" not in activity_form(app, start_time="14:00", end_time="14:01").errors


def test_an_end_time_without_a_start_time_is_refused(app):
    form = activity_form(app, start_time="", end_time="13:00")
    assert form.errors["start_time"] == ["Enter the start time as well as the end time"]


def test_a_time_that_is_not_a_time_is_refused(app):
    form = activity_form(app, start_time="25:00")
    assert form.errors["start_time"] == [
        "Enter the start time as a 24-hour time, like 10:30 or 14:00"
    ]
    assert "end_time" not in form.errors
    assert form.start_time._value() == "25:00"  # shown back as typed


def test_a_capacity_below_zero_is_refused(app):
    form = activity_form(app, capacity="-1")
    assert form.errors["capacity"] == ["Places in total must be 0 or more"]
    form = activity_form(app, spaces_available="-1")
    assert form.errors["spaces_available"] == ["Places free now must be 0 or more"]
    assert "capacity" not in activity_form(app, capacity="0", spaces_available="0").errors


@pytest.mark.parametrize("typed", ["12.5", "ten"])
def test_a_capacity_that_is_not_a_number_is_refused_with_one_true_message(app, typed):
    form = activity_form(app, capacity=typed)
    # Only what is wrong: not also "must be 0 or more", which "12.5" is.
    assert form.errors["capacity"] == ["Places in total must be a whole number, like 12"]


@pytest.mark.parametrize("cost", ["abc", "3.505", "-2", "£2000"])
def test_a_price_that_is_not_money_is_refused(app, cost):
    form = activity_form(app, cost=cost)
    assert list(form.errors) == ["cost"]
    assert form.cost.data is None
    assert form.cost._value() == cost  # shown back as typed


def test_more_spaces_than_places_is_refused(app):
    form = activity_form(app, capacity="5", spaces_available="6")
    assert form.errors["spaces_available"] == [
        "Places free now cannot be more than places in total"
    ]
    assert "spaces_available" not in activity_form(app, capacity="5", spaces_available="5").errors
    # With no total given, any number free is fine.
    assert "spaces_available" not in activity_form(app, spaces_available="6").errors


def test_an_oldest_age_below_the_youngest_is_refused(app):
    form = activity_form(app, min_age="60", max_age="59")
    assert form.errors["max_age"] == ["Oldest age must be the same as or more than youngest age"]
    assert "max_age" not in activity_form(app, min_age="60", max_age="60").errors
    assert "max_age" not in activity_form(app, min_age="", max_age="20").errors
    assert activity_form(app, min_age="121").errors["min_age"] == [
        "Youngest age must be from 0 to 120"
    ]


def test_fortnightly_needs_the_first_date(app):
    form = activity_form(app, frequency="fortnightly")
    assert form.errors["starts_on"] == [
        "Enter the date of the first session, so we know which weeks"
    ]
    form = activity_form(
        app,
        frequency="fortnightly",
        **{"starts_on[day]": "15", "starts_on[month]": "3", "starts_on[year]": "2027"},
    )
    assert "starts_on" not in form.errors


def test_monthly_needs_the_week(app):
    form = activity_form(app, frequency="monthly")
    assert form.errors["monthly_week"] == ["Choose which week of the month it meets"]
    assert "monthly_week" not in activity_form(app, frequency="monthly", monthly_week="-1").errors
    assert "monthly_week" in activity_form(app, frequency="monthly", monthly_week="5").errors


def test_a_schedule_needs_days_unless_by_arrangement(app):
    assert "days" in activity_form(app, days=[]).errors
    form = activity_form(app, frequency="by_arrangement", days=[])
    assert form.errors == {}


def test_in_person_needs_a_venue_name(app):
    form = activity_form(app, venue_name="")
    assert form.errors.get("venue_name") == ["Enter the venue name, or choose online"]


def test_in_person_needs_a_postcode(app):
    form = activity_form(app, postcode="")
    assert form.errors.get("postcode") == ["Enter the venue postcode, so people can find it"]


def test_online_needs_neither_venue_nor_postcode(app):
    form = activity_form(app, online="yes", venue_name="", postcode="")
    assert form.errors == {}


def test_a_postcode_that_is_not_a_postcode_is_refused(app):
    assert activity_form(app, postcode="CV99 XYZ1").errors["postcode"] == [
        "Enter a real postcode, like CV1 2AB"
    ]


# --- registering an organisation --------------------------------------------------------------


def registration_data(**changes) -> MultiDict:
    return MultiDict(
        {
            "name": "Friends of the Park",
            "charity_number": "1123456",
            "company_number": "",
            "description": "Walks and litter picks.",
            "email": "hello@friendsofthepark.org",
            "phone": "",
            "web_address": "https://friendsofthepark.org",
            "address": "1 Park Lane",
            "postcode": "CV3 6PT",
            "contact_name": "Pat Green",
            "contact_email": "pat@friendsofthepark.org",
            "agree": "y",
            **changes,
        }
    )


def registration_errors(app, **changes) -> dict:
    with app.test_request_context():
        form = RegisterOrganisationForm(formdata=registration_data(**changes), meta={"csrf": False})
        form.validate()
        return form.errors


def test_a_good_registration_is_valid(app):
    assert registration_errors(app) == {}
    assert registration_errors(app, charity_number="sc 012345", company_number="1234567") == {}
    assert registration_errors(app, charity_number="") == {}


@pytest.mark.parametrize("number", ["12345", "12345678", "SC12345", "abc", "1123456X"])
def test_a_charity_number_in_the_wrong_format_is_refused(app, number):
    errors = registration_errors(app, charity_number=number)
    assert list(errors) == ["charity_number"]
    assert errors["charity_number"][0].startswith("Enter a charity number in the right format")


def test_a_company_number_in_the_wrong_format_is_refused(app):
    errors = registration_errors(app, company_number="ABC12345")
    assert list(errors) == ["company_number"]


def test_a_website_must_be_a_web_address(app):
    assert list(registration_errors(app, web_address="friendsofthepark")) == ["web_address"]


def test_registration_needs_the_box_ticked(app):
    assert list(registration_errors(app, agree="")) == ["agree"]
