"""Outcome reports in the portal: the practice inbox, the report in every format, admin controls."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.db_types import utcnow
from portal.extensions import db
from portal.jobs.status import job_statuses
from portal.referrals.models import Practice, ReportFrequency
from portal.reports import delivery
from portal.reports import render as formats
from portal.reports.forms import ReportSettingsForm
from portal.reports.models import DeliveryStatus, OutcomeReport, QueuedOutcome, ReportKind
from portal.reports.periods import london_date, next_run_day
from portal.web import render, wants_partial

bp = Blueprint("reports", __name__)

READERS = (Role.PRACTICE_USER, Role.ADMIN, Role.COORDINATOR)
S = DeliveryStatus


def _report_or_404(report_id: int) -> OutcomeReport:
    """A practice reads only its own reports; hub staff read any. Others never learn it exists."""
    report = db.session.scalar(
        sa.select(OutcomeReport)
        .options(joinedload(OutcomeReport.practice))
        .where(OutcomeReport.id == report_id)
    )
    if report is None or report.status == S.EMPTY:
        abort(404)
    if current_user.role == Role.PRACTICE_USER and report.practice_id != current_user.practice_id:
        abort(404)
    return report


# --- the practice inbox ----------------------------------------------------------------------


@bp.route("/reports")
@roles_required(Role.PRACTICE_USER)
def inbox():
    query = (
        sa.select(OutcomeReport)
        .where(
            OutcomeReport.practice_id == current_user.practice_id,
            OutcomeReport.status != S.EMPTY,
        )
        .order_by(OutcomeReport.claimed_at.desc(), OutcomeReport.id.desc())
    )
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    record_list_view("outcome_reports", current_user.practice_id)
    return render(
        "reports/inbox.html",
        page=page,
        practice=db.session.get(Practice, current_user.practice_id),
        unread=unread_count(current_user.practice_id),
    )


# Built once: the header of every practice page counts these.
_UNREAD = (
    sa.select(sa.func.count())
    .select_from(OutcomeReport)
    .where(
        OutcomeReport.practice_id == sa.bindparam("practice_id"),
        OutcomeReport.read_at.is_(None),
        OutcomeReport.status != S.EMPTY,
    )
)


def unread_count(practice_id: int) -> int:
    return db.session.execute(_UNREAD, {"practice_id": practice_id}).scalar()


@bp.route("/reports/<int:report_id>")
@roles_required(*READERS)
def practice_report(report_id: int):
    report = _report_or_404(report_id)
    record_view("outcome_report", report.id)
    return render("reports/report.html", **formats.context(report))


@bp.route("/reports/<int:report_id>/read", methods=["POST"])
@roles_required(Role.PRACTICE_USER)
def mark_read(report_id: int):
    report = _report_or_404(report_id)
    if request.form.get("read") == "no":
        report.read_at, report.read_by_id = None, None
    else:
        report.read_at, report.read_by_id = utcnow(), current_user.id
    audit("updated", "outcome_report", report.id)
    db.session.commit()
    if wants_partial():
        return render("reports/partials/_read_state.html", report=report)
    flash("Marked as read." if report.read_at else "Marked as not read.", "success")
    if request.form.get("back") == "inbox":
        return redirect(url_for(".inbox"))
    return redirect(url_for(".practice_report", report_id=report.id))


def _download(report: OutcomeReport, body: bytes | str, content_type: str, extension: str):
    audit("exported", "outcome_report", report.id)
    db.session.commit()
    response = make_response(body)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{formats.filename(report, extension)}"'
    )
    return response


@bp.route("/reports/<int:report_id>/letter.pdf")
@roles_required(*READERS)
def report_pdf(report_id: int):
    report = _report_or_404(report_id)
    return _download(report, formats.pdf(report), "application/pdf", "pdf")


@bp.route("/reports/<int:report_id>/codes.csv")
@roles_required(*READERS)
def report_csv(report_id: int):
    report = _report_or_404(report_id)
    return _download(report, formats.coded_csv(report), "text/csv; charset=utf-8", "csv")


@bp.route("/reports/<int:report_id>/summary.json")
@roles_required(*READERS)
def report_json(report_id: int):
    report = _report_or_404(report_id)
    return _download(report, formats.as_json(report), "application/json", "json")


# --- admin controls ------------------------------------------------------------------------


def _waiting_counts() -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(QueuedOutcome.practice_id, sa.func.count())
            .where(QueuedOutcome.report_id.is_(None))
            .group_by(QueuedOutcome.practice_id)
        ).all()
    )


def _latest_reports() -> dict[int, OutcomeReport]:
    latest = (
        sa.select(sa.func.max(OutcomeReport.id))
        .where(OutcomeReport.kind != ReportKind.NOTICE)
        .group_by(OutcomeReport.practice_id)
    )
    return {
        r.practice_id: r
        for r in db.session.scalars(sa.select(OutcomeReport).where(OutcomeReport.id.in_(latest)))
    }


@bp.route("/admin/reports")
@roles_required(Role.ADMIN)
def admin_overview():
    practices = list(db.session.scalars(sa.select(Practice).order_by(Practice.name)))
    today = london_date(utcnow())
    problems = {p.id: delivery.mailbox_problem(p.report_mailbox) for p in practices}
    failed = list(
        db.session.scalars(
            sa.select(OutcomeReport)
            .options(joinedload(OutcomeReport.practice))
            .where(OutcomeReport.status.in_((S.FAILED, S.RETRYING)))
            .order_by(OutcomeReport.claimed_at.desc())
        )
    )
    jobs, scheduler_seen = job_statuses()
    return render(
        "reports/admin_overview.html",
        practices=practices,
        problems=problems,
        missing=[p for p in practices if problems[p.id]],
        waiting=_waiting_counts(),
        latest=_latest_reports(),
        next_day={p.id: next_run_day(p.report_frequency, today) for p in practices},
        failed=failed,
        jobs=jobs,
        scheduler_seen=scheduler_seen,
        run_hour=current_app.config["REPORT_RUN_HOUR"],
    )


def _practice_or_404(practice_id: int) -> Practice:
    practice = db.session.get(Practice, practice_id)
    if practice is None:
        abort(404)
    return practice


def _practice_page(practice: Practice, form: ReportSettingsForm | None = None, status_code=200):
    if form is None:
        form = ReportSettingsForm(
            formdata=None,
            report_mailbox=practice.report_mailbox,
            report_frequency=practice.report_frequency.value,
            notify_on_close=practice.notify_on_close,
        )
    query = (
        sa.select(OutcomeReport)
        .options(selectinload(OutcomeReport.attempts_log))
        .where(OutcomeReport.practice_id == practice.id)
        .order_by(OutcomeReport.claimed_at.desc(), OutcomeReport.id.desc())
    )
    page = db.paginate(query, per_page=10, error_out=False)
    today = london_date(utcnow())
    return render(
        "reports/admin_practice.html",
        status_code=status_code,
        practice=practice,
        form=form,
        page=page,
        problem=delivery.mailbox_problem(practice.report_mailbox),
        waiting=_waiting_counts().get(practice.id, 0),
        next_day=next_run_day(practice.report_frequency, today),
        run_hour=current_app.config["REPORT_RUN_HOUR"],
    )


@bp.route("/admin/reports/practices/<int:practice_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_practice(practice_id: int):
    practice = _practice_or_404(practice_id)
    if request.method == "GET":
        return _practice_page(practice)
    form = ReportSettingsForm()
    if not form.validate():
        return _practice_page(practice, form, status_code=422)
    practice.report_mailbox = form.report_mailbox.data
    practice.report_frequency = ReportFrequency(form.report_frequency.data)
    practice.notify_on_close = form.notify_on_close.data
    audit("updated", "practice_report_settings", practice.id)
    db.session.commit()
    flash(f"Report settings for {practice.name} saved.", "success")
    return redirect(url_for(".admin_practice", practice_id=practice.id))


@bp.route("/admin/reports/practices/<int:practice_id>/preview")
@roles_required(Role.ADMIN)
def admin_preview(practice_id: int):
    practice = _practice_or_404(practice_id)
    period, people = delivery.preview(practice)
    record_view("outcome_report_preview", practice.id)
    return render(
        "reports/preview.html",
        practice=practice,
        period=period,
        people=people,
        report=None,
        hub_name=current_app.config["HUB_NAME"],
        hub_phone=current_app.config["HUB_PHONE"],
        hub_email=current_app.config["HUB_EMAIL"],
    )


def _by() -> str:
    return f"{current_user.full_name} (admin)"


@bp.route("/admin/reports/practices/<int:practice_id>/send", methods=["POST"])
@roles_required(Role.ADMIN)
def admin_send_now(practice_id: int):
    practice = _practice_or_404(practice_id)
    try:
        report = delivery.send_now(practice, by=_by())
    except delivery.ReportRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for(".admin_practice", practice_id=practice.id))
    audit("exported", "outcome_report", report.id)
    db.session.commit()
    flash(_outcome_words(report))
    return redirect(url_for(".admin_practice", practice_id=practice.id))


@bp.route("/admin/reports/<int:report_id>/resend", methods=["POST"])
@roles_required(Role.ADMIN)
def admin_resend(report_id: int):
    report = _report_or_404(report_id)
    try:
        delivery.resend(report, by=_by())
    except delivery.ReportRefused as refused:
        flash(str(refused), "error")
    else:
        db.session.refresh(report)
        audit("exported", "outcome_report", report.id)
        db.session.commit()
        flash(_outcome_words(report))
    back = request.form.get("back") == "overview"
    return redirect(
        url_for(".admin_overview")
        if back
        else url_for(".admin_practice", practice_id=report.practice_id)
    )


def _outcome_words(report: OutcomeReport) -> str:
    people = f"{report.people} {'person' if report.people == 1 else 'people'}"
    if report.status == S.SENT:
        return f"The report about {people} was sent to {report.sent_to}."
    if report.status == S.INBOX_ONLY:
        return (
            f"The report about {people} is in the practice's portal inbox only: "
            "the practice has no report mailbox."
        )
    return f"The report about {people} was not sent: {report.last_error}"
