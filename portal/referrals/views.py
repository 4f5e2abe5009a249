from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, current_app, request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.audit.service import audit
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.extensions import db
from portal.referrals.models import (
    OPEN_STATUSES,
    Practice,
    Referral,
    ReferralStatus,
)
from portal.referrals.working_days import working_days_between
from portal.web import render

bp = Blueprint("referrals", __name__)

WAITING_FOR_TRIAGE = (ReferralStatus.RECEIVED, ReferralStatus.CONTACTING)


def status_counts(*where) -> dict[ReferralStatus, int]:
    """Referrals counted by current status (every status present, zero where none)."""
    rows = db.session.execute(
        sa.select(Referral.status, sa.func.count()).where(*where).group_by(Referral.status)
    )
    counts = dict.fromkeys(ReferralStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts


def _chosen_status(default: tuple[ReferralStatus, ...]) -> tuple[tuple[ReferralStatus, ...], str]:
    value = request.args.get("status", "")
    if value in {s.value for s in ReferralStatus}:
        return (ReferralStatus(value),), value
    return default, ""


@bp.route("/hub")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def hub():
    """The hub's start page: referrals waiting for triage, oldest first."""
    statuses, status = _chosen_status(WAITING_FOR_TRIAGE)
    query = (
        sa.select(Referral)
        .options(joinedload(Referral.resident), joinedload(Referral.practice))
        .where(Referral.status.in_(statuses))
        .order_by(Referral.received_at, Referral.id)
    )
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    audit("viewed_list", "referrals", status or "waiting")
    db.session.commit()
    today = date.today()
    return render(
        "referrals/hub.html",
        "referrals/partials/_hub_table.html",
        page=page,
        counts=status_counts(),
        status=status,
        statuses=ReferralStatus,
        age=lambda r: working_days_between(r.received_at.date(), today),
    )


@bp.route("/practice/referrals")
@roles_required(Role.PRACTICE_USER)
def practice_referrals():
    """A practice sees its own referrals and where each has got to; never case notes."""
    practice = db.session.get(Practice, current_user.practice_id)
    statuses, status = _chosen_status(tuple(ReferralStatus))
    query = (
        sa.select(Referral)
        .options(joinedload(Referral.resident))
        .where(Referral.practice_id == current_user.practice_id, Referral.status.in_(statuses))
        .order_by(Referral.received_at.desc(), Referral.id.desc())
    )
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    audit("viewed_list", "practice_referrals", current_user.practice_id)
    db.session.commit()
    return render(
        "referrals/practice_referrals.html",
        "referrals/partials/_practice_table.html",
        page=page,
        practice=practice,
        status=status,
        statuses=ReferralStatus,
        counts=status_counts(Referral.practice_id == current_user.practice_id),
        open_statuses=OPEN_STATUSES,
    )
