"""Caseloads and the case page: contacts, goals, wellbeing measures, closing and reopening."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from portal import searches
from portal.alerts import service as alerts
from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role, User
from portal.auth.permissions import roles_required
from portal.cases import buddy_panel, work
from portal.cases import caseload as caseloads
from portal.cases.forms import (
    CloseCaseForm,
    ContactForm,
    GoalForm,
    GoalStatusForm,
    ReassignForm,
    ReopenForm,
    WithdrawConsentForm,
    measure_form,
)
from portal.cases.models import Contact, ContactMethod, ContactResult, Goal, GoalStatus
from portal.cases.records import goals_of, read_case_records
from portal.cases.timeline import case_timeline
from portal.db_types import london_today, utcnow
from portal.directory import activity_referrals
from portal.directory.models import OPEN_ACTIVITY_REFERRAL
from portal.directory.search import ACCESS_FEATURES
from portal.extensions import db
from portal.form_fields import local_to_utc, show_refusal, utc_to_local_input
from portal.mail import MailError
from portal.matching import decisions
from portal.matching import pools as matching_pools
from portal.matching.models import MatchKind
from portal.measures.models import Scale, Stage
from portal.measures.scales import AnswersRefused
from portal.paging import paginate
from portal.referrals import consent, workflow
from portal.referrals.models import ClosureReason, Referral
from portal.referrals.queue import navigators_with_caseload
from portal.reports.queue import latest_for
from portal.volunteers import buddying
from portal.volunteers.forms import EndMatchForm, ProposeBuddyForm
from portal.volunteers.models import BuddyMatch
from portal.volunteers.profile import describe_availability
from portal.web import render, wants_partial

bp = Blueprint("cases", __name__)

CASE_WORKERS = (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)
HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)


def _is_hub_staff() -> bool:
    return current_user.role in HUB_STAFF


# --- caseloads ------------------------------------------------------------------------------


@bp.route("/caseload", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def caseload():
    """A navigator's own open cases; coordinators see everyone's, or one navigator's.
    The filter form is posted, so a name searched for never goes into the address."""
    if request.method == "POST":
        filters = caseloads.CaseloadFilters.from_args(request.form)
        return searches.show_results("cases.caseload", filters.as_args())
    filters = caseloads.CaseloadFilters.from_args(searches.from_address(request.args))
    navigator_id = filters.navigator if _is_hub_staff() else current_user.id
    # The view is recorded before anything is read: a list that cannot be recorded is not shown.
    record_list_view("caseload", navigator_id if navigator_id is not None else "all")
    navigators = navigators_with_caseload(work.CASE_STATUSES) if _is_hub_staff() else []
    days = work.overdue_days()
    page = paginate(
        caseloads.caseload_query(filters, navigator_id, current_user.id, days),
        request.args.get("page"),
        caseloads.PAGE_SIZE,
        total=caseloads.caseload_total(filters, navigator_id, days),
    )
    viewed = None
    if navigator_id is not None:
        viewed = (
            current_user if navigator_id == current_user.id else db.session.get(User, navigator_id)
        )
    return render(
        "cases/caseload.html",
        "cases/partials/_caseload_table.html",
        page=page,
        rows=caseloads.case_rows(page.items, days),
        filters=filters,
        counts=caseloads.status_counts(navigator_id),
        overdue_total=caseloads.overdue_count(navigator_id, days),
        overdue_days=days,
        sorts=caseloads.SORTS,
        statuses=caseloads.CASE_STATUSES,
        navigators=navigators,
        viewed=viewed,
        hub_view=_is_hub_staff(),
    )


# --- the case page --------------------------------------------------------------------------


_case = work.case_or_404


def _case_context(referral: Referral, **given) -> dict:
    contact_form = given.pop("contact_form", None) or ContactForm(formdata=None)
    goal_form = given.pop("goal_form", None) or GoalForm(formdata=None)
    records = read_case_records(referral.id)
    last_contact_at = records.last_spoken_at
    return {
        "referral": referral,
        "person": referral.resident,
        "contacts": records.contacts,
        "goals": records.goals,
        "progress": work.progress(records.responses),
        "timeline": case_timeline(referral, records),
        "alerts": alerts.unread_for_case(current_user.id, referral.id),
        "queued": latest_for(referral.id) if not referral.is_open else None,
        "contact_form": contact_form,
        "goal_form": goal_form,
        "can_log": referral.status in work.CASE_STATUSES,
        "editable": lambda c: referral.is_open and work.editable_by(c, current_user),
        "overdue_days": work.overdue_days(),
        "last_contact_at": last_contact_at,
        "overdue": referral.is_open and work.is_overdue(last_contact_at, referral.assigned_at),
        "hub_view": _is_hub_staff(),
        "show_nhs_number": not current_user.is_volunteer_navigator,
        "reassign_form": given.pop("reassign_form", None)
        or (
            ReassignForm(formdata=None, navigators=navigators_with_caseload(work.CASE_STATUSES))
            if _is_hub_staff()
            else None
        ),
        "reopen_form": given.pop("reopen_form", None) or ReopenForm(formdata=None),
        "buddy_matches": records.buddy_matches,
        "activity_links": records.activity_links,
        "end_match_form": given.pop("end_match_form", None) or EndMatchForm(formdata=None),
        "end_match_id": given.pop("end_match_id", None),
        "now": utcnow(),
        "describe_availability": describe_availability,
        "access_labels": lambda keys: [ACCESS_FEATURES[k] for k in keys if k in ACCESS_FEATURES],
        **given,
    }


def _case_page(referral: Referral, status_code: int = 200, partial: str | None = None, **given):
    return render(
        "cases/case.html",
        partial,
        status_code=status_code,
        **_case_context(referral, **given),
    )


@bp.route("/cases/<int:referral_id>")
@roles_required(*CASE_WORKERS)
def case(referral_id: int):
    work.case_access_or_404(referral_id)  # 404 before anything is written
    record_view("case", referral_id)
    return _case_page(_case(referral_id))


@bp.post("/cases/<int:referral_id>/alerts/read")
@roles_required(*CASE_WORKERS)
def read_alerts(referral_id: int):
    _case(referral_id)
    alerts.mark_read(current_user.id, referral_id=referral_id)
    db.session.commit()
    return redirect(url_for(".case", referral_id=referral_id))


def _done(referral_id: int, message: str, anchor: str, saved: str | None = None):
    """After a save without htmx: back to the case, naming the draft that is now safe."""
    flash(message, "success")
    return redirect(url_for(".case", referral_id=referral_id, saved=saved, _anchor=anchor))


# --- contacts -------------------------------------------------------------------------------


def _details(form: ContactForm) -> work.ContactDetails:
    return work.ContactDetails(
        occurred_at=local_to_utc(form.occurred_at.data),
        method=ContactMethod(form.method.data),
        result=ContactResult(form.result.data),
        duration_minutes=form.duration_minutes.data,
        notes=form.notes.data,
        concern_raised=bool(form.concern_raised.data),
        safeguarding_note=form.safeguarding_note.data,
    )


def _contact_section(referral_id: int, status_code: int, **given):
    """The contacts section alone (htmx), or the whole case page, with the given form state."""
    referral = _case(referral_id)
    return _case_page(referral, status_code, "cases/partials/_contacts_swap.html", **given)


@bp.post("/cases/<int:referral_id>/contacts")
@roles_required(*CASE_WORKERS)
def log_contact(referral_id: int):
    referral = _case(referral_id)
    form = ContactForm()
    if not form.validate():
        return _contact_section(referral_id, 400, contact_form=form)
    try:
        contact = work.log_contact(
            referral,
            workflow.Actor.of(current_user),
            _details(form),
            next_contact_on=form.next_contact_on.data,
        )
        workflow.stamp_versions(referral)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _contact_section(referral_id, 400, contact_form=form)
    except StaleDataError:
        db.session.rollback()
        form.form_errors = ["Someone else changed this case just now. Check it, then save again."]
        return _contact_section(referral_id, 409, contact_form=form)
    audit("created", "contact", contact.id)
    db.session.commit()
    message = "Contact logged" + (
        ". The coordinators have been alerted to your concern." if contact.concern_raised else ""
    )
    if wants_partial():
        return _contact_section(
            referral_id, 200, saved_message=message, saved_draft=f"contact-{referral_id}"
        )
    return _done(referral_id, message, "contacts", saved=f"contact-{referral_id}")


def _own_contact(referral_id: int, contact_id: int) -> tuple[Referral, Contact]:
    referral = _case(referral_id)
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.referral_id != referral.id:
        abort(404)
    return referral, contact


@bp.route("/cases/<int:referral_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def edit_contact(referral_id: int, contact_id: int):
    referral, contact = _own_contact(referral_id, contact_id)
    if contact.author_id != current_user.id:
        abort(403)
    if request.method == "GET" and not (
        referral.is_open and work.editable_by(contact, current_user)
    ):
        hours = current_app.config["CONTACT_EDIT_HOURS"]
        flash(
            f"This contact can no longer be corrected: that is possible for {hours} hours "
            "after it was logged, while the case is open. Log a new contact to add to it.",
            "info",
        )
        return redirect(url_for(".case", referral_id=referral_id, _anchor="contacts"))
    if request.method == "GET":
        record_view("contact", contact_id)
        form = ContactForm(formdata=None, obj=contact)
        form.occurred_at.data = _local(contact.occurred_at)
        form.version.data = str(contact.version)
        return _edit_page(referral, contact, form)
    form = ContactForm()
    if not form.validate():
        return _edit_page(referral, contact, form, 400)
    try:
        changes = work.edit_contact(
            contact, workflow.Actor.of(current_user), _details(form), form.version_number()
        )
        workflow.stamp_versions(referral)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        referral, contact = _own_contact(referral_id, contact_id)
        show_refusal(form, refusal)
        if refusal.field == "version":
            form.version.data = str(contact.version)
            return _edit_page(referral, contact, form, 409)
        return _edit_page(referral, contact, form, 400)
    except StaleDataError:
        db.session.rollback()
        referral, contact = _own_contact(referral_id, contact_id)
        form.form_errors = [
            "This contact was changed since you opened it. Check it, then make your change again."
        ]
        form.version.data = str(contact.version)
        return _edit_page(referral, contact, form, 409)
    audit("changed", "contact", contact.id)
    db.session.commit()
    message = "Contact corrected" if changes else "Nothing was changed"
    if wants_partial():
        return _contact_section(referral_id, 200, saved_message=message)
    return _done(referral_id, message, "contacts", saved=f"contact-edit-{contact_id}")


def _local(value):
    return datetime.strptime(utc_to_local_input(value), "%Y-%m-%dT%H:%M")


def _edit_page(referral: Referral, contact: Contact, form: ContactForm, status_code: int = 200):
    return render(
        "cases/edit_contact.html",
        "cases/partials/_edit_contact.html",
        status_code=status_code,
        referral=referral,
        contact=contact,
        form=form,
        hours=current_app.config["CONTACT_EDIT_HOURS"],
    )


# --- goals ----------------------------------------------------------------------------------


@bp.post("/cases/<int:referral_id>/goals")
@roles_required(*CASE_WORKERS)
def add_goal(referral_id: int):
    referral = _case(referral_id)
    form = GoalForm()
    if not form.validate():
        return _goal_section(referral_id, 400, goal_form=form)
    try:
        goal = work.add_goal(referral, workflow.Actor.of(current_user), form.description.data)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _goal_section(referral_id, 400, goal_form=form)
    db.session.flush()
    audit("created", "goal", goal.id)
    db.session.commit()
    if wants_partial():
        return _goal_section(
            referral_id, 200, goal_message="Goal added", saved_draft=f"goal-{referral_id}"
        )
    return _done(referral_id, "Goal added", "goals", saved=f"goal-{referral_id}")


def _goal_section(referral_id: int, status_code: int, **given):
    referral = _case(referral_id)
    return _case_page(referral, status_code, "cases/partials/_goals_swap.html", **given)


@bp.post("/cases/<int:referral_id>/goals/<int:goal_id>")
@roles_required(*CASE_WORKERS)
def change_goal(referral_id: int, goal_id: int):
    referral = _case(referral_id)
    goal = db.session.get(Goal, goal_id)
    if goal is None or goal.referral_id != referral.id:
        abort(404)
    form = GoalStatusForm()
    problem = None
    if not form.validate():
        problem = next(iter(form.errors.values()))[0]
    elif form.version_number() != goal.version:
        problem = "This goal was changed by someone else just now. Check it and try again."
    else:
        try:
            work.change_goal(
                goal, workflow.Actor.of(current_user), GoalStatus(form.status.data), form.on.data
            )
            workflow.stamp_versions(referral)
        except workflow.TransitionRefused as refusal:
            db.session.rollback()
            problem = refusal.message
        except StaleDataError:
            db.session.rollback()
            problem = "This goal was changed by someone else just now. Check it and try again."
    if problem:
        if wants_partial():
            return _goal_section(referral_id, 400, goal_problem=(goal_id, problem))
        referral = _case(referral_id)
        return _case_page(referral, 400, goal_problem=(goal_id, problem))
    audit("changed", "goal", goal_id)
    db.session.commit()
    message = f"Goal marked {GoalStatus(form.status.data).label.lower()}"
    if wants_partial():
        return _goal_section(referral_id, 200, goal_message=message)
    return _done(referral_id, message, "goals")


# --- wellbeing measures ---------------------------------------------------------------------


def _scale(value: str) -> Scale:
    try:
        return Scale(value)
    except ValueError:
        abort(404)


@bp.route("/cases/<int:referral_id>/measures/<scale>", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def record_measure(referral_id: int, scale: str):
    referral = _case(referral_id)
    chosen = _scale(scale)
    if request.method == "GET":
        record_view("case", referral_id)
        stage = request.args.get("stage")
        form = measure_form(chosen, stage=stage if stage in {s.value for s in Stage} else None)
        return _measure_page(referral, form)
    form = measure_form(chosen, formdata=request.form)
    if not form.validate():
        return _measure_page(referral, form, 400)
    answers = [field.data for field in form.item_fields]
    try:
        response = work.record_measure(
            referral,
            workflow.Actor.of(current_user),
            chosen,
            Stage(form.stage.data),
            answers=answers,
            declined=bool(form.declined.data),
        )
    except AnswersRefused as refused:
        db.session.rollback()
        for index, message in refused.errors.items():
            if index < len(form.item_fields):
                form.item_fields[index].errors = [message]
            else:
                form.form_errors = [message]
        return _measure_page(_case(referral_id), form, 400)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _measure_page(_case(referral_id), form, 400)
    db.session.flush()
    audit("created", "measure", response.id)
    db.session.commit()
    what = "declined" if response.declined else "recorded"
    return _done(referral_id, f"{chosen.label} ({response.stage.label.lower()}) {what}", "measures")


def _measure_page(referral: Referral, form, status_code: int = 200):
    return render("cases/measure.html", status_code=status_code, referral=referral, form=form)


# --- closing and reopening ------------------------------------------------------------------


@bp.route("/cases/<int:referral_id>/close", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def close(referral_id: int):
    referral = _case(referral_id)
    if request.method == "GET":
        record_view("case", referral_id)
        form = CloseCaseForm(formdata=None)
        form.version.data = str(referral.version)
        return _close_page(referral, form)
    form = CloseCaseForm()
    if not form.validate():
        return _close_page(referral, form, 400)
    if form.version_number() != referral.version:
        form.form_errors = [
            "Someone else changed this case while you were closing it. "
            "Check the case history, then close it again."
        ]
        form.version.data = str(referral.version)
        return _close_page(referral, form, 409)
    try:
        work.close_case(
            referral,
            workflow.Actor.of(current_user),
            ClosureReason(form.reason.data),
            form.summary.data,
            closing_measures_declined=bool(form.closing_measures_declined.data),
        )
        workflow.stamp_versions(referral)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _close_page(_case(referral_id), form, 400)
    except StaleDataError:
        db.session.rollback()
        form.form_errors = ["Someone else changed this case just now. Check it, then try again."]
        return _close_page(_case(referral_id), form, 409)
    audit("changed", "case", referral_id)
    db.session.commit()
    queued = latest_for(referral_id)
    message = f"Case closed: {ClosureReason(form.reason.data).label}." + (
        f" The outcome will go to {queued.practice.name} in their next report"
        + (", and a notice goes to them now." if queued.practice.notify_on_close else ".")
        if queued
        else " No GP practice is known, so no outcome report will be sent."
    )
    flash(message, "success")
    saved = f"close-{referral_id}"
    if current_user.role == Role.NAVIGATOR:
        return redirect(url_for(".caseload", saved=saved))
    return redirect(url_for(".case", referral_id=referral_id, saved=saved))


@bp.route("/cases/<int:referral_id>/consent/withdraw", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def withdraw_consent(referral_id: int):
    """The person has said the hub may no longer share their details: stop it all now."""
    referral = _case(referral_id)
    if referral.consent_withdrawn:
        flash("Consent was already withdrawn for this person.", "info")
        return redirect(url_for(".case", referral_id=referral_id))
    form = WithdrawConsentForm()
    if form.validate_on_submit():
        try:
            done = consent.withdraw(referral, current_user, form.note.data)
        except workflow.TransitionRefused as refusal:
            db.session.rollback()
            form.form_errors = [refusal.message]
            return _withdraw_page(_case(referral_id), form, 400)
        audit("consent_withdrawn", "case", referral_id)
        db.session.commit()
        unsent = 0
        for link in done.stopped_activity_referrals:
            try:
                activity_referrals.send_withdrawn_email(link)
            except MailError:
                unsent += 1
        message = "Consent withdrawn. Nothing more about this person will be shared."
        if done.stopped_activity_referrals:
            count = len(done.stopped_activity_referrals)
            message += f" {count} activity {'referral' if count == 1 else 'referrals'} withdrawn."
        if unsent:
            message += " Some organisations were not emailed; they see it when they log in."
        flash(message, "success")
        return redirect(url_for(".case", referral_id=referral_id))
    return _withdraw_page(referral, form, 400 if form.is_submitted() else 200)


def _withdraw_page(referral: Referral, form: WithdrawConsentForm, status_code: int = 200):
    return render(
        "cases/withdraw_consent.html",
        status_code=status_code,
        referral=referral,
        form=form,
        open_activity_referrals=[
            link
            for link in activity_referrals.for_case(referral.id)
            if link.status in OPEN_ACTIVITY_REFERRAL
        ],
    )


def _close_page(referral: Referral, form: CloseCaseForm, status_code: int = 200):
    progress = work.progress(work.responses(referral.id))
    reopened = work.last_reopened_at(referral)
    closing_done = {
        p.scale: any(
            r.stage == Stage.CLOSING and (reopened is None or r.recorded_at > reopened)
            for r in (*p.recorded, *p.declined)
        )
        for p in progress
    }
    return render(
        "cases/close.html",
        status_code=status_code,
        referral=referral,
        form=form,
        progress=progress,
        closing_done=closing_done,
        no_measures_outcomes=[r.value for r in work.NO_CLOSING_MEASURES],
    )


@bp.post("/cases/<int:referral_id>/reopen")
@roles_required(*HUB_STAFF)
def reopen(referral_id: int):
    referral = _case(referral_id)
    form = ReopenForm()
    if not form.validate():
        return _case_page(referral, 400, reopen_form=form)
    try:
        workflow.reopen(referral, workflow.Actor.of(current_user), form.reason.data)
        workflow.stamp_versions(referral)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _case_page(_case(referral_id), 400, reopen_form=form)
    audit("changed", "case", referral_id)
    db.session.commit()
    return _done(referral_id, "Case reopened. The navigator has been told.", "top")


@bp.post("/cases/<int:referral_id>/reassign")
@roles_required(*HUB_STAFF)
def reassign(referral_id: int):
    referral = _case(referral_id)
    form = ReassignForm(navigators=navigators_with_caseload(work.CASE_STATUSES))
    if not form.validate():
        return _case_page(referral, 400, reassign_form=form)
    if form.version_number() != referral.version:
        form.form_errors = ["Someone else changed this case just now. Check it, then try again."]
        form.version.data = str(referral.version)
        return _case_page(referral, 409, reassign_form=form)
    navigator = db.session.get(User, form.navigator_id.data)
    ranking = matching_pools.suggest_navigators(referral, london_today())
    try:
        workflow.assign(referral, workflow.Actor.of(current_user), navigator)
        workflow.stamp_versions(referral)
        decisions.record(
            ranking,
            MatchKind.NAVIGATOR,
            referral_id,
            navigator.id,
            current_user.id,
            from_suggestions=request.form.get("from_suggestions") == "1",
        )
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        show_refusal(form, refusal)
        return _case_page(_case(referral_id), 400, reassign_form=form)
    except StaleDataError:
        db.session.rollback()
        form.form_errors = ["Someone else changed this case just now. Check it, then try again."]
        return _case_page(_case(referral_id), 409, reassign_form=form)
    audit("changed", "case", referral_id)
    db.session.commit()
    return _done(referral_id, f"Case given to {navigator.full_name}. They have been told.", "top")


# --- the person's own plan ------------------------------------------------------------------


def _plan_context(referral: Referral) -> dict:
    from portal.directory.models import ActivityReferral, ActivityReferralStatus
    from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, Volunteer

    activities = list(
        db.session.scalars(
            sa.select(ActivityReferral)
            .options(joinedload(ActivityReferral.activity))
            .where(
                ActivityReferral.referral_id == referral.id,
                ActivityReferral.status.not_in(
                    [ActivityReferralStatus.DECLINED, ActivityReferralStatus.STOPPED]
                ),
            )
        )
    )
    buddies = list(
        db.session.scalars(
            sa.select(BuddyMatch)
            .options(joinedload(BuddyMatch.volunteer).joinedload(Volunteer.user))
            .where(
                BuddyMatch.referral_id == referral.id,
                BuddyMatch.status == BuddyMatchStatus.ACTIVE,
            )
        )
    )
    return {
        "referral": referral,
        "person": referral.resident,
        "goals": [g for g in goals_of(referral.id) if g.status != GoalStatus.DROPPED],
        "activities": activities,
        "buddies": buddies,
        "hub_name": current_app.config["HUB_NAME"],
        "hub_phone": current_app.config["HUB_PHONE"],
        "today": utcnow().date(),
    }


@bp.route("/cases/<int:referral_id>/plan")
@roles_required(*CASE_WORKERS)
def plan(referral_id: int):
    work.case_access_or_404(referral_id)  # 404 before anything is written
    record_view("plan", referral_id)
    return render("cases/plan.html", **_plan_context(_case(referral_id)))


@bp.route("/cases/<int:referral_id>/plan.pdf")
@roles_required(*CASE_WORKERS)
def plan_pdf(referral_id: int):
    from flask import make_response, render_template
    from weasyprint import HTML

    referral = _case(referral_id)
    audit("exported", "plan", referral_id)
    db.session.commit()
    html = render_template("cases/plan_pdf.html", **_plan_context(_case(referral_id)))
    # No base URL: the letter carries its own styles and fetches nothing.
    pdf = HTML(string=html).write_pdf()
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="my-plan-{referral.reference}.pdf"'
    )
    return response


# --- buddies ---------------------------------------------------------------------------------


def _propose_page(referral: Referral, form: ProposeBuddyForm | None = None, status_code=200):
    candidates = buddy_panel.candidates(london_today())
    eligible = [c for c in candidates if not c.reasons]
    if form is None:
        form = ProposeBuddyForm(formdata=None, volunteers=[(c.volunteer, "") for c in eligible])
    return render(
        "cases/propose_buddy.html",
        status_code=status_code,
        referral=referral,
        person=referral.resident,
        form=form,
        eligible=eligible,
        not_eligible=[c for c in candidates if c.reasons],
    )


@bp.route("/cases/<int:referral_id>/buddies/new", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def propose_buddy(referral_id: int):
    referral = _case(referral_id)
    if request.method == "GET":
        record_view("case", referral_id)
        return _propose_page(referral)
    volunteer = buddy_panel.candidate(request.form.get("volunteer_id"))
    form = ProposeBuddyForm(volunteers=[(volunteer, "")] if volunteer else [])
    if not form.validate_on_submit() or volunteer is None:
        form.volunteer_id.errors = ["Choose a volunteer from the list"]
        return _propose_page(referral, form, 400)
    # Taken before the proposal changes anyone's load: the ranking the proposer could see.
    ranking = matching_pools.suggest_buddies(referral, london_today())
    try:
        buddying.propose(referral, volunteer, current_user, london_today())
        db.session.flush()
        decisions.record(
            ranking,
            MatchKind.BUDDY,
            referral_id,
            volunteer.id,
            current_user.id,
            from_suggestions=request.form.get("from_suggestions") == "1",
        )
        audit("created", "buddy_match", referral_id)
        db.session.commit()
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        form.volunteer_id.errors = [refusal.message]
        return _propose_page(_case(referral_id), form, 400)
    told = buddying.tell_volunteer_of_proposal(volunteer)
    flash(
        f"{volunteer.user.full_name} has been asked."
        + (
            " They have been emailed and will answer in the portal."
            if told
            else " The email could not be sent: they will see it when they next log in."
        ),
        "success",
    )
    return redirect(url_for(".case", referral_id=referral_id, _anchor="buddies"))


@bp.post("/cases/<int:referral_id>/buddies/<int:match_id>/end")
@roles_required(*CASE_WORKERS)
def end_buddy(referral_id: int, match_id: int):
    referral = _case(referral_id)
    match = db.session.get(BuddyMatch, match_id)
    if match is None or match.referral_id != referral.id:
        abort(404)
    form = EndMatchForm()
    if not form.validate_on_submit():
        return _case_page(referral, 400, end_match_form=form, end_match_id=match_id)
    try:
        buddying.end(match, current_user, form.reason.data)
        audit("changed", "buddy_match", match_id)
        db.session.commit()
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        form.reason.errors = [refusal.message]
        return _case_page(_case(referral_id), 400, end_match_form=form, end_match_id=match_id)
    return _done(referral_id, "The buddy match has ended", "buddies")
