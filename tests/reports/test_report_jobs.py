"""The outcome report jobs: how the scheduler registers them, what they record, and the CLI."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from portal import scheduler
from portal.db_types import utcnow
from portal.extensions import db
from portal.jobs.models import JobRun
from portal.referrals.workflow import Actor
from portal.reports import delivery
from portal.reports.periods import london_date, london_midnight
from tests.reports.test_delivery import (
    MAILBOX,
    close_case,
    daily_practice,
    reports,
)


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


REPORT_JOBS = ("send_outcome_reports", "retry_outcome_reports")


def _yesterday_noon():
    """Queued during the last whole day, so a run now (real time) reports it."""
    return london_midnight(london_date(utcnow()) - timedelta(days=1)) + timedelta(hours=12)


def job_run(job_id: str) -> JobRun | None:
    db.session.expire_all()
    return db.session.get(JobRun, job_id)


# --- registration ----------------------------------------------------------------------------


def test_the_report_jobs_have_fixed_ids_triggers_and_the_london_clock(app):
    built = scheduler.build_scheduler(app)
    jobs = {job.id: job for job in built.get_jobs()}
    assert set(REPORT_JOBS) <= set(jobs)
    ids = [job.id for job in built.get_jobs()]
    assert len(ids) == len(set(ids))

    assert str(built.timezone) == "Europe/London"
    send = jobs["send_outcome_reports"]
    assert isinstance(send.trigger, CronTrigger)
    assert str(send.trigger) == f"cron[hour='{app.config['REPORT_RUN_HOUR']}', minute='0']"
    assert str(send.trigger.timezone) == "Europe/London"
    assert send.func is scheduler.send_outcome_reports
    retry = jobs["retry_outcome_reports"]
    assert isinstance(retry.trigger, IntervalTrigger)
    assert retry.trigger.interval <= timedelta(minutes=app.config["REPORT_RETRY_MINUTES"])
    assert retry.func is scheduler.retry_outcome_reports

    defaults = built._job_defaults
    assert defaults["coalesce"] is True
    assert defaults["max_instances"] == 1
    grace = defaults["misfire_grace_time"]
    assert grace >= 3600
    assert grace % 3600 == 0

    store = built._jobstores["default"]
    assert isinstance(store, SQLAlchemyJobStore)
    assert store.jobs_t.name == scheduler.JOB_TABLE
    assert store.engine.url.render_as_string(hide_password=False) == make_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    ).render_as_string(hide_password=False)
    store.engine.dispose()


def test_the_run_hour_comes_from_config(app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORT_RUN_HOUR", 6)
    built = scheduler.build_scheduler(app)
    jobs = {job.id: job for job in built.get_jobs()}
    assert str(jobs["send_outcome_reports"].trigger) == "cron[hour='6', minute='0']"
    built._jobstores["default"].engine.dispose()


def _start_paused_and_stop(built) -> list:
    """Start a BlockingScheduler paused in a thread (it blocks), read its store, stop it."""
    errors: list = []

    def run():
        try:
            built.start(paused=True)
        except Exception as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(200):
        if built.running:
            break
        threading.Event().wait(0.05)
    jobs = built.get_jobs()
    built.shutdown(wait=False)
    thread.join(timeout=30)
    assert not thread.is_alive()
    # The store's engine: closed here whatever the scheduler's shutdown did with it.
    built._jobstores["default"].engine.dispose()
    assert errors == []
    return jobs


def test_the_jobs_are_stored_in_the_app_database_once_however_often_it_starts(app):
    try:
        for _ in range(2):
            jobs = _start_paused_and_stop(scheduler.build_scheduler(app))
            stored = {job.id: job for job in jobs}
            assert len(stored) == len(jobs)
            send = stored["send_outcome_reports"]
            assert send.coalesce is True
            assert send.misfire_grace_time % 3600 == 0
            assert send.max_instances == 1
            assert send.next_run_time.tzinfo is not None

        with db.engine.connect() as conn:
            query = sa.text(f"SELECT id FROM {scheduler.JOB_TABLE}")  # noqa: S608 - a constant
            ids = conn.execute(query).scalars().all()
        assert sorted(ids) == sorted(set(ids))
        assert set(REPORT_JOBS) <= set(ids)
        # The scheduler's own table is not part of the app's schema.
        assert scheduler.JOB_TABLE not in db.metadata.tables
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {scheduler.JOB_TABLE}"))


# --- what the jobs record --------------------------------------------------------------------


def test_the_morning_job_sends_and_records_its_run(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice, queued_at=_yesterday_noon())
    scheduler.use_app(app)
    before = utcnow()

    scheduler.send_outcome_reports()

    assert [m["To"] for m in smtp_server.messages] == [MAILBOX]
    run = job_run("send_outcome_reports")
    assert before <= run.last_started_at <= run.last_finished_at <= utcnow()
    assert run.last_result.startswith("1 report claimed")
    assert "1 sent" in run.last_result
    assert run.last_error is None

    scheduler.send_outcome_reports()
    assert len(smtp_server.messages) == 1
    assert "1 already claimed" in job_run("send_outcome_reports").last_result


def test_the_retry_job_sends_notices_and_records_its_run(app, smtp_server, navigator, hub):
    practice = daily_practice(notify_on_close=True)
    close_case(navigator, hub, practice, queued_at=None)
    scheduler.use_app(app)

    scheduler.retry_outcome_reports()

    (message,) = smtp_server.messages
    assert message["Subject"].startswith("Social prescribing notice")
    run = job_run("retry_outcome_reports")
    assert run.last_finished_at is not None
    assert run.last_result.endswith("1 sent")
    assert run.last_error is None


def test_a_job_that_fails_records_the_error(app, smtp_server, monkeypatch):
    def broken(now=None):
        raise RuntimeError("database went away")

    monkeypatch.setattr(delivery, "run_scheduled", broken)
    scheduler.use_app(app)

    with pytest.raises(RuntimeError, match="database went away"):
        scheduler.send_outcome_reports()

    run = job_run("send_outcome_reports")
    assert run.last_started_at is not None
    assert run.last_finished_at is None
    assert run.last_error == "RuntimeError: database went away"
    assert run.last_error_at is not None
    assert run.last_result is None


def test_a_later_success_keeps_the_time_of_the_last_error(app, smtp_server, monkeypatch):
    scheduler.use_app(app)
    with monkeypatch.context() as patched:
        patched.setattr(delivery, "run_due", lambda now=None: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            scheduler.retry_outcome_reports()
    scheduler.retry_outcome_reports()
    run = job_run("retry_outcome_reports")
    assert run.last_error.startswith("ZeroDivisionError")
    assert run.last_finished_at >= run.last_error_at
    assert run.last_result is not None


# --- the command -----------------------------------------------------------------------------


def test_the_command_prints_the_summary_and_a_second_run_sends_nothing(
    app, smtp_server, navigator, hub
):
    practice = daily_practice()
    close_case(navigator, hub, practice, queued_at=_yesterday_noon())
    runner = app.test_cli_runner()

    first = runner.invoke(args=["send-outcome-reports"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 report claimed")
    assert "0 already claimed" in first.output
    assert "1 sent" in first.output
    assert [m["To"] for m in smtp_server.messages] == [MAILBOX]

    second = runner.invoke(args=["send-outcome-reports"])
    assert second.exit_code == 0, second.output
    assert "0 reports claimed" in second.output
    assert "1 already claimed" in second.output
    assert "none sent" in second.output
    assert len(smtp_server.messages) == 1
    assert len(reports()) == 1


def test_the_command_due_only_claims_nothing_new(app, smtp_server, navigator, hub):
    practice = daily_practice()
    close_case(navigator, hub, practice, queued_at=_yesterday_noon())

    result = app.test_cli_runner().invoke(args=["send-outcome-reports", "--due-only"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 reports claimed")
    assert "none sent" in result.output
    assert smtp_server.messages == []
    assert reports() == []
