"""Hub staff and the directory: verifying organisations, and importing activities from CSV."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, url_for
from flask_login import current_user

from portal.audit.service import audit, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.db_types import london_today
from portal.directory import csv_import, organisations
from portal.directory.forms import AnswerForm, ImportForm
from portal.directory.models import Activity, ActivityImport, Organisation
from portal.directory.views import _new_activity_for
from portal.extensions import db
from portal.mail import MailError
from portal.web import render

bp = Blueprint("directory_hub", __name__)
HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)


@bp.route("/organisations")
@roles_required(*HUB_STAFF)
def organisations_list():
    counts = dict(
        db.session.execute(
            sa.select(Activity.organisation_id, sa.func.count()).group_by(Activity.organisation_id)
        ).all()
    )
    rows = db.session.scalars(
        sa.select(Organisation).order_by(Organisation.verified_at.is_not(None), Organisation.name)
    ).all()
    return render("directory/organisations.html", organisations=rows, counts=counts)


def _organisation(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        abort(404)
    return organisation


@bp.route("/organisations/<int:organisation_id>")
@roles_required(*HUB_STAFF)
def organisation(organisation_id: int):
    found = _organisation(organisation_id)
    record_view("organisation", found.id)
    return render(
        "directory/organisation.html",
        organisation=found,
        members=organisations.members(found),
        activities=found.activities,
        form=AnswerForm(formdata=None),
    )


@bp.post("/organisations/<int:organisation_id>/verify")
@roles_required(*HUB_STAFF)
def verify(organisation_id: int):
    found = _organisation(organisation_id)
    if not AnswerForm().validate_on_submit():
        abort(400)
    if found.is_verified:
        flash(f"{found.name} was already verified.", "info")
        return redirect(url_for(".organisation", organisation_id=found.id))
    organisations.verify(found, current_user)
    audit("verified", "organisation", found.id)
    db.session.commit()
    try:
        organisations.send_verified(found)
    except MailError:
        flash("The organisation is verified, but the email to tell them did not send.", "error")
    flash(
        f"{found.name} is verified. Its published activities now show in the directory.", "success"
    )
    return redirect(url_for(".organisation", organisation_id=found.id))


@bp.route("/organisations/<int:organisation_id>/activities/new", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def new_activity(organisation_id: int):
    return _new_activity_for(_organisation(organisation_id))


# --- CSV import -----------------------------------------------------------------------------


def _all_organisations() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))


@bp.route("/activities/import", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def import_activities():
    form = ImportForm(organisations=_all_organisations())
    checked = pending = None
    if form.validate_on_submit():
        upload = form.file.data
        content = upload.read() if upload else b""
        if not content:
            form.file.errors = ["Choose a CSV file to upload"]
        else:
            organisation = _organisation(form.organisation.data)
            checked = csv_import.check(
                content, organisation, current_app.config["ACTIVITY_IMPORT_MAX_ROWS"]
            )
            if checked.ok:
                pending = csv_import.hold(
                    content,
                    upload.filename or "activities.csv",
                    organisation,
                    len(checked.rows),
                    current_user,
                )
                audit("created", "activity_import", pending.id)
                db.session.commit()
    status = 400 if form.is_submitted() and (pending is None) else 200
    return render(
        "directory/import.html",
        form=form,
        checked=checked,
        pending=pending,
        confirm_form=AnswerForm(formdata=None),
        columns=csv_import.ALL_COLUMNS,
        required=csv_import.REQUIRED_COLUMNS,
        max_rows=current_app.config["ACTIVITY_IMPORT_MAX_ROWS"],
        status_code=status,
    )


@bp.post("/activities/import/<int:import_id>/confirm")
@roles_required(*HUB_STAFF)
def confirm_import(import_id: int):
    pending = db.session.get(ActivityImport, import_id)
    if pending is None or pending.created_by_id != current_user.id:
        abort(404)
    if not AnswerForm().validate_on_submit():
        abort(400)
    if pending.imported_at is not None:
        flash("That file was already imported.", "info")
        return redirect(url_for(".organisation", organisation_id=pending.organisation_id))
    try:
        created = csv_import.import_held(
            pending, current_app.config["ACTIVITY_IMPORT_MAX_ROWS"], london_today()
        )
    except ValueError:
        db.session.rollback()
        flash("The file no longer passes its checks. Upload it again to see why.", "error")
        return redirect(url_for(".import_activities"))
    audit("imported", "activity_import", pending.id)
    db.session.commit()
    flash(f"{created} activities imported for {pending.organisation.name}.", "success")
    return redirect(url_for(".organisation", organisation_id=pending.organisation_id))


@bp.route("/activities/import/template.csv")
@roles_required(*HUB_STAFF)
def import_template():
    return Response(
        csv_import.template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activities-template.csv"'},
    )
