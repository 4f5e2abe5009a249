"""Forms for what the person would like, the admin's weights, and a navigator's matching details."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from portal.directory.search import ACCESS_FEATURES
from portal.form_fields import WholeNumberField, blank_to_none, max_length, strip
from portal.referrals.forms import VersionedForm
from portal.volunteers.profile import INTERESTS, SLOT_CHOICES

GENDER_CHOICES = [
    SelectChoice("", "No preference"),
    SelectChoice("Woman", "A woman"),
    SelectChoice("Man", "A man"),
]


class PreferencesForm(VersionedForm):
    wants_buddy = BooleanField("They would like a buddy")
    preferred_buddy_gender = RadioField(
        "Would they like their buddy to be a man or a woman?",
        choices=GENDER_CHOICES,
        default="",
        validators=[Optional()],
    )
    availability = SelectMultipleField(
        "When are they free to meet?",
        description="Leave all unticked if you do not know yet",
        choices=SLOT_CHOICES,
        validators=[Optional()],
    )
    interests = SelectMultipleField(
        "What do they enjoy?",
        choices=[SelectChoice(i, i.capitalize()) for i in INTERESTS],
        validators=[Optional()],
    )
    access_needs = SelectMultipleField(
        "What must an activity have for them to get there and take part?",
        choices=[SelectChoice(k, v) for k, v in ACCESS_FEATURES.items()],
        validators=[Optional()],
    )


def weights_form(factors, values: dict[str, float], formdata=None):
    """One text box per factor: typed as text so a bad value can be shown back and explained."""

    class WeightsForm(FlaskForm):
        pass

    for factor in factors:
        setattr(
            WeightsForm,
            factor.key,
            StringField(factor.label, description=factor.hint, filters=[strip]),
        )
    form = WeightsForm(formdata=formdata)
    if formdata is None:
        for factor in factors:
            value = values[factor.key]
            getattr(form, factor.key).data = f"{value:g}"
    return form


class NavigatorProfileForm(FlaskForm):
    caseload_capacity = WholeNumberField(
        "How many open cases can they hold?",
        validators=[Optional(), NumberRange(0, 500, "Enter a number of cases from 0 to 500")],
        message="Enter the number of cases as a whole number, like 20",
    )
    neighbourhood_id = SelectField("Neighbourhood team they work with", coerce=str)
    languages = StringField(
        "Languages they speak besides English",
        description="Separate languages with commas, for example: Punjabi, Polish",
        filters=[strip, blank_to_none],
        validators=[max_length("Languages", 300)],
    )
