"""The hub's side of volunteering: the board, vetting, DBS, training, reminders and supervision."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from portal import searches
from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.auth.service import send_invitation
from portal.db_types import london_today
from portal.extensions import db
from portal.form_fields import show_refusal
from portal.mail import MailError
from portal.referrals.workflow import TransitionRefused
from portal.volunteers import oversight, reminders, vetting
from portal.volunteers.compliance import compliance, dbs_renewal_due
from portal.volunteers.forms import (
    DbsForm,
    ReferencesForm,
    StatusForm,
    TrainingModuleForm,
    TrainingRecordForm,
)
from portal.volunteers.models import (
    BuddyMatch,
    DbsLevel,
    LeftReason,
    TrainingModule,
    Volunteer,
    VolunteerRole,
    VolunteerStatus,
)
from portal.volunteers.profile import describe_availability
from portal.volunteers.time_given import month_and_year
from portal.web import render

bp = Blueprint("volunteer_hub", __name__)

HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)


# --- the board ------------------------------------------------------------------------------


@bp.route("/volunteers", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def board():
    # The filter form is posted, so a name searched for never goes into the address.
    if request.method == "POST":
        filters = oversight.BoardFilters.from_args(request.form)
        return searches.show_results("volunteer_hub.board", filters.as_args())
    filters = oversight.BoardFilters.from_args(searches.from_address(request.args))
    record_list_view("volunteers", filters.status or "all")
    page, rows = oversight.board(filters, request.args.get("page"), london_today())
    return render(
        "volunteers/board.html",
        "volunteers/partials/_board.html",
        page=page,
        rows=rows,
        filters=filters,
        counts=oversight.status_counts(filters),
        statuses=list(VolunteerStatus),
        roles=list(VolunteerRole),
    )


# --- one volunteer --------------------------------------------------------------------------


def _volunteer(volunteer_id: int) -> Volunteer:
    volunteer = oversight.volunteer_record(volunteer_id)
    if volunteer is None:
        abort(404)
    return volunteer


def _modules() -> list[TrainingModule]:
    return list(
        db.session.scalars(
            sa.select(TrainingModule).where(TrainingModule.is_active).order_by(TrainingModule.name)
        )
    )


def _forms(volunteer: Volunteer, given: dict, modules: list[TrainingModule]) -> dict:
    status_form = given.get("status_form") or StatusForm(
        formdata=None, allowed=vetting.NEXT[volunteer.status]
    )
    references_form = given.get("references_form")
    if references_form is None:
        references_form = ReferencesForm(
            formdata=None,
            data={
                "requested_on": volunteer.references_requested_on,
                "received_1": volunteer.referee_1_received_on,
                "received_2": volunteer.referee_2_received_on,
            },
        )
    dbs_form = given.get("dbs_form") or DbsForm(formdata=None)
    training_form = given.get("training_form") or TrainingRecordForm(formdata=None, modules=modules)
    return {
        "status_form": status_form,
        "references_form": references_form,
        "dbs_form": dbs_form,
        "training_form": training_form,
    }


def _volunteer_page(volunteer: Volunteer, status_code: int = 200, **given):
    today = london_today()
    modules = _modules()
    matches = db.session.scalars(
        sa.select(BuddyMatch)
        .options(joinedload(BuddyMatch.referral))
        .where(BuddyMatch.volunteer_id == volunteer.id)
        .order_by(BuddyMatch.proposed_at.desc())
    ).all()
    month, year = month_and_year(volunteer, today)
    return render(
        "volunteers/volunteer.html",
        status_code=status_code,
        volunteer=volunteer,
        check=compliance(volunteer, modules, today),
        modules=modules,
        dbs_due=dbs_renewal_due(volunteer),
        why_not_active=(
            vetting.why_not_active(volunteer, today)
            if volunteer.status == VolunteerStatus.VETTING
            else []
        ),
        availability=describe_availability(volunteer.availability or []),
        matches=matches,
        month=month,
        year=year,
        today=today,
        # Only coordinators, who check the certificate, see its number in full.
        show_certificate=current_user.role == Role.COORDINATOR,
        **_forms(volunteer, given, modules),
    )


@bp.route("/volunteers/<int:volunteer_id>")
@roles_required(*HUB_STAFF)
def volunteer(volunteer_id: int):
    found = _volunteer(volunteer_id)
    record_view("volunteer", volunteer_id)
    return _volunteer_page(found)


def _saved(volunteer_id: int, message: str, anchor: str):
    flash(message, "success")
    return redirect(url_for(".volunteer", volunteer_id=volunteer_id, _anchor=anchor))


def _refused(volunteer: Volunteer, form, form_name: str, refusal: TransitionRefused):
    db.session.rollback()
    show_refusal(form, refusal)
    return _volunteer_page(_volunteer(volunteer.id), 400, **{form_name: form})


@bp.post("/volunteers/<int:volunteer_id>/status")
@roles_required(*HUB_STAFF)
def change_status(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    form = StatusForm(allowed=vetting.NEXT[volunteer.status])
    if not form.validate_on_submit():
        return _volunteer_page(volunteer, 400, status_form=form)
    to = VolunteerStatus(form.status.data)
    reason = LeftReason(form.left_reason.data) if form.left_reason.data else None
    try:
        vetting.change_status(volunteer, to, current_user, london_today(), reason, form.note.data)
        audit("changed", "volunteer", volunteer_id)
        db.session.commit()
    except TransitionRefused as refusal:
        return _refused(volunteer, form, "status_form", refusal)
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append("Someone else changed this volunteer just now. Try again.")
        return _volunteer_page(_volunteer(volunteer_id), 409, status_form=form)
    return _saved(
        volunteer_id, f"{volunteer.user.full_name} is now {to.label.lower()}", "status-section"
    )


@bp.post("/volunteers/<int:volunteer_id>/references")
@roles_required(*HUB_STAFF)
def references(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    form = ReferencesForm()
    if not form.validate_on_submit():
        return _volunteer_page(volunteer, 400, references_form=form)
    try:
        vetting.record_references(
            volunteer,
            form.requested_on.data,
            (form.received_1.data, form.received_2.data),
            london_today(),
        )
        audit("changed", "volunteer", volunteer_id)
        db.session.commit()
    except TransitionRefused as refusal:
        return _refused(volunteer, form, "references_form", refusal)
    return _saved(volunteer_id, "References saved", "references")


@bp.post("/volunteers/<int:volunteer_id>/dbs")
@roles_required(*HUB_STAFF)
def dbs(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    form = DbsForm()
    if not form.validate_on_submit():
        return _volunteer_page(volunteer, 400, dbs_form=form)
    check = vetting.DbsCheck(
        level=DbsLevel(form.level.data),
        certificate_number=form.certificate_number.data,
        issue_date=form.issue_date.data,
        update_service=form.update_service.data,
    )
    try:
        vetting.record_dbs(volunteer, check, current_user, london_today())
        audit("changed", "volunteer_dbs", volunteer_id)
        db.session.commit()
    except TransitionRefused as refusal:
        return _refused(volunteer, form, "dbs_form", refusal)
    return _saved(volunteer_id, "DBS check recorded", "dbs")


@bp.post("/volunteers/<int:volunteer_id>/training")
@roles_required(*HUB_STAFF)
def record_training(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    form = TrainingRecordForm(modules=_modules())
    if not form.validate_on_submit():
        return _volunteer_page(volunteer, 400, training_form=form)
    module = db.session.get(TrainingModule, form.module_id.data)
    try:
        record = vetting.record_training(
            volunteer,
            module,
            form.completed_on.data,
            current_user,
            london_today(),
            trainer=form.trainer.data,
            notes=form.notes.data,
        )
        db.session.add(record)
        db.session.flush()
        audit("created", "training_record", record.id)
        db.session.commit()
    except TransitionRefused as refusal:
        return _refused(volunteer, form, "training_form", refusal)
    return _saved(volunteer_id, f"{module.name} recorded", "training")


@bp.post("/volunteers/<int:volunteer_id>/invite")
@roles_required(*HUB_STAFF)
def resend_link(volunteer_id: int):
    """For an applicant whose set-password link ran out or went astray."""
    volunteer = _volunteer(volunteer_id)
    user = volunteer.user
    if user.password_hash is not None or not user.is_active:
        flash(f"{user.full_name} already has a password, or their account is closed", "error")
        return redirect(url_for(".volunteer", volunteer_id=volunteer_id))
    try:
        send_invitation(user, current_user)
    except MailError:
        flash("The email could not be sent. Try again later.", "error")
        return redirect(url_for(".volunteer", volunteer_id=volunteer_id))
    audit("user_invited", "user", user.id)
    db.session.commit()
    return _saved(volunteer_id, f"A new link has been emailed to {user.email}", "status-section")


# --- expiring checks and supervision --------------------------------------------------------


@bp.route("/volunteers/expiring")
@roles_required(*HUB_STAFF)
def expiring():
    record_list_view("volunteer_expiry", None)
    items = reminders.due_items(london_today())
    return render(
        "volunteers/expiring.html",
        items=items,
        thresholds=reminders.thresholds(),
    )


def _month_arg(name: str, default: date) -> date:
    text = request.args.get(name) or ""
    try:
        year, month = (int(p) for p in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return default


def _hours_range() -> tuple[date, date]:
    """From the first month up to, not including, the month after the last (at most 2 years)."""
    this_month = london_today().replace(day=1)
    first = _month_arg("from", this_month.replace(month=1))
    last = _month_arg("to", this_month)
    if last < first:
        first, last = last, first
    if (last.year - first.year) * 12 + last.month - first.month > 24:
        first = last.replace(year=last.year - 2)
    return first, oversight.next_month(last)


@bp.route("/volunteers/supervision")
@roles_required(*HUB_STAFF)
def supervision():
    record_list_view("volunteer_supervision", None)
    start, end = _hours_range()
    days = current_app.config["BUDDY_QUIET_DAYS"]
    return render(
        "volunteers/supervision.html",
        "volunteers/partials/_hours.html",
        quiet=oversight.quiet_buddies(days),
        quiet_days=days,
        hours=oversight.hours_by_month(start, end),
        start=start,
        last=end - timedelta(days=1),
    )


@bp.route("/volunteers/hours.csv")
@roles_required(*HUB_STAFF)
def hours_csv():
    start, end = _hours_range()
    audit("exported", "volunteer_hours", f"{start:%Y-%m}..{end:%Y-%m}")
    db.session.commit()
    response = make_response(oversight.hours_csv(oversight.hours_by_month(start, end)))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    last = end - timedelta(days=1)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="volunteer-hours-{start:%Y-%m}-to-{last:%Y-%m}.csv"'
    )
    return response


# --- training courses (admins) --------------------------------------------------------------


@bp.route("/admin/training")
@roles_required(Role.ADMIN)
def training_modules():
    modules = db.session.scalars(
        sa.select(TrainingModule).order_by(TrainingModule.is_active.desc(), TrainingModule.name)
    ).all()
    return render("volunteers/training_modules.html", modules=modules, roles=list(VolunteerRole))


def _module_form_page(form, module: TrainingModule | None, status_code: int = 200):
    return render(
        "volunteers/training_module_form.html", form=form, module=module, status_code=status_code
    )


def _apply_module(form: TrainingModuleForm, module: TrainingModule) -> None:
    chosen = set(form.required_for.data or [])
    module.name = form.name.data
    module.description = form.description.data
    module.valid_for_months = form.valid_for_months.data
    module.required_for_buddy = VolunteerRole.BUDDY.value in chosen
    module.required_for_navigator = VolunteerRole.NAVIGATOR.value in chosen
    module.required_for_befriender = VolunteerRole.BEFRIENDER.value in chosen
    module.is_active = form.is_active.data


def _name_taken(name: str, module_id: int | None) -> bool:
    query = sa.select(TrainingModule.id).where(sa.func.lower(TrainingModule.name) == name.lower())
    if module_id is not None:
        query = query.where(TrainingModule.id != module_id)
    return db.session.scalar(query) is not None


@bp.route("/admin/training/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_training_module():
    form = TrainingModuleForm()
    if form.validate_on_submit():
        if _name_taken(form.name.data, None):
            form.name.errors.append("There is already a course with this name")
            return _module_form_page(form, None, 400)
        module = TrainingModule()
        _apply_module(form, module)
        db.session.add(module)
        db.session.flush()
        audit("created", "training_module", module.id)
        db.session.commit()
        flash(f"{module.name} added", "success")
        return redirect(url_for(".training_modules"))
    return _module_form_page(form, None, 400 if form.is_submitted() else 200)


@bp.route("/admin/training/<int:module_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_training_module(module_id: int):
    module = db.session.get(TrainingModule, module_id) or abort(404)
    if request.method == "GET":
        # Not obj=module: the model's required_for() method would shadow the field's data.
        form = TrainingModuleForm(
            formdata=None,
            data={
                "name": module.name,
                "description": module.description,
                "valid_for_months": module.valid_for_months,
                "required_for": [r.value for r in VolunteerRole if module.required_for(r)],
                "is_active": module.is_active,
            },
        )
        return _module_form_page(form, module)
    form = TrainingModuleForm()
    if form.validate_on_submit():
        if _name_taken(form.name.data, module.id):
            form.name.errors.append("There is already a course with this name")
            return _module_form_page(form, module, 400)
        _apply_module(form, module)
        audit("changed", "training_module", module.id)
        db.session.commit()
        flash(f"{module.name} saved", "success")
        return redirect(url_for(".training_modules"))
    return _module_form_page(form, module, 400)
