"""Claiming and delivering outcome reports: each is sent once, and nothing waiting is lost.

The claim is an INSERT with a unique key, committed before any mail is sent. The
changes a report carries are taken from the queue in the same transaction, so two
claims can never carry the same change. Each attempt to send is itself taken by a
conditional UPDATE (only one process can move a report to "being sent"), and a send
cut short by a dead process is noticed as stale and tried again by one process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.mail import Attachment, MailError, send_email
from portal.referrals.models import Practice
from portal.reports import render
from portal.reports.compose import summaries
from portal.reports.models import (
    WAITING,
    DeliveryStatus,
    OutcomeReport,
    QueuedOutcome,
    ReportAttempt,
    ReportKind,
)
from portal.reports.periods import Period, current, last_complete, london_date

log = logging.getLogger(__name__)
S = DeliveryStatus


def mailbox_problem(address: str | None) -> str | None:
    """Why a report mailbox cannot be used, in words an admin can act on; None when fine."""
    if not address or not address.strip():
        return "The practice has no report mailbox, so reports stay in the portal inbox."
    try:
        validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return f"The report mailbox “{address}” is not a valid email address: {exc}"
    return None


def claim_key(kind: ReportKind, practice_id: int, period: Period) -> str:
    return f"{kind.value}:{practice_id}:{period.start.isoformat()}:{period.end.isoformat()}"


def manual_key(practice_id: int, now: datetime) -> str:
    # A hand-sent report carries only what no report has taken, so a second one the
    # same day is safe; the second in the key stops a double click claiming twice.
    return f"{ReportKind.MANUAL.value}:{practice_id}:{now:%Y%m%dT%H%M%S}"


def claim(
    practice: Practice,
    period: Period,
    *,
    kind: ReportKind = ReportKind.SCHEDULED,
    now: datetime | None = None,
    by: str = "scheduler",
) -> OutcomeReport | None:
    """Claim the report for (practice, period) and the changes waiting for it.

    Committed before anything is sent. Returns None when the key is already taken (by
    another process, an earlier run or a restart). A period with nothing waiting is kept
    as "nothing to report", so it is logged and never emailed.
    """
    now = now or utcnow()
    key = manual_key(practice.id, now) if kind == ReportKind.MANUAL else None
    report = OutcomeReport(
        claim_key=key or claim_key(kind, practice.id, period),
        kind=kind,
        practice_id=practice.id,
        period_start=period.start,
        period_end=period.end,
        claimed_at=now,
        claimed_by=by,
        status=S.CLAIMED,
        next_attempt_at=now,
    )
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    take_waiting(report, practice, min(period.cutoff, now) if kind == ReportKind.SCHEDULED else now)
    db.session.commit()
    return report


def take_waiting(report: OutcomeReport, practice: Practice, cutoff: datetime) -> None:
    """Give a freshly claimed report every change still waiting from before `cutoff`.

    A change queued during an earlier period whose report missed it is carried here
    rather than lost. Not committed: the claim commits it with the report.
    """
    db.session.execute(
        sa.update(QueuedOutcome)
        .where(
            QueuedOutcome.practice_id == practice.id,
            QueuedOutcome.report_id.is_(None),
            QueuedOutcome.queued_at < cutoff,
        )
        .values(report_id=report.id)
        .execution_options(synchronize_session=False)
    )
    queued = list(
        db.session.scalars(sa.select(QueuedOutcome).where(QueuedOutcome.report_id == report.id))
    )
    _fill(report, queued, practice)
    if not queued:
        report.status = S.EMPTY
        report.next_attempt_at = None
        log.info(
            "outcome report for %s, %s: nothing to report, no email sent",
            practice.ods_code,
            Period(report.period_start, report.period_end).label,
        )


def _fill(report: OutcomeReport, queued: list[QueuedOutcome], practice: Practice) -> None:
    report.summaries = summaries(queued)
    report.referral_ids = sorted({q.referral_id for q in queued})
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "portal.invalid"
    report.message_id = make_msgid(idstring=f"outcome-report.{report.id}", domain=domain)


def claim_notice(queued: QueuedOutcome, now: datetime | None = None) -> OutcomeReport:
    """A single-person notice, claimed with the closure itself and sent by the next run.

    The change stays queued for the practice's regular report too, which is the record.
    """
    now = now or utcnow()
    day = london_date(now)
    report = OutcomeReport(
        claim_key=f"notice:{queued.id}",
        kind=ReportKind.NOTICE,
        practice_id=queued.practice_id,
        period_start=day,
        period_end=day,
        claimed_at=now,
        claimed_by="case closed",
        status=S.CLAIMED,
        next_attempt_at=now,
    )
    db.session.add(report)
    db.session.flush()
    _fill(report, [queued], queued.practice)
    return report


def cancel_notices(queued_ids: list[int]) -> int:
    """A reopened case: notices not yet being sent are withdrawn."""
    if not queued_ids:
        return 0
    result = db.session.execute(
        sa.delete(OutcomeReport)
        .where(
            OutcomeReport.claim_key.in_([f"notice:{i}" for i in queued_ids]),
            OutcomeReport.status == S.CLAIMED,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- sending -------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 5, 15, 45, 135 minutes... by default."""
    return timedelta(minutes=current_app.config["REPORT_RETRY_MINUTES"] * 3 ** (attempts - 1))


def _take(report_id: int, now: datetime) -> bool:
    """Move the report to 'being sent' if it is ours to send; one process wins."""
    taken = db.session.execute(
        sa.update(OutcomeReport)
        .where(
            OutcomeReport.id == report_id,
            OutcomeReport.status.in_(WAITING),
            sa.or_(OutcomeReport.next_attempt_at.is_(None), OutcomeReport.next_attempt_at <= now),
        )
        .values(status=S.SENDING, attempt_started_at=now, attempts=OutcomeReport.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return taken == 1


def deliver(report_id: int, *, now: datetime | None = None, by: str = "scheduler") -> S | None:
    """Try to send one waiting report. None when it was not waiting (or another has it)."""
    now = now or utcnow()
    if not _take(report_id, now):
        return None
    report = db.session.get(OutcomeReport, report_id)
    mailbox = report.practice.report_mailbox
    problem = mailbox_problem(mailbox)
    if problem and not (mailbox and mailbox.strip()):
        log.warning("outcome report %s: %s", report.id, problem)
        return _finish(report, S.INBOX_ONLY, now, by, error=problem)
    if problem:
        # A wrong address will not mend itself: no retries; an admin corrects it and resends.
        log.warning("outcome report %s: the practice's report mailbox is not valid", report.id)
        _tell_admins(report, problem)
        return _finish(report, S.FAILED, now, by, error=problem, to=mailbox)
    try:
        _send(report, mailbox.strip())
    except MailError as exc:
        error = f"The mail server did not take the report: {exc}"
        if report.attempts >= current_app.config["REPORT_MAX_ATTEMPTS"]:
            _tell_admins(report, error)
            return _finish(report, S.FAILED, now, by, error=error, to=mailbox)
        report.next_attempt_at = now + backoff(report.attempts)
        return _finish(report, S.RETRYING, now, by, error=error, to=mailbox)
    report.sent_at = utcnow()
    report.sent_to = mailbox.strip()
    report.last_error = None
    log.info("outcome report %s sent to practice %s", report.id, report.practice.ods_code)
    return _finish(report, S.SENT, now, by, to=mailbox)


def _finish(
    report: OutcomeReport,
    status: S,
    now: datetime,
    by: str,
    error: str | None = None,
    to: str | None = None,
) -> S:
    report.status = status
    if status != S.RETRYING:
        report.next_attempt_at = None
    if error:
        report.last_error = error
    db.session.add(
        ReportAttempt(report=report, at=now, outcome=status, sent_to=to, error=error, by=by)
    )
    db.session.commit()
    return status


def subject(report: OutcomeReport) -> str:
    period = Period(report.period_start, report.period_end)
    what = (
        "Social prescribing notice"
        if report.kind == ReportKind.NOTICE
        else "Social prescribing outcome report"
    )
    return f"{what}: {report.practice.name} ({report.practice.ods_code}), {period.label}"


def _send(report: OutcomeReport, mailbox: str) -> None:
    people = report.people
    link = url_for("reports.practice_report", report_id=report.id, _external=True)
    what = "notice" if report.kind == ReportKind.NOTICE else "report"
    body = (
        f"Dear colleagues at {report.practice.name},\n\n"
        f"This {what} tells you "
        f"about {people} {'person' if people == 1 else 'people'} referred to "
        f"{current_app.config['HUB_NAME']}.\n\n"
        "The letter is attached as a PDF, with the SNOMED CT codes as CSV and the same "
        "content as JSON for practices that import it. It is also in your practice inbox "
        f"in the portal:\n{link}\n\n"
        f"Questions: {current_app.config['HUB_PHONE']} or {current_app.config['HUB_EMAIL']}.\n"
    )
    attachments = (
        Attachment(render.filename(report, "pdf"), render.pdf(report)),
        Attachment(
            render.filename(report, "csv"),
            render.coded_csv(report).encode(),
            maintype="text",
            subtype="csv",
        ),
        Attachment(
            render.filename(report, "json"),
            render.as_json(report).encode(),
            maintype="application",
            subtype="json",
        ),
    )
    send_email(mailbox, subject(report), body, attachments, message_id=report.message_id)


def _tell_admins(report: OutcomeReport, error: str) -> None:
    log.error("outcome report %s for %s failed: %s", report.id, report.practice.ods_code, error)
    admins = db.session.scalars(
        sa.select(User.email).where(User.role == Role.ADMIN, User.is_active.is_(True))
    ).all()
    for email in admins:
        try:
            send_email(
                email,
                f"An outcome report to {report.practice.name} could not be delivered",
                f"The outcome report for {report.practice.name} ({report.practice.ods_code}) "
                f"was not delivered.\n\n{error}\n\nIt is in the practice's portal inbox. "
                "Correct the problem and send it again from the outcome reports page.",
            )
        except MailError:
            # The failure is on the admin page whatever happens to this email.
            break


# --- the jobs ------------------------------------------------------------------------------


@dataclass
class RunSummary:
    claimed: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)
    already: int = 0
    delivered: dict[str, int] = field(default_factory=dict)
    recovered: int = 0

    def words(self) -> str:
        sent = ", ".join(f"{n} {s}" for s, n in sorted(self.delivered.items())) or "none sent"
        return (
            f"{_count(len(self.claimed), 'report')} claimed, {len(self.empty)} with nothing to "
            f"report, {self.already} already claimed, {self.recovered} stale sends recovered; "
            f"{sent}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def run_scheduled(now: datetime | None = None) -> RunSummary:
    """The morning run: claim each practice's last whole period, then send what is waiting."""
    now = now or utcnow()
    today = london_date(now)
    result = RunSummary()
    practices = list(db.session.scalars(sa.select(Practice).order_by(Practice.id)))
    db.session.commit()
    for practice in practices:
        period = last_complete(practice.report_frequency, today)
        key = claim_key(ReportKind.SCHEDULED, practice.id, period)
        if db.session.scalar(sa.select(OutcomeReport.id).where(OutcomeReport.claim_key == key)):
            result.already += 1
            continue
        report = claim(practice, period, now=now)
        if report is None:
            result.already += 1
        elif report.status == S.EMPTY:
            result.empty.append(report.id)
        else:
            result.claimed.append(report.id)
    _deliver_waiting(now, result)
    return result


def run_due(now: datetime | None = None) -> RunSummary:
    """The frequent run: recover stale sends, then retry and send everything due."""
    now = now or utcnow()
    result = RunSummary()
    _deliver_waiting(now, result)
    return result


def _deliver_waiting(now: datetime, result: RunSummary) -> None:
    result.recovered += recover_stale(now)
    due = db.session.scalars(
        sa.select(OutcomeReport.id)
        .where(
            OutcomeReport.status.in_(WAITING),
            sa.or_(OutcomeReport.next_attempt_at.is_(None), OutcomeReport.next_attempt_at <= now),
        )
        .order_by(OutcomeReport.id)
    ).all()
    db.session.commit()
    for report_id in due:
        status = deliver(report_id, now=now)
        if status is not None:
            result.delivered[status.value] = result.delivered.get(status.value, 0) + 1


def recover_stale(now: datetime) -> int:
    """Sends cut short by a dead process go back to waiting, each exactly once."""
    limit = now - timedelta(minutes=current_app.config["REPORT_STALE_MINUTES"])
    stale = db.session.execute(
        sa.select(OutcomeReport.id, OutcomeReport.attempt_started_at).where(
            OutcomeReport.status == S.SENDING, OutcomeReport.attempt_started_at < limit
        )
    ).all()
    recovered = 0
    for report_id, started in stale:
        # Conditional on the very attempt seen, so two processes cannot both recover it.
        moved = db.session.execute(
            sa.update(OutcomeReport)
            .where(
                OutcomeReport.id == report_id,
                OutcomeReport.status == S.SENDING,
                OutcomeReport.attempt_started_at == started,
            )
            .values(
                status=S.RETRYING,
                next_attempt_at=now,
                last_error="The send was cut short (the scheduler stopped); trying again.",
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            db.session.add(
                ReportAttempt(
                    report_id=report_id,
                    at=now,
                    outcome=S.RETRYING,
                    error="Found unfinished: the process sending it stopped. Will try again.",
                    by="scheduler",
                )
            )
            recovered += 1
            log.warning("outcome report %s was left half-sent; it will be tried again", report_id)
    db.session.commit()
    return recovered


# --- by hand -------------------------------------------------------------------------------


class ReportRefused(ValueError):
    """An admin's request that cannot be done, with a message to show them."""


def send_now(practice: Practice, by: str, now: datetime | None = None) -> OutcomeReport:
    """Claim everything waiting for the practice now and try to send it at once."""
    now = now or utcnow()
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QueuedOutcome)
        .where(QueuedOutcome.practice_id == practice.id, QueuedOutcome.report_id.is_(None))
    )
    if not waiting:
        raise ReportRefused(f"Nothing is waiting to be reported to {practice.name}.")
    first = db.session.scalar(
        sa.select(sa.func.min(QueuedOutcome.queued_at)).where(
            QueuedOutcome.practice_id == practice.id, QueuedOutcome.report_id.is_(None)
        )
    )
    today = london_date(now)
    period = Period(min(london_date(first), today), today)
    report = claim(practice, period, kind=ReportKind.MANUAL, now=now, by=by)
    if report is None or report.status == S.EMPTY:
        # Someone else's click took the same changes a moment ago.
        raise ReportRefused(f"Those changes were just sent to {practice.name} by someone else.")
    deliver(report.id, now=now, by=by)
    db.session.refresh(report)
    return report


def resend(report: OutcomeReport, by: str, now: datetime | None = None) -> S | None:
    """Send a report again by hand: a failed one, or one kept in the inbox only."""
    now = now or utcnow()
    if report.status in (S.SENDING, S.CLAIMED, S.EMPTY):
        raise ReportRefused("This report cannot be sent again now.")
    moved = db.session.execute(
        sa.update(OutcomeReport)
        .where(OutcomeReport.id == report.id, OutcomeReport.status == report.status)
        .values(status=S.RETRYING, next_attempt_at=now, attempts=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not moved:
        raise ReportRefused("Someone else is sending this report; refresh the page.")
    return deliver(report.id, now=now, by=by)


def preview(practice: Practice, now: datetime | None = None) -> tuple[Period, list[dict]]:
    """What the next report would say if it were sent now; claims nothing."""
    now = now or utcnow()
    waiting = list(
        db.session.scalars(
            sa.select(QueuedOutcome).where(
                QueuedOutcome.practice_id == practice.id, QueuedOutcome.report_id.is_(None)
            )
        )
    )
    return current(practice.report_frequency, london_date(now)), summaries(waiting)
