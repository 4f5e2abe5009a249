"""Forms for case work. Each keeps what was typed when it is sent back with errors."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from portal.cases.models import MAX_CONTACT_MINUTES, ContactMethod, ContactResult, GoalStatus
from portal.cases.work import CASE_OUTCOMES
from portal.form_fields import (
    DateInputField,
    LocalDateTimeField,
    blank_to_none,
    enum_choices,
    max_length,
    now_local,
)
from portal.measures import scales
from portal.measures.models import Scale, Stage
from portal.referrals.forms import VersionedForm

TEXT_LIMIT = 4000


class ContactForm(VersionedForm):
    occurred_at = LocalDateTimeField(
        "When",
        default=now_local,
        validators=[InputRequired("Enter the date and time of the contact")],
    )
    method = RadioField(
        "How",
        choices=enum_choices(ContactMethod),
        default=ContactMethod.PHONE.value,
        validators=[InputRequired("Choose how the contact happened")],
    )
    result = RadioField(
        "What happened",
        choices=enum_choices(ContactResult),
        default=ContactResult.SPOKE.value,
        validators=[InputRequired("Choose what happened")],
    )
    duration_minutes = IntegerField(
        "How long it took, in minutes",
        description="Optional. Up to 12 hours (720 minutes).",
        validators=[
            Optional(),
            NumberRange(
                0,
                MAX_CONTACT_MINUTES,
                "How long it took must be between 0 minutes and 12 hours (720 minutes)",
            ),
        ],
    )
    notes = TextAreaField(
        "Notes",
        filters=[blank_to_none],
        validators=[max_length("Notes", TEXT_LIMIT)],
    )
    concern_raised = BooleanField("I have a safeguarding concern about this person")
    safeguarding_note = TextAreaField(
        "Describe the concern",
        description="The hub coordinators are alerted as soon as you save.",
        filters=[blank_to_none],
        validators=[max_length("The concern", TEXT_LIMIT)],
    )
    next_contact_on = DateInputField(
        "Next contact planned",
        description="Optional. For example, 27 11 2026. Left empty after a successful contact, "
        "it is set to before the case would become overdue.",
    )

    def validate_safeguarding_note(self, field):
        if self.concern_raised.data and not field.data:
            raise ValidationError("Describe the concern so the coordinator can act on it")


class GoalForm(FlaskForm):
    description = TextAreaField(
        "What matters to the person",
        description="In their own words, for example “I want to get out of the house once a week”.",
        filters=[blank_to_none],
        validators=[
            InputRequired("Write the goal in the person's own words"),
            max_length("The goal", 1000),
        ],
    )


class GoalStatusForm(VersionedForm):
    status = RadioField(
        "Where has this goal got to?",
        choices=enum_choices(GoalStatus),
        validators=[InputRequired("Choose where the goal has got to")],
    )
    on = DateInputField("When", description="Leave empty for today.")


class CloseCaseForm(VersionedForm):
    reason = RadioField(
        "What was the outcome?",
        choices=[SelectChoice(r.value, r.label) for r in CASE_OUTCOMES],
        validators=[InputRequired("Choose the outcome of the support")],
    )
    summary = TextAreaField(
        "Summary for the GP",
        description="A few plain sentences the practice will read in the outcome report.",
        filters=[blank_to_none],
        validators=[max_length("The summary", TEXT_LIMIT)],
    )
    closing_measures_declined = BooleanField(
        "The person chose not to answer the closing wellbeing questions"
    )


class ReopenForm(VersionedForm):
    reason = TextAreaField(
        "Why is the case being reopened?",
        filters=[blank_to_none],
        validators=[
            InputRequired("Say why the case is being reopened"),
            max_length("The reason", 1000),
        ],
    )


class ReassignForm(VersionedForm):
    navigator_id = SelectField(
        "Give the case to",
        coerce=lambda v: int(v) if v not in (None, "") else None,
        validators=[InputRequired("Choose a navigator")],
    )

    def __init__(self, *args, navigators=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.navigator_id.choices = [SelectChoice("", "Choose a navigator")] + [
            SelectChoice(
                user.id,
                f"{user.full_name}{' (volunteer)' if user.is_volunteer_navigator else ''}: "
                f"{count} open{f' of {user.caseload_capacity}' if user.caseload_capacity else ''}",
            )
            for user, count in navigators
        ]


def measure_form(scale: Scale, formdata=None, stage: str | None = None):
    """A form with one radio group per item of the scale; built per scale from its definition."""
    definition = scales.definition(scale)
    choices = [SelectChoice(str(o.value), o.label) for o in definition.options]

    class MeasureForm(FlaskForm):
        stage = RadioField(
            "When is this being asked?",
            choices=enum_choices(Stage),
            validators=[InputRequired("Choose when this is being asked")],
        )
        declined = BooleanField("The person chose not to answer these questions")

    for index, item in enumerate(definition.items):
        # No validators here: scales.validate() decides, so the rules live in one place.
        setattr(
            MeasureForm, f"item_{index}", RadioField(item, choices=choices, validate_choice=False)
        )
    form = MeasureForm(formdata=formdata) if formdata is not None else MeasureForm(formdata=None)
    if stage and formdata is None:
        form.stage.data = stage
    form.definition = definition
    form.item_fields = [getattr(form, f"item_{i}") for i in range(len(definition.items))]
    return form


class WithdrawConsentForm(FlaskForm):
    note = TextAreaField(
        "How and when did they tell you? (optional)",
        description="For example: by phone to the hub on Tuesday morning.",
        filters=[blank_to_none],
        validators=[max_length("The note", 1000)],
    )
