from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.extensions import db
from portal.referrals.models import Referral
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, TrainingRecord, Volunteer
from portal.volunteers.training import expiry_date
from portal.web import render

bp = Blueprint("volunteers", __name__)


@bp.route("/volunteering")
@roles_required(Role.VOLUNTEER)
def me():
    """A volunteer's own start page: status, training and the people they buddy."""
    volunteer = db.session.scalar(
        sa.select(Volunteer)
        .options(selectinload(Volunteer.training_records).joinedload(TrainingRecord.module))
        .where(Volunteer.user_id == current_user.id)
    )
    if volunteer is None:
        abort(404)
    matches = db.session.scalars(
        sa.select(BuddyMatch)
        .options(joinedload(BuddyMatch.referral).joinedload(Referral.resident))
        .where(
            BuddyMatch.volunteer_id == volunteer.id,
            BuddyMatch.status.in_((BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE)),
        )
        .order_by(BuddyMatch.proposed_at)
    ).all()
    today = date.today()
    training = [
        {"record": r, "expires": expiry_date(r.completed_on, r.module.valid_for_months)}
        for r in volunteer.training_records
    ]
    return render(
        "volunteers/me.html", volunteer=volunteer, matches=matches, training=training, today=today
    )
