"""A volunteer's own pages, phone-first: the people they buddy, contacts, hours, training."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.cases.models import Contact, ContactMethod, Goal, GoalStatus
from portal.db_types import london_today
from portal.extensions import db
from portal.form_fields import local_to_utc, show_refusal
from portal.referrals.intake import normalise_postcode
from portal.referrals.models import Referral
from portal.referrals.workflow import TransitionRefused
from portal.volunteers import buddying, time_given
from portal.volunteers.buddying import active_modules
from portal.volunteers.compliance import compliance, latest_records, required_modules
from portal.volunteers.forms import (
    BuddyContactForm,
    DeclineForm,
    HoursForm,
    ProfileForm,
    language_list,
)
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    HoursKind,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
)
from portal.volunteers.profile import describe_availability
from portal.volunteers.training import expiry_date
from portal.web import render

bp = Blueprint("volunteers", __name__)


def _me() -> Volunteer:
    volunteer = db.session.scalar(
        sa.select(Volunteer)
        .options(
            joinedload(Volunteer.user),
            selectinload(Volunteer.training_records).joinedload(TrainingRecord.module),
        )
        .where(Volunteer.user_id == current_user.id)
    )
    if volunteer is None:
        abort(404)
    return volunteer


def _training(volunteer: Volunteer, today: date, modules: list[TrainingModule]) -> list[dict]:
    """Every course the volunteer needs or has done: when done, until when, and what is due."""
    held = latest_records(volunteer.training_records)
    needed = {m.id for m in required_modules(modules, volunteer.roles)}
    rows = []
    for module in sorted(modules, key=lambda m: (m.id not in needed, m.name)):
        record = held.get(module.id)
        if record is None and module.id not in needed:
            continue
        expires = expiry_date(record.completed_on, module.valid_for_months) if record else None
        if record is None:
            state = "To do"
        elif expires is not None and expires < today:
            state = "Expired"
        elif expires is not None and (expires - today).days <= 60:
            state = "Due soon"
        else:
            state = "Done"
        rows.append(
            {
                "module": module,
                "record": record,
                "expires": expires,
                "needed": module.id in needed,
                "state": state,
            }
        )
    return rows


def _matches(volunteer: Volunteer, statuses) -> list[BuddyMatch]:
    return list(
        db.session.scalars(
            sa.select(BuddyMatch)
            .options(joinedload(BuddyMatch.referral).joinedload(Referral.resident))
            .where(BuddyMatch.volunteer_id == volunteer.id, BuddyMatch.status.in_(statuses))
            .order_by(BuddyMatch.proposed_at)
        )
    )


@bp.route("/volunteering")
@roles_required(Role.VOLUNTEER)
def me():
    """A volunteer's start page: what needs an answer, who they buddy, training, their time."""
    volunteer = _me()
    today = london_today()
    month, year = time_given.month_and_year(volunteer, today)
    # The page names the people this volunteer buddies, or is asked to.
    record_list_view("buddy_matches", volunteer.id)
    modules = active_modules()
    return render(
        "volunteers/me.html",
        volunteer=volunteer,
        proposals=_matches(volunteer, (BuddyMatchStatus.PROPOSED,)),
        buddies=_matches(volunteer, (BuddyMatchStatus.ACTIVE,)),
        training=_training(volunteer, today, modules),
        check=compliance(volunteer, modules, today),
        availability=describe_availability(volunteer.availability or []),
        month=month,
        year=year,
        today=today,
    )


# --- profile ---------------------------------------------------------------------------------


@bp.route("/volunteering/profile", methods=["GET", "POST"])
@roles_required(Role.VOLUNTEER)
def profile():
    volunteer = _me()
    if request.method == "GET":
        form = ProfileForm(
            data={
                "phone": volunteer.user.phone,
                "postcode": volunteer.postcode,
                "languages": ", ".join(volunteer.languages or []),
                "interests": volunteer.interests or [],
                "availability": volunteer.availability or [],
                "transport": volunteer.transport,
            }
        )
        return render("volunteers/profile.html", form=form, volunteer=volunteer)
    form = ProfileForm()
    if not form.validate_on_submit():
        return render("volunteers/profile.html", form=form, volunteer=volunteer, status_code=400)
    volunteer.user.phone = form.phone.data
    volunteer.postcode = normalise_postcode(form.postcode.data)
    volunteer.languages = language_list(form.languages.data)
    volunteer.interests = list(form.interests.data or [])
    volunteer.availability = list(form.availability.data)
    volunteer.transport = form.transport.data
    try:
        audit("changed", "volunteer", volunteer.id)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append("Your details were changed somewhere else just now. Try again.")
        return render("volunteers/profile.html", form=form, volunteer=_me(), status_code=409)
    flash("Your details are saved", "success")
    return redirect(url_for(".me"))


# --- the people I buddy ----------------------------------------------------------------------


def _my_match(match_id: int, statuses=(BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE)):
    """This volunteer's current match, or 404: nobody else's resident is ever confirmed."""
    volunteer = _me()
    match = db.session.scalar(
        sa.select(BuddyMatch)
        .options(joinedload(BuddyMatch.referral).joinedload(Referral.resident))
        .where(
            BuddyMatch.id == match_id,
            BuddyMatch.volunteer_id == volunteer.id,
            BuddyMatch.status.in_(statuses),
        )
    )
    if match is None:
        abort(404)
    return volunteer, match


def _buddy_page(match_id: int, status_code: int = 200, found=None, **given):
    """`found`: the volunteer and match, when the caller has just read them."""
    volunteer, match = found or _my_match(match_id)
    goals = db.session.scalars(
        sa.select(Goal)
        .where(Goal.referral_id == match.referral_id, Goal.status == GoalStatus.OPEN)
        .order_by(Goal.set_on, Goal.id)
    ).all()
    contacts = db.session.scalars(
        sa.select(Contact)
        .where(Contact.referral_id == match.referral_id, Contact.author_id == volunteer.user_id)
        .order_by(Contact.occurred_at.desc())
        .limit(20)
    ).all()
    return render(
        "volunteers/buddy.html",
        status_code=status_code,
        volunteer=volunteer,
        match=match,
        person=match.referral.resident,
        navigator=match.referral.navigator,
        goals=goals,
        contacts=contacts,
        contact_form=given.get("contact_form") or BuddyContactForm(formdata=None),
        decline_form=given.get("decline_form") or DeclineForm(formdata=None),
    )


@bp.route("/volunteering/buddies/<int:match_id>")
@roles_required(Role.VOLUNTEER)
def buddy(match_id: int):
    found = _my_match(match_id)
    record_view("buddy_match", match_id)
    return _buddy_page(match_id, found=found)


@bp.post("/volunteering/buddies/<int:match_id>/accept")
@roles_required(Role.VOLUNTEER)
def accept(match_id: int):
    volunteer, match = _my_match(match_id, (BuddyMatchStatus.PROPOSED,))
    try:
        buddying.accept(match, volunteer, london_today())
        audit("changed", "buddy_match", match_id)
        db.session.commit()
    except TransitionRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".me"))
    except StaleDataError:
        db.session.rollback()
        flash("This proposal changed just now. Please look again.", "error")
        return redirect(url_for(".me"))
    flash(f"Thank you. You are now {match.referral.resident.given_name}'s buddy.", "success")
    return redirect(url_for(".buddy", match_id=match_id))


@bp.post("/volunteering/buddies/<int:match_id>/decline")
@roles_required(Role.VOLUNTEER)
def decline(match_id: int):
    volunteer, match = _my_match(match_id, (BuddyMatchStatus.PROPOSED,))
    form = DeclineForm()
    if not form.validate_on_submit():
        return _buddy_page(match_id, 400, decline_form=form)
    try:
        buddying.decline(match, volunteer, form.reason.data)
        audit("changed", "buddy_match", match_id)
        db.session.commit()
    except (TransitionRefused, StaleDataError):
        db.session.rollback()
        flash("This proposal changed just now. Please look again.", "error")
        return redirect(url_for(".me"))
    flash("Thank you for letting us know. The navigator has been told.", "success")
    return redirect(url_for(".me"))


@bp.post("/volunteering/buddies/<int:match_id>/contacts")
@roles_required(Role.VOLUNTEER)
def log_contact(match_id: int):
    volunteer, match = _my_match(match_id, (BuddyMatchStatus.ACTIVE,))
    form = BuddyContactForm()
    if not form.validate_on_submit():
        return _buddy_page(match_id, 400, contact_form=form)
    details = time_given.BuddyContact(
        occurred_at=local_to_utc(form.occurred_at.data),
        method=ContactMethod(form.method.data),
        duration_minutes=form.duration_minutes.data,
        notes=form.notes.data,
        concern=form.concern_note.data if form.concern.data else None,
        next_meeting_at=(
            local_to_utc(form.next_meeting_at.data) if form.next_meeting_at.data else None
        ),
    )
    try:
        contact = time_given.log_buddy_contact(match, volunteer, details)
        db.session.flush()
        audit("created", "contact", contact.id)
        db.session.commit()
    except TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _buddy_page(match_id, 400, contact_form=form)
    message = "Contact saved"
    if details.concern:
        message += ". The navigator and the hub coordinators have been told about your concern"
    flash(message, "success")
    return redirect(url_for(".buddy", match_id=match_id, _anchor="contacts"))


# --- hours -----------------------------------------------------------------------------------


def _hours_page(volunteer: Volunteer, form: HoursForm, status_code: int = 200):
    today = london_today()
    entries = db.session.scalars(
        sa.select(VolunteerHours)
        .where(VolunteerHours.volunteer_id == volunteer.id)
        .order_by(VolunteerHours.worked_on.desc(), VolunteerHours.id.desc())
        .limit(30)
    ).all()
    month, year = time_given.month_and_year(volunteer, today)
    return render(
        "volunteers/hours.html",
        form=form,
        entries=entries,
        month=month,
        year=year,
        today=today,
        status_code=status_code,
    )


@bp.route("/volunteering/hours", methods=["GET", "POST"])
@roles_required(Role.VOLUNTEER)
def hours():
    volunteer = _me()
    if request.method == "GET":
        return _hours_page(volunteer, HoursForm(formdata=None, data={"worked_on": london_today()}))
    form = HoursForm()
    if not form.validate_on_submit():
        return _hours_page(volunteer, form, 400)
    try:
        entry = time_given.log_hours(
            volunteer,
            form.worked_on.data,
            HoursKind(form.kind.data),
            form.total_minutes(),
            form.notes.data,
            london_today(),
        )
        db.session.flush()
        audit("created", "volunteer_hours", entry.id)
        db.session.commit()
    except TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _hours_page(_me(), form, 400)
    flash("Hours saved. Thank you for your time.", "success")
    return redirect(url_for(".hours"))
