"""The alerts inbox: what a navigator or coordinator has been told, newest first."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.alerts import service
from portal.alerts.models import Alert
from portal.audit.service import record_list_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.extensions import db
from portal.referrals.models import Referral
from portal.web import render

bp = Blueprint("alerts", __name__)

ALERTED = (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)


@bp.route("/alerts")
@roles_required(*ALERTED)
def inbox():
    show_all = request.args.get("show") == "all"
    query = (
        sa.select(Alert)
        .options(joinedload(Alert.referral).joinedload(Referral.resident))
        .where(Alert.user_id == current_user.id)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
    )
    if not show_all:
        query = query.where(Alert.read_at.is_(None))
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    # Alerts name the people they are about.
    record_list_view("alerts", current_user.id)
    return render("alerts/inbox.html", page=page, show_all=show_all)


@bp.post("/alerts/read")
@roles_required(*ALERTED)
def read():
    alert_id = request.form.get("alert_id", "")
    one = (
        int(alert_id) if alert_id.isascii() and alert_id.isdigit() and len(alert_id) < 10 else None
    )
    marked = service.mark_read(current_user.id, alert_id=one)
    db.session.commit()
    flash(f"{marked} {'alert' if marked == 1 else 'alerts'} marked as read", "success")
    return redirect(url_for(".inbox"))
