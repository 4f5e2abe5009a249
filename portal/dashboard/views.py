"""Dashboards: aggregate figures only, so nobody on these pages can be identified."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_login import current_user
from markupsafe import Markup

from portal.audit.service import audit
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.dashboard import evaluation, facts, hub_kpis, kept
from portal.dashboard.figures import (
    charts_for,
    commissioner_tables,
    hub_tables,
    work_out,
)
from portal.dashboard.filters import download_query, read_filters
from portal.db_types import london_today
from portal.extensions import db
from portal.spreadsheet import safe_cell
from portal.web import render

bp = Blueprint("dashboard", __name__)

VIEWERS = (Role.COMMISSIONER, Role.COORDINATOR, Role.ADMIN)
HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)


def _bring_facts_up_to_date() -> None:
    # Committed at once, so the next page view finds nothing left to work out.
    if facts.refresh():
        db.session.commit()


def _filters_or_abort():
    filters = read_filters(request.args, current_user, london_today())
    if filters.forbidden:
        abort(403)
    return filters


@bp.route("/dashboard")
@roles_required(*VIEWERS)
def overview():
    """Aggregate figures only: nobody on this page can be identified."""
    filters = _filters_or_abort()
    scope = filters.scope
    _bring_facts_up_to_date()
    figures = kept.figures_for(scope, lambda: work_out(scope)) if scope else None
    return render(
        "dashboard/overview.html",
        "dashboard/partials/_dashboard.html",
        status_code=200 if scope else 422,
        filters=filters,
        form=filters.form,
        figures_html=_figures_html(filters, figures),
    )


def _figures_html(filters, figures) -> Markup:
    """The figures' markup, rendered once for each area that shows them: it depends on
    nothing but the figures, the scope and the area."""
    if figures is None:
        return _render_figures(filters=filters)
    key = (filters.area.value, filters.area.label)
    if key not in figures.rendered:
        figures.rendered[key] = _render_figures(
            filters=filters,
            tables=figures.tables,
            charts=figures.charts,
            headlines=figures.headlines,
            received=figures.received,
            query=download_query(filters.scope, filters.area),
        )
    return figures.rendered[key]


def _render_figures(**context) -> Markup:
    # A template's output, every value in it escaped as it was rendered.
    return Markup(render_template("dashboard/partials/_figures.html", **context))  # noqa: S704


def _csv_response(table, filename: str):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([safe_cell(str(cell)) for cell in row])
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/dashboard/<key>.csv")
@roles_required(*VIEWERS)
def table_csv(key: str):
    filters = _filters_or_abort()
    if filters.scope is None:
        abort(400)
    table = next((t for t in commissioner_tables(filters.scope) if t.key == key), None)
    if table is None:
        abort(404)
    audit("exported", "dashboard", key)
    db.session.commit()
    scope = filters.scope
    return _csv_response(table, f"{key}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv")


@bp.route("/dashboard/evaluation.pdf")
@roles_required(*VIEWERS)
def evaluation_pack():
    """The interim evaluation for commissioners: headline figures, every table and chart,
    and how each was counted, for the chosen dates and area, as one PDF."""
    filters = _filters_or_abort()
    if filters.scope is None:
        abort(400)
    audit("exported", "dashboard", "evaluation_pack")
    db.session.commit()
    pdf = evaluation.pack_pdf(filters.scope, filters.area.label, london_today())
    scope = filters.scope
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="evaluation-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.pdf"'
    )
    return response


def _overdue_days() -> int:
    return current_app.config["CASE_CONTACT_OVERDUE_DAYS"]


@bp.route("/dashboard/hub")
@roles_required(*HUB_STAFF)
def hub():
    """What the hub needs to act on today: counts only, each linking to the list behind it."""
    today = london_today()
    _bring_facts_up_to_date()
    tables = hub_tables(today)
    return render(
        "dashboard/hub.html",
        today=today,
        tables=tables,
        charts=charts_for(tables),
        queue=hub_kpis.triage_queue_age(today),
        open_cases=hub_kpis.open_case_count(),
        quiet_cases=hub_kpis.cases_without_contact(_overdue_days()),
        overdue_days=_overdue_days(),
        expiry=hub_kpis.volunteer_expiry(
            today,
            max(current_app.config["EXPIRY_REMINDER_DAYS"]),
            current_app.config["DBS_RENEWAL_YEARS"],
        ),
        expiry_days=max(current_app.config["EXPIRY_REMINDER_DAYS"]),
        failed_reports=hub_kpis.failed_report_deliveries(),
        failed_count=hub_kpis.failed_report_count(),
    )


@bp.route("/dashboard/hub/<key>.csv")
@roles_required(*HUB_STAFF)
def hub_table_csv(key: str):
    today = london_today()
    table = next((t for t in hub_tables(today) if t.key == key), None)
    if table is None:
        abort(404)
    audit("exported", "hub_dashboard", key)
    db.session.commit()
    return _csv_response(table, f"hub-{key}-{today:%Y%m%d}.csv")
