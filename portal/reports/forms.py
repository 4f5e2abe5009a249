"""The admin's settings for how a practice receives its outcome reports."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.validators import InputRequired, ValidationError

from portal.form_fields import blank_to_none, enum_choices, max_length
from portal.referrals.models import ReportFrequency
from portal.reports.delivery import mailbox_problem


def _mailbox(form, field) -> None:
    if field.data and mailbox_problem(field.data):
        raise ValidationError(
            "Enter the report mailbox in the correct format, like gp.reports@nhs.net"
        )


class ReportSettingsForm(FlaskForm):
    report_mailbox = StringField(
        "Secure report mailbox",
        description="The practice's secure email address for outcome reports, such as an "
        "nhs.net shared mailbox. Leave it empty to keep reports in the portal inbox only.",
        filters=[blank_to_none],
        validators=[max_length("The report mailbox", 254), _mailbox],
    )
    report_frequency = RadioField(
        "How often reports are sent",
        choices=enum_choices(ReportFrequency),
        validators=[InputRequired("Choose how often reports are sent")],
    )
    notify_on_close = BooleanField(
        "Also send a notice about each person as soon as their case closes"
    )
