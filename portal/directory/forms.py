"""Directory forms: registering an organisation, listing an activity, referring, answering."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, NumberRange, Optional, ValidationError

from portal.directory.models import Activity, ActivityCategory, Frequency
from portal.directory.organisations import (
    is_web_address,
    normalise_charity_number,
    normalise_company_number,
)
from portal.directory.schedule import DAY_NAMES, WEEKS_OF_MONTH
from portal.directory.search import ACCESS_FEATURES
from portal.form_fields import (
    DateInputField,
    WholeNumberField,
    blank_to_none,
    enum_choices,
    max_length,
    strip,
    uk_phone,
)
from portal.referrals.forms import optional_int, postcode_check
from portal.referrals.intake import normalise_postcode

MAX_COST_PENCE = 100_000  # £1,000 a session: anything above is a typing slip
_MONEY = re.compile(r"^£?\s*(\d{1,6}(\.\d{1,2})?)$")
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def parse_pence(text: str | None) -> int | None:
    """`£3.50` → 350, `3` → 300, empty → None (free). ValueError when it is not money."""
    value = (text or "").strip().replace(",", "")
    if not value:
        return None
    if value.lower() == "free":
        return 0
    match = _MONEY.match(value)
    if not match:
        raise ValueError("Enter the cost in pounds and pence, like 3.50, or leave it empty")
    try:
        pence = int(Decimal(match[1]) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise ValueError("Enter the cost in pounds and pence, like 3.50") from None
    if pence > MAX_COST_PENCE:
        raise ValueError("The cost must be £1,000 or less a session")
    return pence


def parse_clock(text: str | None) -> time | None:
    """`10:30`, `9.30` → a time; empty → None. ValueError when it is not a 24-hour time."""
    value = (text or "").strip()
    if not value:
        return None
    match = _CLOCK.match(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError("a 24-hour time, like 10:30 or 14:00")
    return time(int(match[1]), int(match[2]))


class ClockField(StringField):
    """A time of day typed as HH:MM; what was typed is kept when it is wrong."""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        try:
            self.data = parse_clock(self.raw)
        except ValueError as problem:
            self.data = None
            raise ValueError(f"Enter the {self.label.text.lower()} as {problem}") from None

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return self.data.strftime("%H:%M") if self.data else ""


class MoneyField(StringField):
    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        try:
            self.data = parse_pence(self.raw)
        except ValueError as problem:
            self.data = None
            raise ValueError(str(problem)) from None

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return f"{self.data / 100:.2f}" if self.data else ""


def _web_address(form, field):
    if field.data and not is_web_address(field.data):
        raise ValidationError(
            "Enter a web address starting with https://, like https://www.example.org"
        )


def _charity_number(form, field):
    if field.data and normalise_charity_number(field.data) is None:
        raise ValidationError(
            "Enter a charity number in the right format: 6 or 7 digits in England and Wales "
            "(like 1123456), SC and 6 digits in Scotland, or NIC and 6 digits in Northern Ireland"
        )


def _company_number(form, field):
    if field.data and normalise_company_number(field.data) is None:
        raise ValidationError(
            "Enter a company number in the right format: 8 digits, or 2 letters and 6 digits"
        )


class _OrganisationFields:
    name = StringField(
        "Organisation name",
        filters=[strip],
        validators=[DataRequired("Enter the organisation's name"), max_length("Name", 160)],
    )
    charity_number = StringField(
        "Registered charity number (if you have one)",
        description="For example 1123456, or SC012345 in Scotland",
        filters=[blank_to_none],
        validators=[Optional(), _charity_number],
    )
    company_number = StringField(
        "Company number (if you have one)",
        filters=[blank_to_none],
        validators=[Optional(), _company_number],
    )
    description = TextAreaField(
        "What your organisation does",
        filters=[strip],
        validators=[
            DataRequired("Tell us what your organisation does"),
            max_length("Description", 2000),
        ],
    )
    email = EmailField(
        "Organisation email address",
        description="For people and the hub to contact you",
        filters=[strip],
        validators=[
            DataRequired("Enter the organisation's email address"),
            Email("Enter an email address in the right format, like name@example.org"),
            max_length("Email address", 254),
        ],
    )
    phone = StringField(
        "Organisation phone number",
        filters=[blank_to_none],
        validators=[Optional(), uk_phone, max_length("Phone number", 30)],
    )
    web_address = StringField(
        "Website (optional)",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Website", 300), _web_address],
    )
    address = TextAreaField(
        "Address",
        filters=[strip],
        validators=[DataRequired("Enter the organisation's address"), max_length("Address", 500)],
    )
    postcode = StringField(
        "Postcode",
        filters=[strip],
        validators=[DataRequired("Enter the postcode"), postcode_check],
    )


class RegisterOrganisationForm(FlaskForm, _OrganisationFields):
    contact_name = StringField(
        "Your full name",
        filters=[strip],
        validators=[DataRequired("Enter your full name"), max_length("Full name", 120)],
    )
    contact_email = EmailField(
        "Your email address",
        description="We send a link to choose a password to this address",
        filters=[strip],
        validators=[
            DataRequired("Enter your email address"),
            Email("Enter an email address in the right format, like name@example.org"),
            max_length("Email address", 254),
        ],
    )
    agree = BooleanField(
        "I confirm the details are correct and I may list activities for this organisation",
        validators=[DataRequired("Tick the box to confirm you may list this organisation")],
    )
    website = StringField("Leave this empty")  # honeypot: people never see it


class OrganisationProfileForm(FlaskForm, _OrganisationFields):
    version = StringField()


DAY_CHOICES = [SelectChoice(n, name) for n, name in enumerate(DAY_NAMES)]
WEEK_CHOICES = [SelectChoice("", "Choose a week")] + [
    SelectChoice(k, v) for k, v in WEEKS_OF_MONTH.items()
]


class ActivityForm(FlaskForm):
    title = StringField(
        "Name of the activity",
        filters=[strip],
        validators=[DataRequired("Enter the name of the activity"), max_length("Name", 160)],
    )
    description = TextAreaField(
        "Description",
        description="What happens, and what someone coming for the first time should expect",
        filters=[strip],
        validators=[
            DataRequired("Describe the activity"),
            max_length("Description", 4000),
        ],
    )
    categories = SelectMultipleField(
        "What needs it helps with",
        choices=enum_choices(ActivityCategory),
        validators=[DataRequired("Choose at least one thing the activity helps with")],
    )
    frequency = RadioField(
        "How often it meets",
        choices=enum_choices(Frequency),
        default=Frequency.WEEKLY.value,
        validators=[DataRequired("Choose how often it meets")],
    )
    days = SelectMultipleField("Which days", choices=DAY_CHOICES, coerce=int)
    monthly_week = SelectField("Which week of the month", choices=WEEK_CHOICES, coerce=optional_int)
    starts_on = DateInputField(
        "Date of the first session",
        description="Needed for fortnightly activities, so we can work out which weeks. "
        "For example, 15 3 2027",
    )
    start_time = ClockField("Start time", description="24-hour clock, for example 10:30")
    end_time = ClockField("End time", description="24-hour clock, for example 12:00")
    schedule_note = StringField(
        "Anything else about when (optional)",
        description="For example: term time only, or not on bank holidays",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Note", 200)],
    )
    online = RadioField(
        "Where it happens",
        choices=[SelectChoice("no", "In person, at a venue"), SelectChoice("yes", "Online")],
        default="no",
        validators=[DataRequired("Choose where it happens")],
    )
    # No Optional(): it would stop the check that an in-person activity has a venue.
    venue_name = StringField(
        "Venue name",
        filters=[blank_to_none],
        validators=[max_length("Venue name", 160)],
    )
    venue_address = TextAreaField(
        "Venue address",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Venue address", 500)],
    )
    postcode = StringField("Venue postcode", filters=[blank_to_none], validators=[postcode_check])
    cost = MoneyField(
        "Cost per session, in pounds",
        description="Leave empty if it is free. For example 3.50",
    )
    min_age = WholeNumberField(
        "Youngest age",
        message="Youngest age must be a whole number of years, like 18",
        validators=[Optional(), NumberRange(0, 120, "Youngest age must be from 0 to 120")],
    )
    max_age = WholeNumberField(
        "Oldest age",
        message="Oldest age must be a whole number of years, like 99",
        validators=[Optional(), NumberRange(0, 120, "Oldest age must be from 0 to 120")],
    )
    eligibility = TextAreaField(
        "Who it is for (optional)",
        description="For example: carers of someone living with dementia",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Who it is for", 1000)],
    )
    access = SelectMultipleField(
        "Accessibility", choices=[SelectChoice(k, v) for k, v in ACCESS_FEATURES.items()]
    )
    capacity = WholeNumberField(
        "Places in total (optional)",
        message="Places in total must be a whole number, like 12",
        validators=[Optional(), NumberRange(0, 10_000, "Places in total must be 0 or more")],
    )
    spaces_available = WholeNumberField(
        "Places free now (optional)",
        message="Places free now must be a whole number, like 3",
        validators=[Optional(), NumberRange(0, 10_000, "Places free now must be 0 or more")],
    )
    accepts_referrals = RadioField(
        "How people join",
        choices=[
            SelectChoice("yes", "Navigators can refer people to us, and we answer each referral"),
            SelectChoice("no", "Signpost only: people contact us themselves"),
        ],
        default="yes",
        validators=[DataRequired("Choose how people join")],
    )
    contact_name = StringField(
        "Contact name (optional)",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Contact name", 120)],
    )
    contact_email = EmailField(
        "Contact email (optional)",
        filters=[blank_to_none],
        validators=[
            Optional(),
            Email("Enter an email address in the right format, like name@example.org"),
            max_length("Email address", 254),
        ],
    )
    contact_phone = StringField(
        "Contact phone (optional)",
        filters=[blank_to_none],
        validators=[Optional(), uk_phone, max_length("Phone number", 30)],
    )
    version = StringField()

    FIELDS_AS_TYPED = (
        "title",
        "description",
        "categories",
        "starts_on",
        "start_time",
        "end_time",
        "schedule_note",
        "eligibility",
        "min_age",
        "max_age",
        "capacity",
        "spaces_available",
        "contact_name",
        "contact_email",
        "contact_phone",
    )

    def apply_to(self, activity: Activity) -> None:
        """Copy what was typed onto the activity; call only after the form validated."""
        for name in self.FIELDS_AS_TYPED:
            setattr(activity, name, getattr(self, name).data)
        activity.frequency = Frequency(self.frequency.data)
        by_arrangement = activity.frequency == Frequency.BY_ARRANGEMENT
        activity.days = [] if by_arrangement else sorted(self.days.data)
        activity.monthly_week = (
            self.monthly_week.data if activity.frequency == Frequency.MONTHLY else None
        )
        activity.online = self.online.data == "yes"
        activity.venue_name = self.venue_name.data
        activity.venue_address = self.venue_address.data
        activity.postcode = normalise_postcode(self.postcode.data) if self.postcode.data else None
        activity.cost_pence = self.cost.data or None
        for feature in ACCESS_FEATURES:
            setattr(activity, feature, feature in (self.access.data or []))
        activity.accepts_referrals = self.accepts_referrals.data == "yes"

    def fill_from(self, activity: Activity) -> None:
        """Show an existing activity in the form (for editing)."""
        for name in self.FIELDS_AS_TYPED:
            getattr(self, name).data = getattr(activity, name)
        self.starts_on.process(None, activity.starts_on)
        self.frequency.data = activity.frequency.value
        self.days.data = list(activity.days or [])
        self.monthly_week.data = activity.monthly_week
        self.online.data = "yes" if activity.online else "no"
        self.venue_name.data = activity.venue_name
        self.venue_address.data = activity.venue_address
        self.postcode.data = activity.postcode
        self.cost.data = activity.cost_pence
        self.access.data = [f for f in ACCESS_FEATURES if getattr(activity, f)]
        self.accepts_referrals.data = "yes" if activity.accepts_referrals else "no"
        self.version.data = str(activity.version)

    def validate_days(self, field):
        if self.frequency.data != Frequency.BY_ARRANGEMENT.value and not field.data:
            raise ValidationError("Choose the day or days it meets, or choose by arrangement")

    def validate_monthly_week(self, field):
        if self.frequency.data == Frequency.MONTHLY.value and field.data is None:
            raise ValidationError("Choose which week of the month it meets")
        if field.data is not None and field.data not in WEEKS_OF_MONTH:
            raise ValidationError("Choose which week of the month it meets")

    def validate_starts_on(self, field):
        if self.frequency.data == Frequency.FORTNIGHTLY.value and field.data is None:
            raise ValidationError("Enter the date of the first session, so we know which weeks")

    def validate_end_time(self, field):
        if field.data and self.start_time.data and field.data <= self.start_time.data:
            raise ValidationError("End time must be after the start time")
        if field.data and not self.start_time.data and not self.start_time.errors:
            self.start_time.errors.append("Enter the start time as well as the end time")

    def validate_venue_name(self, field):
        if self.online.data == "no" and not field.data:
            raise ValidationError("Enter the venue name, or choose online")

    def validate_postcode(self, field):
        if self.online.data == "no" and not field.data:
            raise ValidationError("Enter the venue postcode, so people can find it")

    def validate_max_age(self, field):
        lower = self.min_age.data
        if field.data is not None and lower is not None and field.data < lower:
            raise ValidationError("Oldest age must be the same as or more than youngest age")

    def validate_spaces_available(self, field):
        total = self.capacity.data
        if field.data is not None and total is not None and field.data > total:
            raise ValidationError("Places free now cannot be more than places in total")


class ActivityStatusForm(FlaskForm):
    status = StringField(validators=[DataRequired()])
    version = StringField()


class ReferToActivityForm(FlaskForm):
    share_phone = BooleanField("Their phone number")
    share_email = BooleanField("Their email address")
    share_age = BooleanField("Their age")
    note = TextAreaField(
        "Message to the organisation (optional)",
        description="Only what the person is happy for them to know: for example, "
        "that they would like someone to meet them at the door",
        filters=[blank_to_none],
        validators=[Optional(), max_length("Message", 1000)],
    )
    consent = BooleanField(
        "The person has agreed that we share these details with this organisation",
        validators=[
            DataRequired("Confirm the person agreed to share these details before you refer them")
        ],
    )


class SignpostForm(FlaskForm):
    pass


class DeclineReferralForm(FlaskForm):
    reason = StringField(
        "Why can you not take this referral?",
        description="The navigator sees this, so they can find something else",
        filters=[strip],
        validators=[
            DataRequired("Say why you cannot take this referral"),
            max_length("Reason", 200),
        ],
    )
    version = StringField()


class AnswerForm(FlaskForm):
    version = StringField()


class AttendanceForm(FlaskForm):
    session_on = DateInputField(
        "Date of the session",
        required_message="Enter the date of the session",
        description="For example, 15 3 2027",
    )
    attended = RadioField(
        "Did they come?",
        choices=[
            SelectChoice("yes", "Yes, they came"),
            SelectChoice("no", "No, they did not come"),
        ],
        validators=[DataRequired("Say whether they came")],
    )
    version = StringField()


class StopReferralForm(FlaskForm):
    reason = StringField(
        "Why has it ended?",
        filters=[strip],
        validators=[DataRequired("Say why it has ended"), max_length("Reason", 200)],
    )
    version = StringField()


WITHDRAWN = "Withdrawn: "


class WithdrawReferralForm(FlaskForm):
    """A navigator withdrawing a referral: the reason is kept after "Withdrawn: ", and the
    two together fit the 200 characters the referral keeps."""

    reason = StringField(
        "Why is it being withdrawn?",
        filters=[strip],
        validators=[
            DataRequired("Say why the referral is being withdrawn"),
            max_length("Reason", 200 - len(WITHDRAWN)),
        ],
    )


class ImportForm(FlaskForm):
    organisation = SelectField(
        "Organisation",
        coerce=optional_int,
        validators=[DataRequired("Choose the organisation these activities belong to")],
    )
    file = FileField("CSV file")

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation.choices = [SelectChoice("", "Choose an organisation")] + [
            SelectChoice(o.id, o.name) for o in organisations
        ]
