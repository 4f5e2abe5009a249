"""From a case: refer the person to an activity, record a signpost, or withdraw a referral."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from portal.audit.service import audit, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.cases import work
from portal.db_types import london_today
from portal.directory import activity_referrals as referrals_to_activities
from portal.directory.forms import (
    WITHDRAWN,
    ReferToActivityForm,
    SignpostForm,
    WithdrawReferralForm,
)
from portal.directory.models import ActivityReferral
from portal.directory.search import listed
from portal.extensions import db
from portal.mail import MailError
from portal.matching import decisions
from portal.matching import pools as matching_pools
from portal.matching.models import MatchKind
from portal.referrals.models import Referral
from portal.referrals.workflow import TransitionRefused
from portal.web import render

bp = Blueprint("case_activities", __name__)
CASE_WORKERS = (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)


_open_case = work.case_or_404


def _listed_activity(activity_id: int):
    from portal.directory.models import Activity

    activity = db.session.scalar(listed().where(Activity.id == activity_id))
    if activity is None:
        abort(404)
    return activity


def _back(referral: Referral):
    return redirect(url_for("cases.case", referral_id=referral.id, _anchor="activities"))


@bp.route("/cases/<int:referral_id>/activities/<int:activity_id>/refer", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def refer(referral_id: int, activity_id: int):
    referral = _open_case(referral_id)
    activity = _listed_activity(activity_id)
    if referral.status not in work.CASE_STATUSES:
        flash("This case is not open, so nothing can be added to it.", "error")
        return _back(referral)
    if request.method == "GET":
        # The page shows the person's phone, email and age, ready to share.
        record_view("case", referral_id)
    form = ReferToActivityForm()
    refusal = referrals_to_activities.why_not_referable(activity)
    if refusal is None and form.validate_on_submit():
        shared = referrals_to_activities.SharedDetails(
            phone=form.share_phone.data,
            email=form.share_email.data,
            age=form.share_age.data,
            note=form.note.data,
        )
        ranking = matching_pools.suggest_activities(referral, london_today())
        try:
            link = referrals_to_activities.refer(
                referral, activity, current_user, shared, london_today()
            )
        except TransitionRefused as refused:
            db.session.rollback()
            form.form_errors = [refused.message]
        else:
            db.session.flush()
            decisions.record(
                ranking,
                MatchKind.ACTIVITY,
                referral.id,
                activity.id,
                current_user.id,
                from_suggestions=request.form.get("from_suggestions") == "1",
            )
            audit("created", "activity_referral", link.id)
            db.session.commit()
            try:
                referrals_to_activities.send_new_referral_email(link)
            except MailError:
                flash(
                    "The referral is saved, but the email telling the organisation did not "
                    "send. They will still see it when they log in.",
                    "error",
                )
            flash(
                f"Referred to {activity.title}. {activity.organisation.name} will answer by "
                f"{link.respond_by.strftime('%-d %B %Y')}.",
                "success",
            )
            return _back(referral)
    status = 400 if form.is_submitted() else 200
    return render(
        "directory/refer.html",
        referral=referral,
        person=referral.resident,
        activity=activity,
        form=form,
        refusal=refusal,
        suggested=request.values.get("suggested") == "1"
        or request.form.get("from_suggestions") == "1",
        status_code=status,
    )


@bp.post("/cases/<int:referral_id>/activities/<int:activity_id>/signpost")
@roles_required(*CASE_WORKERS)
def signpost(referral_id: int, activity_id: int):
    referral = _open_case(referral_id)
    activity = _listed_activity(activity_id)
    if not SignpostForm().validate_on_submit():
        abort(400)
    if referral.status not in work.CASE_STATUSES:
        flash("This case is not open, so nothing can be added to it.", "error")
        return _back(referral)
    try:
        link = referrals_to_activities.signpost(referral, activity, current_user)
    except TransitionRefused as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(referral)
    audit("created", "activity_referral", link.id)
    db.session.commit()
    flash(f"Recorded: {referral.resident.full_name} was signposted to {activity.title}.", "success")
    return _back(referral)


@bp.post("/cases/<int:referral_id>/activity-referrals/<int:link_id>/withdraw")
@roles_required(*CASE_WORKERS)
def withdraw(referral_id: int, link_id: int):
    referral = _open_case(referral_id)
    link = db.session.get(ActivityReferral, link_id)
    if link is None or link.referral_id != referral.id:
        abort(404)
    form = WithdrawReferralForm()
    if not form.validate_on_submit():
        errors = form.reason.errors or ["Say why the referral is being withdrawn"]
        flash(f"{errors[0]}.", "error")
        return _back(referral)
    try:
        referrals_to_activities.stop(link, current_user, f"{WITHDRAWN}{form.reason.data}")
    except TransitionRefused as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(referral)
    audit("changed", "activity_referral", link.id)
    db.session.commit()
    try:
        referrals_to_activities.send_withdrawn_email(link)
    except MailError:
        flash("The email telling the organisation did not send; they see it when they log in.")
    flash(f"The referral to {link.activity.title} is withdrawn.", "success")
    return _back(referral)
