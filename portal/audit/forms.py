"""The audit trail's search form: who it is about, who did it, what and when."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from portal.audit import trail
from portal.form_fields import DateInputField, strip

# Dates outside these years hold no events, and far-off years overflow date arithmetic.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


class TrailForm(FlaskForm):
    # Sent by POST: a reference, an NHS number or an email address must not end up in a
    # page address, where browser history and server logs would keep it.
    person = StringField(
        "Who the records are about",
        description=trail.PERSON_HINT + ". Leave empty to see everyone's.",
        filters=[strip],
    )
    user = StringField(
        "Done by",
        description="The email address of the person who used the portal, or their user number",
        filters=[strip],
    )
    action = SelectField("What they did", validate_choice=False)
    object_type = SelectField("Type of record", validate_choice=False)
    date_from = DateInputField("From", description="For example, 1 8 2026")
    date_to = DateInputField("To", description="For example, 31 8 2026")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [
            SelectChoice("", "Anything"),
            *(SelectChoice(value, label) for value, label in trail.ACTIONS.items()),
        ]
        kinds = sorted(trail.KINDS.items(), key=lambda item: item[1].label)
        self.object_type.choices = [
            SelectChoice("", "Any record"),
            *(SelectChoice(value, kind.label) for value, kind in kinds),
        ]


def read(form: TrailForm) -> tuple[trail.TrailFilters | None, trail.Person | None]:
    """The filters the form asks for, or None with a message beside each field that is wrong.

    Everything typed stays in the form either way.
    """
    form.validate()
    person = trail.find_person(form.person.data)
    if person is None and (problem := trail.person_problem(form.person.data)):
        form.person.errors = [*form.person.errors, problem]
    if problem := trail.actor_problem(form.user.data):
        form.user.errors = [*form.user.errors, problem]
    if (form.action.data or "") not in ("", *trail.ACTIONS):
        form.action.errors = ["Choose what they did from the list"]
    if (form.object_type.data or "") not in ("", *trail.KINDS):
        form.object_type.errors = ["Choose a type of record from the list"]
    for date_field in (form.date_from, form.date_to):
        day = date_field.data
        if not date_field.errors and day and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            date_field.errors = [f"Enter a year from {EARLIEST_YEAR} to {LATEST_YEAR}"]
    start, end = form.date_from.data, form.date_to.data
    if not form.date_from.errors and not form.date_to.errors and start and end and end < start:
        form.date_to.errors = ["The 'To' date must be the same as or after the 'From' date"]
    if any(f.errors for f in form) or form.form_errors:
        return None, person
    filters = trail.TrailFilters(
        resident_id=person.id if person and person.kind == trail.RESIDENT else None,
        volunteer_id=person.id if person and person.kind == trail.VOLUNTEER else None,
        actor_id=trail.find_actor(form.user.data),
        action=form.action.data or "",
        object_type=form.object_type.data or "",
        date_from=start,
        date_to=end,
    )
    return filters, person


def filled_from(filters: trail.TrailFilters, person: trail.Person | None) -> TrailForm:
    """The form as it would have been typed to get these filters, to change one and search again."""
    form = TrailForm(formdata=None)
    form.person.data = person.search_text if person else ""
    form.user.data = ""
    if filters.actor_id is not None:
        form.user.data = trail.actor_email(filters.actor_id) or str(filters.actor_id)
    form.action.data = filters.action
    form.object_type.data = filters.object_type
    form.date_from.process(None, filters.date_from)
    form.date_to.process(None, filters.date_to)
    return form
