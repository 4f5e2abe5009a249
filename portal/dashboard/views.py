"""Dashboards: aggregate figures only, so nobody on these pages can be identified."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, make_response, request
from flask_login import current_user

from portal.audit.service import audit
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.dashboard import kpis
from portal.dashboard.charts import bar_chart, line_chart
from portal.dashboard.figures import chart_rows, commissioner_tables
from portal.dashboard.filters import read_filters
from portal.db_types import london_today
from portal.extensions import db
from portal.spreadsheet import safe_cell
from portal.web import render

bp = Blueprint("dashboard", __name__)

VIEWERS = (Role.COMMISSIONER, Role.COORDINATOR, Role.ADMIN)


def _charts(tables) -> dict:
    charts = {}
    for table in tables:
        if table.chart == "bar":
            charts[table.key] = bar_chart(chart_rows(table), suppress_small=True)
        elif table.chart == "line":
            charts[table.key] = line_chart(chart_rows(table), suppress_small=True)
    return charts


@bp.route("/dashboard")
@roles_required(*VIEWERS)
def overview():
    """Aggregate figures only: nobody on this page can be identified."""
    filters = read_filters(request.args, current_user, london_today())
    if filters.forbidden:
        abort(403)
    tables = commissioner_tables(filters.scope) if filters.scope else []
    received = kpis.referrals_received(filters.scope) if filters.scope else None
    return render(
        "dashboard/overview.html",
        "dashboard/partials/_figures.html",
        status_code=200 if filters.scope else 422,
        filters=filters,
        form=filters.form,
        tables=tables,
        charts=_charts(tables),
        received=received,
        by_status=kpis.referrals_by_status(),
        suppress=kpis.suppress,
        query=request.query_string.decode(),
    )


@bp.route("/dashboard/<key>.csv")
@roles_required(*VIEWERS)
def table_csv(key: str):
    filters = read_filters(request.args, current_user, london_today())
    if filters.forbidden:
        abort(403)
    if filters.scope is None:
        abort(400)
    table = next((t for t in commissioner_tables(filters.scope) if t.key == key), None)
    if table is None:
        abort(404)
    audit("exported", "dashboard", key)
    db.session.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([safe_cell(str(cell)) for cell in row])
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    scope = filters.scope
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{key}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv"'
    )
    return response
