"""The evaluation pack: the interim evaluation a hub owes its commissioners, as one PDF.

It is drawn from the same tables as the dashboard, so every figure in it matches the page
and the CSV downloads for the same dates and area, and its method note is the docstring
of each KPI function, so the definitions cannot drift from what is counted.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template

from portal.dashboard.figures import charts_for, commissioner_figures
from portal.dashboard.kpis import SMALL_NUMBER, Scope


def pack_html(scope: Scope, area: str, today: date) -> str:
    shown, tables = commissioner_figures(scope)
    return render_template(
        "dashboard/evaluation_pdf.html",
        scope=scope,
        area=area,
        today=today,
        hub_name=current_app.config["HUB_NAME"],
        headlines=shown,
        tables=tables,
        charts=charts_for(tables),
        small_number=SMALL_NUMBER,
    )


def pack_pdf(scope: Scope, area: str, today: date) -> bytes:
    from weasyprint import HTML

    # No base URL: the pack carries its own styles and fetches nothing.
    return HTML(string=pack_html(scope, area, today)).write_pdf()
