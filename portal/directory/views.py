from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user

from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.directory.models import Activity, ActivityReferral, ActivityReferralStatus, Organisation
from portal.extensions import db
from portal.web import render

bp = Blueprint("directory", __name__)


@bp.route("/organisation")
@roles_required(Role.ORGANISATION_MEMBER)
def my_organisation():
    """An organisation member's start page: their organisation and its activities only."""
    organisation = db.session.get(Organisation, current_user.organisation_id)
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
    return render(
        "directory/my_organisation.html",
        organisation=organisation,
        activities=activities,
        waiting=waiting,
    )
