from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.audit.service import audit
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.cases.models import Contact
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import OPEN_STATUSES, Referral
from portal.web import render

bp = Blueprint("cases", __name__)


@bp.route("/caseload")
@roles_required(Role.NAVIGATOR)
def caseload():
    """A navigator's own open cases with the last successful contact: two queries at any size."""
    last_contact = (
        sa.select(Contact.referral_id, sa.func.max(Contact.occurred_at).label("last_at"))
        .where(Contact.successful.is_(True))
        .join(Referral, Referral.id == Contact.referral_id)
        .where(Referral.navigator_id == current_user.id, Referral.status.in_(OPEN_STATUSES))
        .group_by(Contact.referral_id)
        .subquery()
    )
    # Audit first: committing after the query would expire every row it loaded.
    audit("viewed_list", "caseload", current_user.id)
    db.session.commit()
    rows = db.session.execute(
        sa.select(Referral, last_contact.c.last_at)
        .options(joinedload(Referral.resident))
        .outerjoin(last_contact, last_contact.c.referral_id == Referral.id)
        .where(Referral.navigator_id == current_user.id, Referral.status.in_(OPEN_STATUSES))
        .order_by(Referral.assigned_at, Referral.id)
    ).all()
    now = utcnow()
    cases = []
    for referral, last_at in rows:
        days = (now - last_at).days if last_at else None
        cases.append(
            {
                "referral": referral,
                "last_at": last_at,
                "days": days,
                "overdue": days is None or days > 14,
            }
        )
    capacity = current_user.caseload_capacity
    return render("cases/caseload.html", cases=cases, capacity=capacity)
