"""The public directory (no login), each activity's page, and organisations registering."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_login import current_user

from portal.audit.service import audit, record_view
from portal.auth.models import Role
from portal.db_types import london_today
from portal.directory import listings, organisations, search
from portal.directory.forms import RegisterOrganisationForm
from portal.directory.models import ActivityCategory
from portal.directory.schedule import DAY_NAMES, TIMES_OF_DAY, describe, next_session
from portal.extensions import db, public_form_limit
from portal.mail import MailError
from portal.paging import id_arg
from portal.referrals.models import Referral
from portal.web import render

log = logging.getLogger(__name__)

bp = Blueprint("directory_public", __name__)
CASE_WORKERS = (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)


def _for_case() -> Referral | None:
    """The case a navigator is finding an activity for (`?case=`), if they may work on it."""
    from portal.cases.work import CASE_STATUSES, may_work_on

    case_id = id_arg(request.args.get("case"))
    if case_id is None or not current_user.is_authenticated:
        return None
    if current_user.role not in CASE_WORKERS:
        return None
    referral = db.session.get(Referral, case_id)
    if referral is None or not may_work_on(current_user, referral):
        return None
    return referral if referral.status in CASE_STATUSES else None


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.role in CASE_WORKERS


@bp.route("/directory")
def directory():
    filters = search.SearchFilters.from_args(request.args)
    if not _is_staff():
        filters.referrals_only = False
    case = _for_case()
    page = search.search(filters, request.args.get("page"))
    today = london_today()
    results = [
        {
            "activity": activity,
            "when": describe(
                activity.frequency,
                activity.days or [],
                activity.start_time,
                activity.end_time,
                activity.monthly_week,
            ),
            "next": next_session(
                activity.frequency,
                activity.days or [],
                today,
                activity.starts_on,
                activity.monthly_week,
            ),
            "stale": listings.is_stale(activity, today),
        }
        for activity in page.items
    ]
    if case is not None:
        record_view("directory_for_case", case.id)
    return render(
        "directory/search.html",
        "directory/partials/_results.html",
        filters=filters,
        page=page,
        results=results,
        case=case,
        staff=_is_staff(),
        categories=list(ActivityCategory),
        day_names=DAY_NAMES,
        times=TIMES_OF_DAY,
        access=search.ACCESS_FEATURES,
        args=dict(filters.as_args(), **({"case": case.id} if case else {})),
    )


@bp.route("/directory/activities/<activity_uuid>")
def activity(activity_uuid: str):
    found = db.session.scalar(search.listed().where(search.Activity.uuid == activity_uuid[:36]))
    if found is None:
        abort(404)
    today = london_today()
    return render(
        "directory/activity.html",
        activity=found,
        when=describe(
            found.frequency, found.days or [], found.start_time, found.end_time, found.monthly_week
        ),
        next=next_session(
            found.frequency, found.days or [], today, found.starts_on, found.monthly_week
        ),
        stale=listings.is_stale(found, today),
        confirmed_on=listings.confirmed_on(found),
        case=_for_case(),
        access=search.ACCESS_FEATURES,
    )


@bp.route("/organisations/register", methods=["GET", "POST"])
@public_form_limit("organisation-register")
def register():
    form = RegisterOrganisationForm()
    if form.validate_on_submit():
        if form.website.data:
            log.info("organisation registration honeypot filled; nothing saved")
            session["organisation_registered"] = True
            return redirect(url_for(".registered"))
        registration = organisations.Registration(
            name=form.name.data,
            charity_number=form.charity_number.data,
            company_number=form.company_number.data,
            description=form.description.data,
            email=form.email.data,
            phone=form.phone.data,
            website=form.web_address.data,
            address=form.address.data,
            postcode=form.postcode.data,
            contact_name=form.contact_name.data,
            contact_email=form.contact_email.data,
        )
        try:
            organisation = organisations.register(registration)
            if organisation is not None:
                audit("created", "organisation", organisation.id)
                db.session.commit()
                organisations.send_welcome(organisation)
        except MailError:
            # The registration is saved; the hub can send a new link from the users page.
            log.warning("organisation welcome email not sent")
            session["organisation_mail_failed"] = True
        session["organisation_registered"] = True
        return redirect(url_for(".registered"))
    status = 400 if form.is_submitted() else 200
    return render("directory/register.html", form=form, status_code=status)


@bp.route("/organisations/register/thank-you")
def registered():
    return render(
        "directory/registered.html",
        registered=session.pop("organisation_registered", False),
        mail_failed=session.pop("organisation_mail_failed", False),
    )
