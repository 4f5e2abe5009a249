"""Delivering outcome reports to GP practices: what is sent, to whom, and what happens on failure.

Every test reads what a real SMTP server on loopback received, and the database.
Cases are closed through the referral workflow, so the queue is filled as in real use.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals import workflow
from portal.referrals.models import ClosureReason, Referral, ReferralStatus, ReportFrequency, Route
from portal.referrals.workflow import Actor
from portal.reports.delivery import (
    ReportRefused,
    claim,
    mailbox_problem,
    resend,
    run_due,
    run_scheduled,
    send_now,
)
from portal.reports.models import (
    DeliveryStatus,
    OutcomeReport,
    QueuedOutcome,
    ReportAttempt,
    ReportKind,
)
from portal.reports.periods import Period, london_date, london_midnight
from tests.factories import make_practice, make_referral, make_resident, make_user

S = DeliveryStatus

# A Wednesday in March (GMT): the change is queued then, the daily report goes the next morning.
QUEUED = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
MORNING = datetime(2025, 3, 6, 7, 0, tzinfo=UTC)
DAY = Period(date(2025, 3, 5), date(2025, 3, 5))
MAILBOX = "reports.practice@nhs.net"


# --- helpers, shared with the other report tests ---------------------------------------------


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


def daily_practice(**kw):
    kw.setdefault("report_mailbox", MAILBOX)
    kw.setdefault("report_frequency", ReportFrequency.DAILY)
    return make_practice(**kw)


def close_case(
    navigator,
    hub: Actor,
    practice,
    family: str = "Lovelace",
    given: str = "Ada",
    queued_at: datetime | None = QUEUED,
) -> Referral:
    """A case supported by `navigator`, closed through the workflow, queued at `queued_at`."""
    resident = make_resident(given_name=given, family_name=family)
    referral = make_referral(
        resident=resident,
        practice=practice,
        status=ReferralStatus.ACTIVE,
        received_at=utcnow() - timedelta(days=20),
        first_contact_at=utcnow() - timedelta(days=19),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        triaged_at=utcnow() - timedelta(days=19),
        navigator_id=navigator.id,
        assigned_at=utcnow() - timedelta(days=10),
    )
    workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
    db.session.commit()
    if queued_at is not None:
        set_queued_at(referral, queued_at)
    return referral


def set_queued_at(referral: Referral, when: datetime) -> None:
    db.session.execute(
        sa.update(QueuedOutcome)
        .where(QueuedOutcome.referral_id == referral.id)
        .values(queued_at=when)
    )
    db.session.commit()
    db.session.expire_all()


def reports(*where) -> list[OutcomeReport]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(OutcomeReport).where(*where).order_by(OutcomeReport.id))
    )


def attempts(report: OutcomeReport) -> list[ReportAttempt]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(ReportAttempt)
            .where(ReportAttempt.report_id == report.id)
            .order_by(ReportAttempt.id)
        )
    )


def queue_rows(*where) -> list[QueuedOutcome]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(QueuedOutcome).where(*where).order_by(QueuedOutcome.id))
    )


def to(smtp_server, address: str) -> list:
    return [m for m in smtp_server.messages if m["To"] == address]


def attachments(message) -> dict[str, tuple[str, bytes | str]]:
    """Attachment extension -> (filename, content)."""
    found = {}
    for part in message.iter_attachments():
        name = part.get_filename()
        found[name.rsplit(".", 1)[1]] = (name, part.get_content())
    return found


def people_in(message) -> list[dict]:
    _, content = attachments(message)["json"]
    if isinstance(content, bytes):
        content = content.decode()
    return json.loads(content)["people"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a report is delivered -------------------------------------------------------------------


def test_a_report_is_delivered_once_with_its_letter_codes_and_json(
    app, smtp_server, navigator, hub
):
    practice = daily_practice(name="Earlsdon Surgery")
    first = close_case(navigator, hub, practice, "Lovelace", "Ada")
    second = close_case(navigator, hub, practice, "Hopper", "Grace")

    with app.test_request_context():
        summary = run_scheduled(MORNING)

    (report,) = reports()
    assert summary.claimed == [report.id]
    assert summary.delivered == {"sent": 1}
    (message,) = smtp_server.messages
    assert message["To"] == MAILBOX
    subject = message["Subject"]
    assert "Earlsdon Surgery" in subject
    assert practice.ods_code in subject
    assert "5 March 2025" in subject
    for name in ("Lovelace", "Hopper", "Ada", "Grace"):
        assert name not in subject
    assert message["Message-ID"] == report.message_id

    files = attachments(message)
    assert set(files) == {"pdf", "csv", "json"}
    pdf_name, pdf_bytes = files["pdf"]
    assert pdf_name.startswith(f"outcome-report-{practice.ods_code}-20250305-20250305")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages)
    for name in ("Ada", "Lovelace", "Grace", "Hopper"):
        assert name in text
    _, coded = files["csv"]
    if isinstance(coded, bytes):
        coded = coded.decode()
    rows = list(csv.DictReader(io.StringIO(coded)))
    assert {r["family_name"] for r in rows} == {"Lovelace", "Hopper"}
    assert {r["practice_ods_code"] for r in rows} == {practice.ods_code}
    people = people_in(message)
    assert sorted(p["reference"] for p in people) == sorted([first.reference, second.reference])

    assert report.status == S.SENT
    assert report.sent_to == MAILBOX
    assert report.sent_at is not None
    assert report.attempts == 1
    assert report.last_error is None
    assert report.next_attempt_at is None
    assert sorted(report.referral_ids) == sorted([first.id, second.id])
    ((outcome, sent_to, error, by),) = [
        (a.outcome, a.sent_to, a.error, a.by) for a in attempts(report)
    ]
    assert (outcome, sent_to, error, by) == (S.SENT, MAILBOX, None, "scheduler")
    assert {q.report_id for q in queue_rows()} == {report.id}

    # The next runs send nothing more.
    with app.test_request_context():
        again = run_scheduled(MORNING + timedelta(hours=1))
        run_due(MORNING + timedelta(hours=2))
    assert again.already == 1
    assert len(smtp_server.messages) == 1


# --- practices that cannot get email ---------------------------------------------------------


def test_a_practice_without_a_mailbox_keeps_the_report_in_its_inbox(
    app, smtp_server, navigator, hub, admin, client, login
):
    practice = daily_practice(report_mailbox=None)
    close_case(navigator, hub, practice, "Lovelace", "Ada")

    with app.test_request_context():
        run_scheduled(MORNING)

    assert smtp_server.messages == []
    (report,) = reports()
    assert report.status == S.INBOX_ONLY
    assert report.sent_to is None
    assert report.next_attempt_at is None
    assert "no report mailbox" in report.last_error
    assert "portal inbox" in report.last_error
    ((outcome, error),) = [(a.outcome, a.error) for a in attempts(report)]
    assert outcome == S.INBOX_ONLY
    assert error == report.last_error

    # Nothing more is tried later.
    with app.test_request_context():
        run_due(MORNING + timedelta(days=1))
    assert smtp_server.messages == []

    # The admin pages warn about it, in mailbox_problem's words.
    problem = mailbox_problem(None)
    assert problem == report.last_error
    login(admin)
    page = client.get(f"/admin/reports/practices/{practice.id}").get_data(as_text=True)
    assert "Reports are not emailed" in page
    assert problem in page
    assert problem in client.get("/admin/reports").get_data(as_text=True)
    client.post("/logout")

    # The practice still reads it in the portal.
    reader = make_user(Role.PRACTICE_USER, practice_id=practice.id)
    login(reader)
    response = client.get(f"/reports/{report.id}")
    assert response.status_code == 200
    assert "Lovelace" in response.get_data(as_text=True)


@pytest.mark.parametrize("address", ["not an address", "a@@b"])
def test_an_invalid_mailbox_fails_at_once_and_tells_the_admins(
    app, smtp_server, navigator, hub, admin, address
):
    practice = daily_practice(report_mailbox=address)
    close_case(navigator, hub, practice)

    with app.test_request_context():
        run_scheduled(MORNING)
        run_due(MORNING + timedelta(minutes=5))
        run_due(MORNING + timedelta(days=1))

    (report,) = reports()
    assert report.status == S.FAILED
    assert report.attempts == 1
    assert report.next_attempt_at is None
    assert address in report.last_error
    assert "not a valid email address" in report.last_error
    assert [a.outcome for a in attempts(report)] == [S.FAILED]
    # Only the admins hear about it.
    assert [m["To"] for m in smtp_server.messages] == [admin.email]
    (alert,) = smtp_server.messages
    assert practice.name in alert["Subject"]
    assert address in alert.get_body().get_content()
    assert mailbox_problem(address) is not None


@pytest.mark.parametrize("address", [" ", ""])
def test_a_blank_mailbox_is_no_mailbox(app, smtp_server, navigator, hub, admin, address):
    practice = daily_practice(report_mailbox=address)
    close_case(navigator, hub, practice)

    with app.test_request_context():
        run_scheduled(MORNING)

    (report,) = reports()
    assert report.status == S.INBOX_ONLY
    assert smtp_server.messages == []


# --- the mail server is down -----------------------------------------------------------------


def test_a_send_that_fails_is_retried_with_growing_waits_then_fails_and_can_be_resent(
    app, smtp_server, navigator, hub, admin
):
    assert app.config["REPORT_MAX_ATTEMPTS"] == 5
    assert app.config["REPORT_RETRY_MINUTES"] == 5
    port = app.config["MAIL_PORT"]
    practice = daily_practice()
    first = close_case(navigator, hub, practice, "Lovelace")
    second = close_case(navigator, hub, practice, "Hopper")
    app.config["MAIL_PORT"] = closed_port()

    now = MORNING
    with app.test_request_context():
        run_scheduled(now)
        (report,) = reports()
        for attempt, wait in enumerate((5, 15, 45, 135), start=1):
            report = reports()[0]
            assert report.status == S.RETRYING
            assert report.attempts == attempt
            assert report.next_attempt_at == now + timedelta(minutes=wait)
            assert "mail server did not take" in report.last_error
            # Not before its time...
            run_due(now + timedelta(minutes=wait - 1))
            assert reports()[0].attempts == attempt
            # ...and then it is tried again.
            now += timedelta(minutes=wait)
            run_due(now)

    report = reports()[0]
    assert report.status == S.FAILED
    assert report.attempts == 5
    assert report.next_attempt_at is None
    assert [a.outcome for a in attempts(report)] == [S.RETRYING] * 4 + [S.FAILED]
    assert [a.at for a in attempts(report)] == [
        MORNING,
        MORNING + timedelta(minutes=5),
        MORNING + timedelta(minutes=20),
        MORNING + timedelta(minutes=65),
        MORNING + timedelta(minutes=200),
    ]
    assert smtp_server.messages == []
    # Nothing waiting was lost: the report still carries both changes.
    assert {q.report_id for q in queue_rows()} == {report.id}
    assert sorted(report.referral_ids) == sorted([first.id, second.id])

    # Failed reports are not retried on their own.
    with app.test_request_context():
        run_due(now + timedelta(days=1))
    assert reports()[0].attempts == 5

    # The server is back: an admin resends it, once.
    app.config["MAIL_PORT"] = port
    with app.test_request_context():
        assert resend(report, by="Admin", now=now + timedelta(days=1)) == S.SENT
        run_due(now + timedelta(days=1, minutes=5))
        run_due(now + timedelta(days=2))
        run_scheduled(now + timedelta(days=1, minutes=10))

    report = reports(OutcomeReport.id == report.id)[0]
    assert report.status == S.SENT
    assert report.sent_to == MAILBOX
    (message,) = to(smtp_server, MAILBOX)
    assert message["Message-ID"] == report.message_id
    assert sorted(p["patient"]["family_name"] for p in people_in(message)) == ["Hopper", "Lovelace"]
    assert attempts(report)[-1].outcome == S.SENT
    assert attempts(report)[-1].by == "Admin"


# --- nothing to report -----------------------------------------------------------------------


def test_a_period_with_no_activity_is_logged_and_not_emailed(app, smtp_server, caplog, monkeypatch):
    practice = daily_practice()
    # Alembic's fileConfig (run by the migrations in conftest) disables loggers made before it.
    monkeypatch.setattr(logging.getLogger("portal.reports.delivery"), "disabled", False)
    caplog.set_level(logging.INFO, logger="portal.reports.delivery")

    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)
        run_due(MORNING + timedelta(minutes=1))

    assert report.status == S.EMPTY
    assert report.next_attempt_at is None
    assert report.people == 0
    assert smtp_server.messages == []
    assert attempts(report) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.reports.delivery"]
    assert any(practice.ods_code in line and "nothing to report" in line for line in lines), lines


def test_the_morning_run_counts_empty_periods(app, smtp_server):
    practice = daily_practice()
    with app.test_request_context():
        summary = run_scheduled(MORNING)
    (report,) = reports(OutcomeReport.practice_id == practice.id)
    assert summary.empty == [report.id]
    assert summary.claimed == []
    assert smtp_server.messages == []


# --- notices of a closed case ----------------------------------------------------------------


def test_closing_a_case_claims_a_notice_that_the_next_run_sends(app, smtp_server, navigator, hub):
    practice = daily_practice(notify_on_close=True)
    other = close_case(navigator, hub, practice, "Hopper", "Grace", queued_at=None)
    referral = close_case(navigator, hub, practice, "Lovelace", "Ada", queued_at=None)
    (queued,) = queue_rows(QueuedOutcome.referral_id == referral.id)

    notices = reports(OutcomeReport.kind == ReportKind.NOTICE)
    assert len(notices) == 2
    notice = next(r for r in notices if r.claim_key == f"notice:{queued.id}")
    assert notice.status == S.CLAIMED
    assert notice.referral_ids == [referral.id]

    now = utcnow() + timedelta(minutes=1)
    with app.test_request_context():
        summary = run_due(now)
        run_due(now + timedelta(minutes=2))
    assert summary.delivered == {"sent": 2}
    assert len(smtp_server.messages) == 2
    message = next(m for m in smtp_server.messages if m["Message-ID"] == notice.message_id)
    assert message["To"] == MAILBOX
    assert message["Subject"].startswith("Social prescribing notice")
    assert "Lovelace" not in message["Subject"]
    (person,) = people_in(message)
    assert person["reference"] == referral.reference
    assert person["event"] == "closed"
    assert reports(OutcomeReport.id == notice.id)[0].status == S.SENT

    # The change is still waiting for the practice's regular report, which is the record.
    assert queue_rows(QueuedOutcome.referral_id == referral.id)[0].report_id is None
    today = london_date(now)
    with app.test_request_context():
        periodic = claim(practice, Period(today, today), now=now + timedelta(minutes=5))
    assert periodic.kind == ReportKind.SCHEDULED
    assert sorted(periodic.referral_ids) == sorted([referral.id, other.id])


def test_reopening_before_the_notice_is_sent_withdraws_it(app, smtp_server, navigator, hub):
    practice = daily_practice(notify_on_close=True)
    referral = close_case(navigator, hub, practice, queued_at=None)
    (queued,) = queue_rows()
    assert [r.claim_key for r in reports()] == [f"notice:{queued.id}"]

    workflow.reopen(referral, hub, "Moved back to the area")
    db.session.commit()

    assert reports() == []
    assert queue_rows() == []
    with app.test_request_context():
        run_due(utcnow() + timedelta(minutes=5))
    assert smtp_server.messages == []


def test_a_practice_not_asking_for_notices_gets_none(app, smtp_server, navigator, hub):
    practice = daily_practice(notify_on_close=False)
    close_case(navigator, hub, practice, queued_at=None)
    assert reports() == []
    with app.test_request_context():
        run_due(utcnow() + timedelta(minutes=5))
    assert smtp_server.messages == []


# --- nothing waiting is lost -----------------------------------------------------------------


def test_a_change_no_report_took_is_carried_into_the_next_report(app, smtp_server, navigator, hub):
    practice = daily_practice()
    # Queued on Monday; Tuesday's run never happened for it.
    missed = close_case(navigator, hub, practice, "Hopper", queued_at=QUEUED - timedelta(days=2))
    on_time = close_case(navigator, hub, practice, "Lovelace", queued_at=QUEUED)
    # Queued this morning, after the period ended: it waits for tomorrow.
    later = close_case(navigator, hub, practice, "Turing", queued_at=MORNING - timedelta(hours=1))

    with app.test_request_context():
        run_scheduled(MORNING)

    (report,) = reports()
    assert (report.period_start, report.period_end) == (DAY.start, DAY.end)
    assert sorted(report.referral_ids) == sorted([missed.id, on_time.id])
    (message,) = smtp_server.messages
    assert sorted(p["patient"]["family_name"] for p in people_in(message)) == ["Hopper", "Lovelace"]
    (waiting,) = queue_rows(QueuedOutcome.report_id.is_(None))
    assert waiting.referral_id == later.id

    with app.test_request_context():
        run_scheduled(MORNING + timedelta(days=1))
    tomorrow = reports()[-1]
    assert tomorrow.referral_ids == [later.id]
    assert len(smtp_server.messages) == 2
    assert queue_rows(QueuedOutcome.report_id.is_(None)) == []


def test_a_reopened_case_is_withdrawn_from_the_unsent_queue(app, smtp_server, navigator, hub):
    practice = daily_practice()
    reopened = close_case(navigator, hub, practice, "Hopper")
    kept = close_case(navigator, hub, practice, "Lovelace")

    workflow.reopen(reopened, hub, "Moved back")
    db.session.commit()

    assert [q.referral_id for q in queue_rows()] == [kept.id]
    with app.test_request_context():
        run_scheduled(MORNING)
    (report,) = reports()
    assert report.referral_ids == [kept.id]
    (message,) = smtp_server.messages
    assert [p["reference"] for p in people_in(message)] == [kept.reference]


def test_a_reopened_case_stays_in_a_report_already_sent(app, smtp_server, navigator, hub):
    practice = daily_practice()
    referral = close_case(navigator, hub, practice)
    with app.test_request_context():
        run_scheduled(MORNING)
    (report,) = reports()

    workflow.reopen(referral, hub, "Moved back")
    db.session.commit()

    assert [(q.referral_id, q.report_id) for q in queue_rows()] == [(referral.id, report.id)]


# --- by hand ---------------------------------------------------------------------------------


def test_send_now_with_nothing_waiting_is_refused(app, smtp_server):
    practice = daily_practice()
    with app.test_request_context(), pytest.raises(ReportRefused, match="Nothing is waiting"):
        send_now(practice, by="Admin", now=MORNING)
    assert reports() == []
    assert smtp_server.messages == []


def test_send_now_sends_what_is_waiting_and_a_second_send_only_what_is_new(
    app, smtp_server, navigator, hub
):
    practice = daily_practice()
    first = close_case(navigator, hub, practice, "Lovelace", queued_at=QUEUED)

    with app.test_request_context():
        report = send_now(practice, by="Admin", now=QUEUED + timedelta(hours=2))
    assert report.kind == ReportKind.MANUAL
    assert report.status == S.SENT
    assert report.claimed_by == "Admin"
    assert report.referral_ids == [first.id]
    (message,) = smtp_server.messages
    assert message["To"] == MAILBOX

    # Sent again the same day: only the change since, never the one already sent.
    second = close_case(navigator, hub, practice, "Hopper", queued_at=QUEUED + timedelta(hours=3))
    with app.test_request_context():
        again = send_now(practice, by="Admin", now=QUEUED + timedelta(hours=4))
    assert again.referral_ids == [second.id]
    (message2,) = smtp_server.messages[1:]
    assert [p["reference"] for p in people_in(message2)] == [second.reference]
    # Nothing is left for the scheduled report, so it sends nothing.
    with app.test_request_context():
        run_scheduled(MORNING)
    assert len(smtp_server.messages) == 2


def test_send_now_with_nothing_new_after_a_hand_send_is_refused(app, smtp_server, navigator, hub):
    """A second click after the first took everything sends nothing twice."""
    practice = daily_practice()
    close_case(navigator, hub, practice, "Lovelace", queued_at=QUEUED - timedelta(days=2))
    with app.test_request_context():
        send_now(practice, by="Admin", now=QUEUED + timedelta(hours=2))
    assert len(smtp_server.messages) == 1
    with app.test_request_context(), pytest.raises(ReportRefused, match="Nothing is waiting"):
        send_now(practice, by="Admin", now=QUEUED + timedelta(hours=2, seconds=1))
    assert len(smtp_server.messages) == 1


def test_a_london_day_is_not_a_utc_day_for_send_now(app, smtp_server, navigator, hub):
    """In British Summer Time, 23:30 UTC is already the next day in London."""
    practice = daily_practice()
    evening = datetime(2025, 7, 1, 22, 30, tzinfo=UTC)  # 23:30 London, 1 July
    late = datetime(2025, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 London, 2 July
    close_case(navigator, hub, practice, "Lovelace", queued_at=evening - timedelta(minutes=10))
    with app.test_request_context():
        first = send_now(practice, by="Admin", now=evening)
    close_case(navigator, hub, practice, "Hopper", queued_at=late - timedelta(minutes=10))
    with app.test_request_context():
        second = send_now(practice, by="Admin", now=late)
    assert (first.period_end, second.period_end) == (date(2025, 7, 1), date(2025, 7, 2))
    assert len(smtp_server.messages) == 2
    assert london_midnight(date(2025, 7, 2)) == datetime(2025, 7, 1, 23, 0, tzinfo=UTC)


def test_resending_a_sent_report_goes_to_the_changed_mailbox(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        run_scheduled(MORNING)
    (report,) = reports()
    assert report.status == S.SENT

    practice = db.session.get(type(practice), practice.id)
    practice.report_mailbox = "new.reports@nhs.net"
    db.session.commit()
    with app.test_request_context():
        assert resend(report, by="Admin", now=MORNING + timedelta(hours=1)) == S.SENT
        run_due(MORNING + timedelta(hours=2))

    assert [m["To"] for m in smtp_server.messages] == [MAILBOX, "new.reports@nhs.net"]
    # The same Message-ID, so a mail system can tell it is the same report.
    assert {m["Message-ID"] for m in smtp_server.messages} == {report.message_id}
    report = reports()[0]
    assert report.sent_to == "new.reports@nhs.net"
    assert [(a.outcome, a.sent_to, a.by) for a in attempts(report)] == [
        (S.SENT, MAILBOX, "scheduler"),
        (S.SENT, "new.reports@nhs.net", "Admin"),
    ]


@pytest.mark.parametrize("status", [S.CLAIMED, S.SENDING, S.EMPTY])
def test_resend_refuses_a_report_not_finished(app, smtp_server, navigator, hub, status):
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)
    report.status = status
    db.session.commit()
    with app.test_request_context(), pytest.raises(ReportRefused):
        resend(report, by="Admin", now=MORNING)
    assert smtp_server.messages == []
