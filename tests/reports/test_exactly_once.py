"""Each report is sent exactly once: two schedulers, two senders, and processes killed midway.

Runs on both backends through the `app` fixture (SQLite in a file, and PostgreSQL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.workflow import Actor
from portal.reports.delivery import claim, deliver, run_due, run_scheduled
from portal.reports.models import (
    DeliveryStatus,
    OutcomeReport,
    QueuedOutcome,
    ReportAttempt,
)
from portal.reports.periods import london_date, london_midnight
from tests.reports.test_delivery import (
    DAY,
    MAILBOX,
    MORNING,
    attempts,
    close_case,
    daily_practice,
    queue_rows,
    reports,
)


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


S = DeliveryStatus
ROOT = Path(__file__).resolve().parents[2]


def at_once(app, *calls) -> list:
    """Run each call in its own thread and request context, all released together.

    Returns what each returned; fails the test with any exception a thread raised.
    """
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(i, call):
        try:
            with app.test_request_context():
                try:
                    barrier.wait(timeout=30)
                    results[i] = call()
                finally:
                    db.session.remove()
        except Exception as exc:  # collected and reported by the test
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert errors == [], errors
    db.session.expire_all()
    return results


def practices_with_waiting_changes(navigator, hub, count: int = 3) -> list:
    practices = []
    for n in range(count):
        practice = daily_practice(report_mailbox=f"reports.{n}@nhs.net")
        close_case(navigator, hub, practice, f"Family{n}a")
        close_case(navigator, hub, practice, f"Family{n}b")
        practices.append(practice)
    return practices


def reset(smtp_server) -> None:
    """Forget reports and sends between rounds, keeping the practices and their queue."""
    db.session.execute(sa.update(QueuedOutcome).values(report_id=None))
    db.session.execute(sa.delete(ReportAttempt))
    db.session.execute(sa.delete(OutcomeReport))
    db.session.commit()
    smtp_server.messages.clear()


# --- two schedulers at the same moment -------------------------------------------------------


def test_two_morning_runs_at_once_send_each_practice_one_report(app, smtp_server, navigator, hub):
    practices = practices_with_waiting_changes(navigator, hub)
    mailboxes = [p.report_mailbox for p in practices]
    queued = len(queue_rows())

    for _round in range(4):
        summaries = at_once(app, lambda: run_scheduled(MORNING), lambda: run_scheduled(MORNING))

        assert Counter(m["To"] for m in smtp_server.messages) == Counter(mailboxes)
        made = reports()
        keys = [r.claim_key for r in made]
        assert len(keys) == len(set(keys)) == len(practices)
        assert all(r.status == S.SENT for r in made)
        assert all(len(attempts(r)) == 1 for r in made)
        rows = queue_rows()
        assert len(rows) == queued
        assert all(q.report_id is not None for q in rows)
        # Each change went in its own practice's report.
        by_id = {r.id: r for r in made}
        assert all(by_id[q.report_id].practice_id == q.practice_id for q in rows)
        # Between them the two runs claimed each practice once.
        claimed = sorted(i for s in summaries for i in s.claimed)
        assert claimed == sorted(by_id)
        assert sum(s.already for s in summaries) == len(practices)
        assert sum(s.delivered.get("sent", 0) for s in summaries) == len(practices)
        reset(smtp_server)


def test_two_deliveries_of_one_report_at_once_send_one_message(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)
    report_id = report.id

    for _round in range(3):
        results = at_once(
            app, lambda: deliver(report_id, now=MORNING), lambda: deliver(report_id, now=MORNING)
        )
        assert sorted(results, key=str) == sorted([S.SENT, None], key=str)
        assert [m["To"] for m in smtp_server.messages] == [MAILBOX]
        (report,) = reports()
        assert report.status == S.SENT
        assert report.attempts == 1
        assert [a.outcome for a in attempts(report)] == [S.SENT]
        # Back to waiting for the next round.
        db.session.execute(sa.delete(ReportAttempt))
        db.session.execute(
            sa.update(OutcomeReport).values(
                status=S.CLAIMED, attempts=0, sent_at=None, next_attempt_at=MORNING
            )
        )
        db.session.commit()
        smtp_server.messages.clear()


# --- a scheduler killed midway ---------------------------------------------------------------


def test_killed_between_claim_and_send_the_next_runs_send_it_once(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)  # committed; then the process died
    assert report.status == S.CLAIMED

    later = MORNING + timedelta(minutes=2)
    results = at_once(app, lambda: run_due(later), lambda: run_due(later))

    assert [m["To"] for m in smtp_server.messages] == [MAILBOX]
    assert sum(r.delivered.get("sent", 0) for r in results) == 1
    (report,) = reports()
    assert report.status == S.SENT
    assert [a.outcome for a in attempts(report)] == [S.SENT]


def _left_sending(report: OutcomeReport, started) -> None:
    """As a process killed in the middle of sending leaves it."""
    db.session.execute(
        sa.update(OutcomeReport)
        .where(OutcomeReport.id == report.id)
        .values(status=S.SENDING, attempt_started_at=started, attempts=1, next_attempt_at=None)
    )
    db.session.commit()


def test_killed_during_send_it_is_recovered_once_and_sent_once(app, smtp_server, navigator, hub):
    assert app.config["REPORT_STALE_MINUTES"] == 15
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)
    now = MORNING + timedelta(minutes=20)
    _left_sending(report, MORNING)

    results = at_once(app, lambda: run_due(now), lambda: run_due(now))

    assert sum(r.recovered for r in results) == 1
    assert [m["To"] for m in smtp_server.messages] == [MAILBOX]
    (report,) = reports()
    assert report.status == S.SENT
    assert report.attempts == 2
    log = attempts(report)
    assert [(a.outcome, a.by) for a in log] == [(S.RETRYING, "scheduler"), (S.SENT, "scheduler")]
    assert "stopped" in log[0].error

    # Nothing more on the next runs.
    with app.test_request_context():
        run_due(now + timedelta(minutes=30))
    assert len(smtp_server.messages) == 1


def test_a_send_still_in_progress_is_not_recovered(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice)
    with app.test_request_context():
        report = claim(practice, DAY, now=MORNING)
    now = MORNING + timedelta(minutes=20)
    _left_sending(report, now - timedelta(minutes=5))

    results = at_once(app, lambda: run_due(now), lambda: run_due(now))

    assert sum(r.recovered for r in results) == 0
    assert smtp_server.messages == []
    (report,) = reports()
    assert report.status == S.SENDING
    assert attempts(report) == []


# --- two real processes ----------------------------------------------------------------------


def test_two_processes_running_the_job_at_once_send_each_practice_one_report(
    app, smtp_server, navigator, hub, tmp_path
):
    # The processes run now, so the changes are queued during yesterday (London).
    yesterday = london_date(utcnow()) - timedelta(days=1)
    queued_at = london_midnight(yesterday) + timedelta(hours=12)
    practices = []
    for n in range(3):
        practice = daily_practice(report_mailbox=f"reports.{n}@nhs.net")
        close_case(navigator, hub, practice, f"Family{n}a", queued_at=queued_at)
        close_case(navigator, hub, practice, f"Family{n}b", queued_at=queued_at)
        practices.append(practice)
    db.session.commit()

    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "PORTAL_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
        "PORTAL_INSTANCE_DIR": str(tmp_path),
    }
    env.pop("TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "flask", "send-outcome-reports"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]

    assert Counter(m["To"] for m in smtp_server.messages) == Counter(
        p.report_mailbox for p in practices
    ), outputs
    made = reports()
    assert len({r.claim_key for r in made}) == len(made) == len(practices)
    assert all(r.status == S.SENT for r in made)
    assert all(q.report_id is not None for q in queue_rows())
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
        assert "claimed" in out
