"""The referral forms: what each asks, and the message shown beside each field when it is wrong."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Optional, ValidationError

from portal.cases.models import ContactMethod, ContactResult
from portal.form_fields import (
    DateInputField,
    DateOfBirth,
    LocalDateTimeField,
    blank_to_none,
    enum_choices,
    max_length,
    now_local,
    strip,
    uk_phone,
)
from portal.referrals.intake import nhs_number_problem, normalise_postcode
from portal.referrals.models import (
    ClosureReason,
    PreferredContact,
    ReferralReason,
    ReferralSource,
    Route,
    Urgency,
)

TEXT_LIMIT = 5000
SHORT_TEXT_LIMIT = 2000


def optional_int(value):
    """A select's value as an int; '' is None and anything else not a number is no choice."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # not a choice: "Not a valid choice" is raised by the field


class NhsNumber:
    def __init__(self, required: bool):
        self.required = required

    def __call__(self, form, field):
        if not field.data:
            if self.required:
                raise ValidationError("Enter the person's NHS number")
            return
        problem = nhs_number_problem(field.data)
        if problem:
            raise ValidationError(problem)


def postcode_check(form, field):
    if field.data and normalise_postcode(field.data) is None:
        raise ValidationError("Enter a real postcode, like CV1 2AB")


class PersonFields:
    """The resident's details: the same questions on every referral form."""

    nhs_number = StringField(
        "NHS number",
        description="10 digits, for example 943 476 5919",
        filters=[strip],
        validators=[max_length("NHS number", 20)],
    )
    given_name = StringField(
        "First name",
        filters=[strip],
        validators=[DataRequired("Enter the person's first name"), max_length("First name", 100)],
    )
    family_name = StringField(
        "Last name",
        filters=[strip],
        validators=[DataRequired("Enter the person's last name"), max_length("Last name", 100)],
    )
    date_of_birth = DateInputField(
        "Date of birth",
        description="For example, 15 3 1948",
        required_message="Enter the person's date of birth",
        validators=[DateOfBirth()],
    )
    address = TextAreaField(
        "Address", filters=[blank_to_none], validators=[max_length("Address", 500)]
    )
    postcode = StringField(
        "Postcode",
        filters=[strip],
        validators=[DataRequired("Enter the postcode"), max_length("Postcode", 10), postcode_check],
    )
    phone = StringField(
        "Phone number",
        filters=[blank_to_none],
        validators=[max_length("Phone number", 30), uk_phone],
    )
    email = EmailField(
        "Email address",
        filters=[blank_to_none],
        validators=[
            Optional(),
            max_length("Email address", 254),
            Email("Enter an email address in the correct format, like name@example.com"),
        ],
    )
    preferred_contact = RadioField(
        "How would they like to be contacted?",
        choices=enum_choices(PreferredContact),
        default=PreferredContact.PHONE.value,
        validators=[InputRequired("Choose how they would like to be contacted")],
    )
    language = StringField(
        "Main language",
        default="English",
        filters=[strip],
        validators=[DataRequired("Enter the main language"), max_length("Main language", 60)],
    )
    interpreter_needed = BooleanField("Needs an interpreter")
    accessibility_needs = TextAreaField(
        "Accessibility or communication needs",
        description="For example, hearing loss, uses a wheelchair, needs large print",
        filters=[blank_to_none],
        validators=[max_length("Accessibility or communication needs", SHORT_TEXT_LIMIT)],
    )

    def validate_preferred_contact(self, field):
        needs = {
            PreferredContact.PHONE.value: ("phone", "a phone number"),
            PreferredContact.TEXT.value: ("phone", "a mobile number"),
            PreferredContact.EMAIL.value: ("email", "an email address"),
            PreferredContact.LETTER.value: ("address", "an address"),
        }.get(field.data)
        if needs and not getattr(self, needs[0]).data:
            raise ValidationError(f"Give {needs[1]}, or choose another way to be contacted")


class ReferralFields:
    reasons = SelectMultipleField(
        "Reasons for referral",
        description="Select all that apply",
        choices=enum_choices(ReferralReason),
        validators=[DataRequired("Choose at least one reason for the referral")],
    )
    details = TextAreaField(
        "What would help, in more detail",
        filters=[blank_to_none],
        validators=[max_length("Details", TEXT_LIMIT)],
    )
    known_risks = TextAreaField(
        "Known risks",
        description="For example, a lone worker warning, a dog at the property, recent crisis",
        filters=[blank_to_none],
        validators=[max_length("Known risks", SHORT_TEXT_LIMIT)],
    )
    urgency = RadioField(
        "Urgency",
        choices=enum_choices(Urgency),
        default=Urgency.ROUTINE.value,
        validators=[InputRequired("Choose how urgent the referral is")],
    )


CONSENT_MESSAGE = (
    "A referral can only be made with the person's agreement. Ask them first; "
    "if they agree, tick the box"
)


class ReferralForm(PersonFields, ReferralFields, FlaskForm):
    """A referral from a GP practice, or one the hub takes by phone or letter."""

    source = RadioField(
        "Who is referring?",
        choices=[
            SelectChoice(ReferralSource.PRACTICE.value, "A GP practice"),
            SelectChoice(ReferralSource.PROFESSIONAL.value, "Another professional"),
            SelectChoice(ReferralSource.SELF.value, "The person themself, by phone or letter"),
        ],
        default=ReferralSource.PRACTICE.value,
        validators=[InputRequired("Choose who is referring")],
    )
    practice_id = SelectField("Registered GP practice", coerce=optional_int, validate_choice=False)
    referrer_name = StringField(
        "Referrer's name",
        filters=[strip],
        validators=[DataRequired("Enter the referrer's name"), max_length("Referrer's name", 120)],
    )
    referrer_role = StringField(
        "Referrer's role",
        description="For example, GP, practice nurse, care coordinator",
        filters=[strip],
        validators=[DataRequired("Enter the referrer's role"), max_length("Referrer's role", 120)],
    )
    consent = BooleanField(
        "The person agrees to this referral, and to the hub sharing their information with "
        "the organisations it refers them to",
        validators=[DataRequired(CONSENT_MESSAGE)],
    )
    consent_share_with_gp = BooleanField(
        "They agree to the hub telling their GP practice how the support went", default=True
    )
    consent_recorded_by = StringField(
        "Consent recorded by",
        description="The name of the person who asked them",
        filters=[strip],
        validators=[
            DataRequired("Enter who recorded the person's consent"),
            max_length("Consent recorded by", 120),
        ],
    )

    def __init__(
        self,
        *args,
        nhs_number_required: bool = True,
        allowed_practices=(),
        from_practice: bool = False,
        **kw,
    ):
        super().__init__(*args, **kw)
        if from_practice:
            # A practice always refers as itself: no question to answer.
            del self.source
        self.nhs_number.validators = [*self.nhs_number.validators, NhsNumber(nhs_number_required)]
        self.allowed_practices = list(allowed_practices)
        self.practice_id.choices = [
            *([] if nhs_number_required else [SelectChoice("", "Not known")]),
            *(SelectChoice(str(p.id), p.name) for p in self.allowed_practices),
        ]

    def validate_practice_id(self, field):
        source = self.source.data if "source" in self else ReferralSource.PRACTICE.value
        if field.data is None:
            if source == ReferralSource.PRACTICE.value:
                raise ValidationError("Choose the GP practice that is referring")
            return
        if field.data not in {p.id for p in self.allowed_practices}:
            raise ValidationError("You can only refer people registered at your own practice")


class SelfReferralForm(FlaskForm):
    """The public form: plain words, a person asking for help for themself."""

    reasons = SelectMultipleField(
        "What would you like help with?",
        description="Choose all that apply",
        choices=[
            SelectChoice(ReferralReason.LONELINESS.value, "Feeling lonely or cut off from people"),
            SelectChoice(ReferralReason.LOW_MOOD.value, "Feeling low or worried"),
            SelectChoice(ReferralReason.CARER_SUPPORT.value, "Looking after someone"),
            SelectChoice(ReferralReason.BEREAVEMENT.value, "Losing someone close to me"),
            SelectChoice(ReferralReason.MONEY.value, "Money, bills or benefits"),
            SelectChoice(ReferralReason.HOUSING.value, "My home or where I live"),
            SelectChoice(ReferralReason.PHYSICAL_ACTIVITY.value, "Getting more active"),
            SelectChoice(
                ReferralReason.LONG_TERM_CONDITION.value, "Living with a long-term health condition"
            ),
            SelectChoice(
                ReferralReason.DIGITAL_INCLUSION.value, "Using a phone, tablet or computer"
            ),
            SelectChoice(ReferralReason.OTHER.value, "Something else"),
        ],
        validators=[DataRequired("Choose at least one thing you would like help with")],
    )
    details = TextAreaField(
        "Tell us a little more, if you like",
        description="For example, what you enjoy or used to enjoy, or what gets in the way",
        filters=[blank_to_none],
        validators=[max_length("Your answer", SHORT_TEXT_LIMIT)],
    )
    given_name = PersonFields.given_name
    family_name = PersonFields.family_name
    date_of_birth = DateInputField(
        "Date of birth",
        description="For example, 15 3 1948",
        required_message="Enter your date of birth",
        validators=[DateOfBirth()],
    )
    postcode = StringField(
        "Postcode",
        filters=[strip],
        validators=[
            DataRequired("Enter your postcode"),
            max_length("Postcode", 10),
            postcode_check,
        ],
    )
    address = PersonFields.address
    phone = PersonFields.phone
    email = PersonFields.email
    preferred_contact = RadioField(
        "How should we contact you?",
        choices=enum_choices(PreferredContact),
        default=PreferredContact.PHONE.value,
        validators=[InputRequired("Choose how we should contact you")],
    )
    language = PersonFields.language
    interpreter_needed = BooleanField("I would like an interpreter")
    accessibility_needs = TextAreaField(
        "Is there anything that would make it easier for us to talk with you?",
        description="For example, I am hard of hearing, or I need large print",
        filters=[blank_to_none],
        validators=[max_length("Your answer", SHORT_TEXT_LIMIT)],
    )
    practice_id = SelectField("Your GP practice", coerce=optional_int, validate_choice=False)
    nhs_number = StringField(
        "NHS number (if you know it)",
        description="10 digits, on letters from your GP or in the NHS App. You can leave this out",
        filters=[strip],
        validators=[max_length("NHS number", 20), NhsNumber(required=False)],
    )
    helper_name = StringField(
        "If someone is filling this in for you, their name and how they know you",
        description="For example, Sam Patel, my son",
        filters=[blank_to_none],
        validators=[max_length("Your answer", 120)],
    )
    consent = BooleanField(
        "I agree to the hub using these details to contact me, and to sharing them with the "
        "groups and services it puts me in touch with",
        validators=[
            DataRequired(
                "We can only help if you agree to us using your details. "
                "Tick the box, or call us instead"
            )
        ],
    )
    consent_share_with_gp = BooleanField(
        "I am happy for the hub to tell my GP practice how things went", default=True
    )
    # A honeypot: hidden from people, filled in by bots.
    website = StringField("Leave this empty")

    validate_preferred_contact = PersonFields.validate_preferred_contact

    def __init__(self, *args, practices=(), **kw):
        super().__init__(*args, **kw)
        self.practice_ids = {p.id for p in practices}
        self.practice_id.choices = [SelectChoice("", "I don't know, or it is not listed")] + [
            SelectChoice(str(p.id), p.name) for p in practices
        ]

    def validate_practice_id(self, field):
        if field.data is not None and field.data not in self.practice_ids:
            raise ValidationError("Choose your GP practice from the list")


class ContactAttemptForm(FlaskForm):
    occurred_at = LocalDateTimeField(
        "When",
        default=now_local,
        validators=[InputRequired("Enter the date and time of the attempt")],
    )
    method = RadioField(
        "How",
        choices=[
            SelectChoice(m.value, m.label)
            for m in (
                ContactMethod.PHONE,
                ContactMethod.TEXT,
                ContactMethod.EMAIL,
                ContactMethod.LETTER,
                ContactMethod.HOME_VISIT,
            )
        ],
        default=ContactMethod.PHONE.value,
        validators=[InputRequired("Choose how you tried to reach them")],
    )
    result = RadioField(
        "Result",
        choices=enum_choices(ContactResult),
        validators=[InputRequired("Choose what happened")],
    )
    notes = TextAreaField(
        "Notes", filters=[blank_to_none], validators=[max_length("Notes", SHORT_TEXT_LIMIT)]
    )


class VersionedForm(FlaskForm):
    # The referral's version when the page was drawn: a later save by someone else is caught.
    version = HiddenField()

    def version_number(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class TriageForm(VersionedForm):
    route = RadioField(
        "Route",
        choices=enum_choices(Route),
        validators=[InputRequired("Choose the route")],
    )
    support_level = RadioField(
        "Level of support",
        choices=[
            SelectChoice("1", "Level 1: preventative"),
            SelectChoice("2", "Level 2: already receiving some statutory services"),
            SelectChoice("3", "Level 3: complex needs"),
        ],
        coerce=optional_int,
        validators=[Optional()],
    )
    navigator_id = SelectField(
        "Navigator",
        description="Leave as 'Assign later' to assign from the case once someone has capacity",
        coerce=optional_int,
    )
    note = TextAreaField(
        "Reason for the decision",
        description="Required when the referral is not appropriate",
        filters=[blank_to_none],
        validators=[max_length("Reason for the decision", SHORT_TEXT_LIMIT)],
    )

    def __init__(self, *args, navigators=(), **kw):
        super().__init__(*args, **kw)
        self.navigator_choices(navigators)

    def navigator_choices(self, navigators) -> None:
        """`navigators`: (user, open cases) pairs; the label shows how full each caseload is."""
        self.navigator_id.choices = [SelectChoice("", "Assign later")] + [
            SelectChoice(
                str(user.id),
                f"{user.full_name}: {cases} of {user.caseload_capacity} cases"
                + (", volunteer (level 1 only)" if user.is_volunteer_navigator else ""),
            )
            for user, cases in navigators
        ]


class CloseForm(VersionedForm):
    reason = RadioField(
        "Why is the referral closing?",
        choices=enum_choices(ClosureReason),
        validators=[InputRequired("Choose why the referral is closing")],
    )
    summary = TextAreaField(
        "Summary for the GP report",
        filters=[blank_to_none],
        validators=[max_length("Summary", SHORT_TEXT_LIMIT)],
    )


class AddInformationForm(FlaskForm):
    text = TextAreaField(
        "Information for the hub",
        description="For example, a new phone number, or a change in the person's situation",
        filters=[blank_to_none],
        validators=[
            DataRequired("Enter the information to add"),
            max_length("Information for the hub", SHORT_TEXT_LIMIT),
        ],
    )


class EditReferralForm(PersonFields, ReferralFields, VersionedForm):
    """What the hub may correct on an open referral; name, date of birth and NHS number stay."""

    nhs_number = None
    given_name = None
    family_name = None
    date_of_birth = None


__all__ = [
    "AddInformationForm",
    "CloseForm",
    "ContactAttemptForm",
    "EditReferralForm",
    "ReferralForm",
    "SelfReferralForm",
    "TriageForm",
]
