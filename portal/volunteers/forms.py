"""Volunteer forms: sign-up, profile, vetting, training, buddying, contacts and hours."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from portal.cases.models import MAX_CONTACT_MINUTES, ContactMethod
from portal.form_fields import (
    DateInputField,
    LocalDateTimeField,
    blank_to_none,
    enum_choices,
    max_length,
    now_local,
    strip,
    uk_phone,
)
from portal.referrals.forms import optional_int, postcode_check
from portal.volunteers.models import DbsLevel, HoursKind, LeftReason, VolunteerRole
from portal.volunteers.profile import INTERESTS, SLOT_CHOICES, TRANSPORT
from portal.volunteers.time_given import BUDDY_METHODS

TEXT_LIMIT = 2000
# A referee's address only needs the shape of one: the hub writes to it by hand.
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_LANGUAGES = 10


def _email_field(label: str, required: str | None) -> EmailField:
    validators = [DataRequired(required)] if required else [Optional()]
    return EmailField(
        label,
        filters=[strip],
        validators=[
            *validators,
            max_length(label, 254),
            Email("Enter an email address in the correct format, like name@example.com"),
        ],
    )


class _AboutYouFields:
    """What a volunteer tells the hub about themselves: asked at sign-up, edited later."""

    phone = StringField(
        "Phone number",
        description="A mobile or landline the hub can call you on",
        filters=[strip],
        validators=[
            DataRequired("Enter your phone number"),
            max_length("Phone number", 30),
            uk_phone,
        ],
    )
    postcode = StringField(
        "Postcode",
        description="So we can suggest people and activities near you",
        filters=[strip],
        validators=[
            DataRequired("Enter your postcode"),
            max_length("Postcode", 10),
            postcode_check,
        ],
    )
    languages = StringField(
        "Languages you speak",
        description="Separate them with commas, for example English, Punjabi",
        default="English",
        filters=[strip],
        validators=[
            DataRequired("Enter at least one language you speak"),
            max_length("Languages", 300),
        ],
    )
    interests = SelectMultipleField(
        "What you enjoy",
        description="Optional. We use this to pair you with people who share your interests",
        choices=[SelectChoice(i, i.capitalize()) for i in INTERESTS],
        validators=[Optional()],
    )
    availability = SelectMultipleField(
        "When you could volunteer",
        description="Tick every time that usually suits you. You can change this later",
        choices=SLOT_CHOICES,
        validators=[DataRequired("Choose at least one time you could volunteer")],
    )
    transport = RadioField(
        "How do you get about?",
        choices=[SelectChoice(t, t) for t in TRANSPORT],
        validators=[InputRequired("Choose how you get about")],
    )

    def validate_languages(self, field):
        if len(language_list(field.data)) > MAX_LANGUAGES:
            raise ValidationError(f"List up to {MAX_LANGUAGES} languages")


def language_list(text: str | None) -> list[str]:
    seen: list[str] = []
    for part in (text or "").split(","):
        name = " ".join(part.split())[:40]
        if name and name.lower() not in {s.lower() for s in seen}:
            seen.append(name[:1].upper() + name[1:])
    return seen


class SignUpForm(FlaskForm, _AboutYouFields):
    full_name = StringField(
        "Full name",
        filters=[strip],
        validators=[DataRequired("Enter your full name"), max_length("Full name", 120)],
    )
    email = _email_field("Email address", "Enter your email address")
    roles = SelectMultipleField(
        "What would you like to do?",
        description="Choose all that interest you",
        choices=enum_choices(VolunteerRole),
        validators=[DataRequired("Choose at least one way you would like to volunteer")],
    )
    referee_1_name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired("Enter your first referee's name"), max_length("Name", 120)],
    )
    referee_1_contact = StringField(
        "Email address or phone number",
        filters=[strip],
        validators=[
            DataRequired("Enter how we can contact your first referee"),
            max_length("Contact", 254),
        ],
    )
    referee_2_name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired("Enter your second referee's name"), max_length("Name", 120)],
    )
    referee_2_contact = StringField(
        "Email address or phone number",
        filters=[strip],
        validators=[
            DataRequired("Enter how we can contact your second referee"),
            max_length("Contact", 254),
        ],
    )
    motivation = TextAreaField(
        "Why would you like to volunteer?",
        description="A few sentences is plenty",
        filters=[strip],
        validators=[
            DataRequired("Tell us a little about why you would like to volunteer"),
            max_length("Your answer", TEXT_LIMIT),
        ],
    )
    consent = BooleanField(
        "I have read the volunteer privacy notice and agree to the hub keeping these details "
        "and contacting my referees",
        validators=[
            DataRequired("Tick the box to agree to the privacy notice, or call us to apply instead")
        ],
    )
    # A honeypot: hidden from people, filled in by bots.
    website = StringField("Leave this empty")

    def _referee_contact_check(self, field):
        value = field.data or ""
        if "@" in value:
            if not _EMAIL_SHAPE.fullmatch(value):
                raise ValidationError("Enter the referee's email address in the correct format")
        else:
            try:
                uk_phone(self, field)
            except ValidationError as error:
                raise ValidationError(
                    "Enter the referee's email address or phone number, like 07700 900 982"
                ) from error
        if self.email.data and value.strip().lower() == self.email.data.strip().lower():
            raise ValidationError("A referee must be someone other than you")

    def validate_referee_1_contact(self, field):
        self._referee_contact_check(field)

    def validate_referee_2_contact(self, field):
        self._referee_contact_check(field)
        if (field.data or "").strip().lower() == (
            self.referee_1_contact.data or ""
        ).strip().lower():
            raise ValidationError("Give two different referees")


class ProfileForm(FlaskForm, _AboutYouFields):
    pass


class StatusForm(FlaskForm):
    status = RadioField("Move to", validators=[InputRequired("Choose the new status")])
    left_reason = RadioField(
        "Why are they leaving?", choices=enum_choices(LeftReason), validators=[Optional()]
    )
    note = TextAreaField(
        "Note",
        description="Needed when pausing: why, and until when if known",
        filters=[blank_to_none],
        validators=[max_length("Note", TEXT_LIMIT)],
    )

    def __init__(self, *args, allowed=(), **kw):
        super().__init__(*args, **kw)
        self.status.choices = [SelectChoice(s.value, s.label) for s in allowed]


class ReferencesForm(FlaskForm):
    requested_on = DateInputField("References asked for on")
    received_1 = DateInputField("First reference received on")
    received_2 = DateInputField("Second reference received on")


class DbsForm(FlaskForm):
    level = RadioField(
        "Level", choices=enum_choices(DbsLevel), validators=[InputRequired("Choose the level")]
    )
    certificate_number = StringField(
        "Certificate number",
        description="12 digits, printed at the top of the certificate",
        filters=[strip],
        validators=[
            DataRequired("Enter the certificate number"),
            max_length("Certificate number", 20),
        ],
    )
    issue_date = DateInputField(
        "Date of issue",
        description="For example, 4 9 2026",
        required_message="Enter the date of issue",
    )
    update_service = BooleanField("They subscribe to the DBS Update Service")


class TrainingRecordForm(FlaskForm):
    module_id = SelectField(
        "Course",
        coerce=optional_int,
        validators=[InputRequired("Choose the course they completed")],
    )
    completed_on = DateInputField(
        "Date completed", required_message="Enter the date they completed it"
    )
    trainer = StringField(
        "Trainer or provider",
        filters=[blank_to_none],
        validators=[max_length("Trainer", 120)],
    )
    notes = TextAreaField(
        "Notes", filters=[blank_to_none], validators=[max_length("Notes", TEXT_LIMIT)]
    )

    def __init__(self, *args, modules=(), **kw):
        super().__init__(*args, **kw)
        self.module_id.choices = [SelectChoice("", "Choose a course")] + [
            SelectChoice(str(m.id), m.name) for m in modules
        ]


class TrainingModuleForm(FlaskForm):
    name = StringField(
        "Course name",
        filters=[strip],
        validators=[DataRequired("Enter the course name"), max_length("Course name", 120)],
    )
    description = TextAreaField(
        "What it covers",
        filters=[blank_to_none],
        validators=[max_length("Description", TEXT_LIMIT)],
    )
    valid_for_months = IntegerField(
        "Stays valid for (months)",
        description="Leave empty if it never needs renewing",
        validators=[
            Optional(),
            NumberRange(1, 120, "Enter a number of months from 1 to 120, or leave it empty"),
        ],
    )
    required_for = SelectMultipleField(
        "Mandatory for",
        description="A volunteer in any ticked role must hold this course to be matched",
        choices=enum_choices(VolunteerRole),
        validators=[Optional()],
    )
    is_active = BooleanField("Offered now", default=True)


class ProposeBuddyForm(FlaskForm):
    volunteer_id = SelectField(
        "Volunteer", coerce=optional_int, validators=[InputRequired("Choose a volunteer")]
    )

    def __init__(self, *args, volunteers=(), **kw):
        super().__init__(*args, **kw)
        self.volunteer_id.choices = [SelectChoice("", "Choose a volunteer")] + [
            SelectChoice(str(v.id), label) for v, label in volunteers
        ]


class EndMatchForm(FlaskForm):
    reason = StringField(
        "Why is it ending?",
        filters=[strip],
        validators=[DataRequired("Say why the match is ending"), max_length("Reason", 200)],
    )


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Would you like to tell us why? (optional)",
        filters=[blank_to_none],
        validators=[max_length("Your answer", 500)],
    )


class BuddyContactForm(FlaskForm):
    occurred_at = LocalDateTimeField(
        "When", default=now_local, validators=[InputRequired("Enter the date and time")]
    )
    method = RadioField(
        "How were you in touch?",
        choices=[SelectChoice(m.value, m.label) for m in BUDDY_METHODS],
        default=ContactMethod.PHONE.value,
        validators=[InputRequired("Choose how you were in touch")],
    )
    duration_minutes = IntegerField(
        "How long, in minutes",
        validators=[
            InputRequired("Enter how long it took, in minutes"),
            NumberRange(
                1,
                MAX_CONTACT_MINUTES,
                f"Enter a number of minutes from 1 to {MAX_CONTACT_MINUTES} (12 hours)",
            ),
        ],
    )
    notes = TextAreaField(
        "How did it go?", filters=[blank_to_none], validators=[max_length("Notes", TEXT_LIMIT)]
    )
    concern = BooleanField("I am worried about this person's safety or wellbeing")
    concern_note = TextAreaField(
        "What worries you?",
        description="The navigator and the hub coordinators are told at once",
        filters=[blank_to_none],
        validators=[max_length("Your answer", TEXT_LIMIT)],
    )
    next_meeting_at = LocalDateTimeField("Next planned meeting (optional)", validators=[Optional()])

    def validate_concern_note(self, field):
        if self.concern.data and not field.data:
            raise ValidationError("Tell us what worries you")


class HoursForm(FlaskForm):
    worked_on = DateInputField("Date", required_message="Enter the date")
    kind = RadioField(
        "What was it?",
        choices=enum_choices(HoursKind),
        validators=[InputRequired("Choose what the time was for")],
    )
    hours = IntegerField(
        "Hours",
        default=0,
        validators=[
            InputRequired("Enter the hours, or 0"),
            NumberRange(0, 24, "A day has only 24 hours: enter 24 or fewer"),
        ],
    )
    minutes = IntegerField(
        "Minutes",
        default=0,
        validators=[
            InputRequired("Enter the minutes, or 0"),
            NumberRange(0, 59, "Enter minutes from 0 to 59"),
        ],
    )
    notes = TextAreaField(
        "Notes (optional)", filters=[blank_to_none], validators=[max_length("Notes", TEXT_LIMIT)]
    )

    def total_minutes(self) -> int:
        return (self.hours.data or 0) * 60 + (self.minutes.data or 0)

    def validate_minutes(self, field):
        if not self.hours.errors and not field.errors and self.total_minutes() == 0:
            raise ValidationError("Enter the time you gave")
        if (self.hours.data or 0) == 24 and (field.data or 0) > 0:
            raise ValidationError("A day has only 24 hours: enter 24 or fewer")
