"""Organisation members: their organisation, its activities, and the referrals sent to it.

Coordinators and admins use the same activity pages for any organisation. A member
asking for another organisation's activity or referral gets 404, as if it were not there.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.db_types import london_today
from portal.directory import activity_referrals as referrals_to_activities
from portal.directory import listings
from portal.directory.forms import (
    ActivityForm,
    ActivityStatusForm,
    AnswerForm,
    AttendanceForm,
    DeclineReferralForm,
    OrganisationProfileForm,
    StopReferralForm,
)
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Organisation,
)
from portal.extensions import db
from portal.form_fields import show_refusal
from portal.referrals.workflow import TransitionRefused
from portal.web import render

bp = Blueprint("directory", __name__)
MEMBER = Role.ORGANISATION_MEMBER
EDITORS = (Role.ORGANISATION_MEMBER, Role.COORDINATOR, Role.ADMIN)
CONFLICT = "Someone else changed this just now. Check it, then try again."


def _my_organisation() -> Organisation:
    organisation = db.session.get(Organisation, current_user.organisation_id)
    if organisation is None:
        abort(404)
    return organisation


@bp.route("/organisation")
@roles_required(MEMBER)
def my_organisation():
    """An organisation member's start page: their organisation and its activities only."""
    organisation = _my_organisation()
    activities = db.session.scalars(
        sa.select(Activity)
        .where(Activity.organisation_id == organisation.id)
        .order_by(Activity.status, Activity.title)
    ).all()
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ActivityReferral)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .where(
            Activity.organisation_id == organisation.id,
            ActivityReferral.status == ActivityReferralStatus.SENT,
        )
    )
    today = london_today()
    return render(
        "directory/my_organisation.html",
        organisation=organisation,
        activities=activities,
        waiting=waiting,
        stale={
            a.id
            for a in activities
            if a.status == ActivityStatus.PUBLISHED and listings.is_stale(a, today)
        },
        next_status=listings.NEXT_STATUS,
        action_labels=listings.ACTION_LABELS,
    )


@bp.route("/organisation/profile", methods=["GET", "POST"])
@roles_required(MEMBER)
def profile():
    from portal.directory.organisations import normalise_charity_number, normalise_company_number
    from portal.referrals.intake import normalise_postcode

    organisation = _my_organisation()
    form = OrganisationProfileForm(obj=None if request.method == "POST" else organisation)
    if request.method == "GET":
        form.web_address.data = organisation.website
        form.version.data = str(organisation.version)
    if form.validate_on_submit():
        if form.version.data and form.version.data != str(organisation.version):
            return _profile_conflict(form)
        organisation.name = form.name.data
        organisation.charity_number = normalise_charity_number(form.charity_number.data)
        organisation.company_number = normalise_company_number(form.company_number.data)
        organisation.description = form.description.data
        organisation.email = form.email.data.lower()
        organisation.phone = form.phone.data
        organisation.website = form.web_address.data
        organisation.address = form.address.data
        organisation.postcode = normalise_postcode(form.postcode.data)
        audit("changed", "organisation", organisation.id)
        try:
            db.session.commit()
        except StaleDataError:
            return _profile_conflict(form)
        flash("Your organisation's details are saved.", "success")
        return redirect(url_for(".my_organisation"))
    status = 400 if form.is_submitted() else 200
    return render(
        "directory/profile.html", form=form, organisation=organisation, status_code=status
    )


def _profile_conflict(form: OrganisationProfileForm):
    """Someone saved the details first: keep what this person typed and show what is saved."""
    db.session.rollback()
    organisation = _my_organisation()
    form.form_errors = [CONFLICT]
    form.version.data = str(organisation.version)
    return render(
        "directory/profile.html",
        form=form,
        organisation=organisation,
        saved=organisation,
        status_code=409,
    )


# --- activities -----------------------------------------------------------------------------


def _editable_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        abort(404)
    if current_user.role == MEMBER and activity.organisation_id != current_user.organisation_id:
        abort(404)
    return activity


def _back_to(organisation: Organisation):
    if current_user.role == MEMBER:
        return redirect(url_for(".my_organisation"))
    return redirect(url_for("directory_hub.organisation", organisation_id=organisation.id))


def _save_activity(form: ActivityForm, activity: Activity, organisation: Organisation):
    is_new = activity.id is None
    if is_new:
        activity.organisation = organisation
        db.session.add(activity)
    elif form.version.data != str(activity.version):
        form.form_errors = [CONFLICT]
        return None
    form.apply_to(activity)
    if not is_new:
        # Editing is checking: a saved listing is fresh again.
        listings.confirm(activity, london_today())
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        form.form_errors = [CONFLICT]
        return None
    audit("created" if is_new else "changed", "activity", activity.id)
    db.session.commit()
    flash(f"{activity.title} is saved{' as a draft' if is_new else ''}.", "success")
    return _back_to(organisation)


def _activity_form_page(form, organisation, activity=None, status_code=200):
    return render(
        "directory/activity_form.html",
        form=form,
        organisation=organisation,
        activity=activity,
        status_code=status_code,
    )


@bp.route("/organisation/activities/new", methods=["GET", "POST"])
@roles_required(MEMBER)
def new_activity():
    organisation = _my_organisation()
    return _new_activity_for(organisation)


def _new_activity_for(organisation: Organisation):
    form = ActivityForm()
    if form.validate_on_submit():
        done = _save_activity(form, Activity(status=ActivityStatus.DRAFT), organisation)
        if done is not None:
            return done
    status = 400 if form.is_submitted() else 200
    return _activity_form_page(form, organisation, status_code=status)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit_activity(activity_id: int):
    activity = _editable_activity(activity_id)
    form = ActivityForm()
    if request.method == "GET":
        form.fill_from(activity)
    elif form.validate_on_submit():
        done = _save_activity(form, activity, activity.organisation)
        if done is not None:
            return done
        return _activity_form_page(form, activity.organisation, activity, 409)
    status = 400 if form.is_submitted() else 200
    return _activity_form_page(form, activity.organisation, activity, status)


@bp.post("/activities/<int:activity_id>/status")
@roles_required(*EDITORS)
def change_activity_status(activity_id: int):
    activity = _editable_activity(activity_id)
    form = ActivityStatusForm()
    if not form.validate_on_submit() or form.status.data not in ActivityStatus._value2member_map_:
        abort(400)
    if form.version.data and form.version.data != str(activity.version):
        flash(CONFLICT, "error")
        return _back_to(activity.organisation)
    try:
        listings.change_status(activity, ActivityStatus(form.status.data), london_today())
        db.session.flush()
    except TransitionRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return _back_to(activity.organisation)
    audit("changed", "activity", activity.id)
    db.session.commit()
    flash(f"{activity.title} is now {activity.status.label.lower()}.", "success")
    return _back_to(activity.organisation)


@bp.post("/activities/<int:activity_id>/confirm")
@roles_required(*EDITORS)
def confirm_activity(activity_id: int):
    activity = _editable_activity(activity_id)
    if not AnswerForm().validate_on_submit():
        abort(400)
    listings.confirm(activity, london_today())
    audit("confirmed", "activity", activity.id)
    db.session.commit()
    flash(f"Thank you. {activity.title} is marked as checked today.", "success")
    return _back_to(activity.organisation)


# --- referrals sent to the organisation ------------------------------------------------------


@bp.route("/organisation/referrals")
@roles_required(MEMBER)
def incoming_referrals():
    organisation = _my_organisation()
    status = request.args.get("status")
    chosen = (
        ActivityReferralStatus(status)
        if status in ActivityReferralStatus._value2member_map_
        else None
    )
    links = referrals_to_activities.for_organisation(organisation.id, chosen)
    record_list_view("activity_referrals", organisation.id)
    return render(
        "directory/incoming.html",
        "directory/partials/_incoming.html",
        organisation=organisation,
        links=links,
        chosen=chosen,
        statuses=[
            s
            for s in ActivityReferralStatus
            if s not in (ActivityReferralStatus.SUGGESTED, ActivityReferralStatus.SIGNPOSTED)
        ],
        today=london_today(),
        is_overdue=referrals_to_activities.is_overdue,
    )


def _incoming(link_id: int) -> ActivityReferral:
    link = referrals_to_activities.one_for_organisation(current_user.organisation_id, link_id)
    if link is None:
        abort(404)
    return link


def _incoming_page(link: ActivityReferral, status_code: int = 200, **forms):
    return render(
        "directory/incoming_referral.html",
        link=link,
        today=london_today(),
        overdue=referrals_to_activities.is_overdue(link, london_today()),
        decline_form=forms.get("decline_form") or DeclineReferralForm(formdata=None),
        attendance_form=forms.get("attendance_form") or AttendanceForm(formdata=None),
        stop_form=forms.get("stop_form") or StopReferralForm(formdata=None),
        answer_form=forms.get("answer_form") or AnswerForm(formdata=None),
        status_code=status_code,
    )


@bp.route("/organisation/referrals/<int:link_id>")
@roles_required(MEMBER)
def incoming_referral(link_id: int):
    link = _incoming(link_id)
    record_view("activity_referral", link.id)
    return _incoming_page(link)


def _answer(link_id: int, form_class, form_name: str, action, done: str, anchor=None):
    """One answer to a referral: check the form, apply the rule, and say what happened.

    A refusal or a stale page keeps the form and its message on the referral's page.
    """
    link = _incoming(link_id)
    form = form_class()
    if not form.validate_on_submit():
        return _incoming_page(link, 400, **{form_name: form})
    if form.version.data and form.version.data != str(link.version):
        form.form_errors = [CONFLICT]
        return _incoming_page(link, 409, **{form_name: form})
    try:
        action(link, form)
        db.session.flush()
    except TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _incoming_page(_incoming(link_id), 400, **{form_name: form})
    except StaleDataError:
        db.session.rollback()
        form.form_errors = [CONFLICT]
        return _incoming_page(_incoming(link_id), 409, **{form_name: form})
    audit("changed", "activity_referral", link.id)
    db.session.commit()
    flash(done.format(name=link.person_name), "success")
    return redirect(url_for(".incoming_referral", link_id=link.id, _anchor=anchor))


@bp.post("/organisation/referrals/<int:link_id>/accept")
@roles_required(MEMBER)
def accept_referral(link_id: int):
    return _answer(
        link_id,
        AnswerForm,
        "answer_form",
        lambda link, form: referrals_to_activities.accept(link, current_user),
        "You accepted {name}. The navigator has been told.",
    )


@bp.post("/organisation/referrals/<int:link_id>/decline")
@roles_required(MEMBER)
def decline_referral(link_id: int):
    return _answer(
        link_id,
        DeclineReferralForm,
        "decline_form",
        lambda link, form: referrals_to_activities.decline(link, current_user, form.reason.data),
        "You declined the referral. The navigator has been told why.",
    )


@bp.post("/organisation/referrals/<int:link_id>/attendance")
@roles_required(MEMBER)
def record_attendance(link_id: int):
    return _answer(
        link_id,
        AttendanceForm,
        "attendance_form",
        lambda link, form: referrals_to_activities.record_attendance(
            link, current_user, form.session_on.data, form.attended.data == "yes", london_today()
        ),
        "Attendance saved.",
        anchor="attendance",
    )


@bp.post("/organisation/referrals/<int:link_id>/stop")
@roles_required(MEMBER)
def stop_referral(link_id: int):
    return _answer(
        link_id,
        StopReferralForm,
        "stop_form",
        lambda link, form: referrals_to_activities.stop(link, current_user, form.reason.data),
        "Saved: they no longer attend. The navigator has been told.",
    )
