"""Information governance pages: subject access exports."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from portal.audit.service import audit, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.db_types import london_today
from portal.extensions import db
from portal.form_fields import max_length, strip
from portal.governance import subject_access as sar
from portal.templating import format_nhs_number
from portal.web import render

bp = Blueprint("governance", __name__)

RESIDENT_LABEL = "Referral reference or NHS number"
VOLUNTEER_LABEL = "Volunteer's email address"


class ResidentSearchForm(FlaskForm):
    identifier = StringField(
        RESIDENT_LABEL,
        description="A reference like SP-7KQ3MX from any of their referrals, or their "
        "10-digit NHS number",
        filters=[strip],
        validators=[
            DataRequired("Enter a referral reference or NHS number"),
            max_length(RESIDENT_LABEL, 40),
        ],
    )


class VolunteerSearchForm(FlaskForm):
    email = StringField(
        VOLUNTEER_LABEL,
        description="The address they log in with",
        filters=[strip],
        validators=[
            DataRequired("Enter the volunteer's email address"),
            max_length(VOLUNTEER_LABEL, 254),
        ],
    )


def _search_page(resident_form=None, volunteer_form=None, status_code: int = 200):
    return render(
        "governance/subject_access.html",
        status_code=status_code,
        resident_form=resident_form or ResidentSearchForm(formdata=None),
        volunteer_form=volunteer_form or VolunteerSearchForm(formdata=None),
    )


def _produced_by() -> str:
    return f"{current_user.full_name} ({current_user.role.label})"


# The person is found by a POSTed form, never a query string: an NHS number, a reference or
# an email address in a URL ends up in logs, history and Referer headers.
@bp.route("/admin/subject-access")
@roles_required(Role.ADMIN)
def subject_access():
    return _search_page()


@bp.post("/admin/subject-access/resident")
@roles_required(Role.ADMIN)
def find_resident():
    form = ResidentSearchForm()
    if not form.validate_on_submit():
        return _search_page(resident_form=form, status_code=400)
    resident = sar.find_resident(form.identifier.data)
    if resident is None:
        form.identifier.errors = [sar.why_no_resident(form.identifier.data)]
        return _search_page(resident_form=form, status_code=400)
    record_view("subject_access_resident", resident.id)
    references = [r.reference for r in resident.referrals]
    return render(
        "governance/found.html",
        kind="resident",
        name=resident.full_name,
        rows=[
            ("Name", resident.full_name),
            ("Date of birth", sar.display(resident.date_of_birth) or "Not known"),
            ("NHS number", format_nhs_number(resident.nhs_number) or "Not known"),
            ("Postcode", resident.postcode or "Not known"),
            ("Referrals", ", ".join(references) or "None"),
        ],
        pdf_url=url_for(".resident_pdf", resident_id=resident.id),
        json_url=url_for(".resident_json", resident_id=resident.id),
    )


@bp.post("/admin/subject-access/volunteer")
@roles_required(Role.ADMIN)
def find_volunteer():
    form = VolunteerSearchForm()
    if not form.validate_on_submit():
        return _search_page(volunteer_form=form, status_code=400)
    volunteer = sar.find_volunteer(form.email.data)
    if volunteer is None:
        form.email.errors = [sar.why_no_volunteer(form.email.data)]
        return _search_page(volunteer_form=form, status_code=400)
    record_view("subject_access_volunteer", volunteer.id)
    user = volunteer.user
    return render(
        "governance/found.html",
        kind="volunteer",
        name=user.full_name,
        rows=[
            ("Name", user.full_name),
            ("Email", user.email),
            ("Status", volunteer.status.label),
            ("Applied", sar.display(volunteer.applied_at)),
        ],
        pdf_url=url_for(".volunteer_pdf", volunteer_id=volunteer.id),
        json_url=url_for(".volunteer_json", volunteer_id=volunteer.id),
    )


def _record(kind: str, person_id: int) -> dict:
    make = sar.resident_record if kind == "resident" else sar.volunteer_record
    try:
        return make(person_id, produced_by=_produced_by())
    except sar.PersonNotFound:
        abort(404)


def _download(kind: str, person_id: int, body: bytes | str, extension: str, mimetype: str):
    # Written only once the file is made: a failure half-way has disclosed nothing.
    audit("exported", f"subject_access_{kind}", person_id)
    db.session.commit()
    response = make_response(body)
    response.mimetype = mimetype
    name = f"subject-access-{kind}-{person_id}-{london_today():%Y%m%d}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(kind: str, person_id: int):
    body = sar.as_json(_record(kind, person_id))
    return _download(kind, person_id, body, "json", "application/json")


def _pdf(kind: str, person_id: int):
    body = sar.render_pdf(_record(kind, person_id))
    return _download(kind, person_id, body, "pdf", "application/pdf")


@bp.route("/admin/subject-access/resident/<int:resident_id>.json")
@roles_required(Role.ADMIN)
def resident_json(resident_id: int):
    return _json("resident", resident_id)


@bp.route("/admin/subject-access/resident/<int:resident_id>.pdf")
@roles_required(Role.ADMIN)
def resident_pdf(resident_id: int):
    return _pdf("resident", resident_id)


@bp.route("/admin/subject-access/volunteer/<int:volunteer_id>.json")
@roles_required(Role.ADMIN)
def volunteer_json(volunteer_id: int):
    return _json("volunteer", volunteer_id)


@bp.route("/admin/subject-access/volunteer/<int:volunteer_id>.pdf")
@roles_required(Role.ADMIN)
def volunteer_pdf(volunteer_id: int):
    return _pdf("volunteer", volunteer_id)
