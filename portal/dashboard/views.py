from __future__ import annotations

from flask import Blueprint

from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.dashboard import kpis
from portal.web import render

bp = Blueprint("dashboard", __name__)


@bp.route("/dashboard")
@roles_required(Role.COMMISSIONER, Role.COORDINATOR, Role.ADMIN)
def overview():
    """Aggregate figures only: nobody on this page can be identified."""
    return render(
        "dashboard/overview.html",
        by_status=kpis.referrals_by_status(),
        by_neighbourhood=kpis.referrals_by_neighbourhood(),
        suppress=kpis.suppress,
    )
