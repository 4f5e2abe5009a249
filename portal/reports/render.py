"""One report, four formats: the portal page and the PDF letter share one template."""

from __future__ import annotations

import csv
import io
import json

from flask import current_app, render_template

from portal.reports.models import OutcomeReport
from portal.reports.periods import Period
from portal.spreadsheet import safe_cell


def context(report: OutcomeReport) -> dict:
    return {
        "report": report,
        "practice": report.practice,
        "period": Period(report.period_start, report.period_end),
        "people": report.summaries or [],
        "hub_name": current_app.config["HUB_NAME"],
        "hub_phone": current_app.config["HUB_PHONE"],
        "hub_email": current_app.config["HUB_EMAIL"],
    }


def letter_html(report: OutcomeReport) -> str:
    return render_template("reports/letter_pdf.html", **context(report))


def pdf(report: OutcomeReport) -> bytes:
    from weasyprint import HTML

    # No base URL: the letter carries its own styles and fetches nothing.
    return HTML(string=letter_html(report)).write_pdf()


CSV_HEADER = (
    "practice_ods_code",
    "period_start",
    "period_end",
    "reference",
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "event",
    "event_date",
    "snomed_code",
    "snomed_display",
    "shared_in_full",
)


def coded_csv(report: OutcomeReport) -> str:
    """One row per person per SNOMED code, for practices that file codes in bulk."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for person in report.summaries or []:
        patient = person["patient"]
        for code in person["codes"]:
            writer.writerow(
                (
                    report.practice.ods_code,
                    report.period_start.isoformat(),
                    report.period_end.isoformat(),
                    person["reference"],
                    patient["nhs_number"] or "",
                    safe_cell(patient["family_name"]),
                    safe_cell(patient["given_name"]),
                    patient["date_of_birth"] or "",
                    person["event"],
                    person["event_date"],
                    code["code"],
                    code["display"],
                    "yes" if person["shared_in_full"] else "no",
                )
            )
    return out.getvalue()


def as_json(report: OutcomeReport) -> str:
    document = {
        "schema_version": 1,
        "practice": {"ods_code": report.practice.ods_code, "name": report.practice.name},
        "period": {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
        "kind": report.kind.value,
        "people": report.summaries or [],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def filename(report: OutcomeReport, extension: str) -> str:
    return (
        f"outcome-report-{report.practice.ods_code}-{report.period_start:%Y%m%d}"
        f"-{report.period_end:%Y%m%d}-{report.id}.{extension}"
    )
