"""The public volunteer sign-up: no login, one page, spam-protected like self-referral."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, session, url_for

from portal.audit.service import audit
from portal.extensions import db, public_form_limit
from portal.mail import MailError
from portal.volunteers import signup
from portal.volunteers.forms import SignUpForm, language_list
from portal.volunteers.models import VolunteerRole
from portal.web import render

log = logging.getLogger(__name__)

bp = Blueprint("volunteer_signup", __name__)


@bp.route("/volunteer", methods=["GET", "POST"])
@public_form_limit("volunteer-signup")
def sign_up():
    form = SignUpForm()
    if form.validate_on_submit():
        if form.website.data:
            log.info("volunteer sign-up honeypot filled; nothing saved")
            session["volunteer_applied"] = True
            return redirect(url_for(".sent"))
        application = signup.Application(
            full_name=form.full_name.data,
            email=form.email.data,
            phone=form.phone.data,
            postcode=form.postcode.data,
            roles=[VolunteerRole(r) for r in form.roles.data],
            languages=language_list(form.languages.data),
            interests=list(form.interests.data or []),
            availability=list(form.availability.data),
            transport=form.transport.data,
            referees=(
                (form.referee_1_name.data, form.referee_1_contact.data),
                (form.referee_2_name.data, form.referee_2_contact.data),
            ),
            motivation=form.motivation.data,
        )
        try:
            volunteer = signup.apply(application)
            if volunteer is not None:
                audit("created", "volunteer", volunteer.id)
                db.session.commit()
                signup.send_confirmation(volunteer)
        except MailError:
            # The application is saved; a coordinator can send the link again from its page.
            log.warning("volunteer confirmation email not sent")
            session["volunteer_mail_failed"] = True
        session["volunteer_applied"] = True
        return redirect(url_for(".sent"))
    status = 400 if form.is_submitted() else 200
    return render("volunteers/signup.html", form=form, status_code=status)


@bp.route("/volunteer/thank-you")
def sent():
    applied = session.pop("volunteer_applied", False)
    mail_failed = session.pop("volunteer_mail_failed", False)
    return render("volunteers/signup_sent.html", applied=applied, mail_failed=mail_failed)
