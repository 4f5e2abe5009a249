"""The one scheduler process: `flask run-scheduler`. Web workers never start it.

Jobs are module-level functions with fixed ids, so a restart replaces rather
than duplicates them, and each is safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger(__name__)

TIMEZONE = "Europe/London"
JOB_TABLE = "apscheduler_jobs"
_app: Flask | None = None


@contextmanager
def _recorded(job_id: str) -> Iterator[dict]:
    """Run a job's body in the app, keeping when it ran and how it ended for the admin pages.

    The body puts a one-line result in the dict it is given.
    """
    from portal.db_types import utcnow
    from portal.extensions import db
    from portal.jobs.models import JobRun

    outcome: dict = {}
    with _app.test_request_context(base_url=_app.config["PORTAL_URL"]):
        run = _job_run(job_id)
        run.last_started_at = utcnow()
        db.session.commit()
        try:
            yield outcome
        except Exception as exc:
            db.session.rollback()
            _record_error(job_id, f"{type(exc).__name__}: {exc}")
            raise
        run = db.session.get(JobRun, job_id)
        run.last_finished_at = utcnow()
        run.last_result = outcome.get("result")
        db.session.commit()


def _job_run(job_id: str):
    """The job's row, made if missing; two processes starting the same job both get it."""
    from sqlalchemy.dialects import postgresql, sqlite

    from portal.extensions import db
    from portal.jobs.models import JobRun

    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(JobRun).values(job_id=job_id).on_conflict_do_nothing())
    return db.session.get(JobRun, job_id)


def _record_error(job_id: str, error: str) -> None:
    from portal.db_types import utcnow
    from portal.extensions import db

    run = _job_run(job_id)
    run.last_error = error[:2000]
    run.last_error_at = utcnow()
    db.session.commit()


def send_outcome_reports() -> None:
    """The morning run: claim each practice's report for its last whole period and send it."""
    from portal.reports.delivery import run_scheduled

    with _recorded("send_outcome_reports") as outcome:
        outcome["result"] = run_scheduled().words()
        log.info("outcome reports: %s", outcome["result"])


def retry_outcome_reports() -> None:
    """Every few minutes: notices of closed cases, retries after a failure, stale sends."""
    from portal.reports.delivery import run_due

    with _recorded("retry_outcome_reports") as outcome:
        outcome["result"] = run_due().words()


def purge_rate_limit_counters() -> None:
    """Delete rate-limit windows that have ended, so the table stays small."""
    from portal.auth.ratelimit import DatabaseStorage

    with _recorded("purge_rate_limit_counters") as outcome:
        removed = DatabaseStorage().purge_expired()
        outcome["result"] = f"purged {removed} expired rate-limit counters"
        log.info(outcome["result"])


def send_volunteer_expiry_reminders() -> None:
    """Email volunteers whose DBS check or training runs out soon; each reminder goes once."""
    from portal.db_types import london_today
    from portal.volunteers.reminders import send_expiry_reminders

    # The recorded context has the portal's public address, so links in the emails work.
    with _recorded("send_volunteer_expiry_reminders") as outcome:
        sent = send_expiry_reminders(london_today())
        outcome["result"] = f"sent {sent} volunteer expiry reminders"
        log.info(outcome["result"])


def flag_stale_activities() -> None:
    """Tell organisations which published listings have not been checked for months."""
    from portal.db_types import london_today
    from portal.directory.listings import flag_stale_activities as flag

    with _recorded("flag_stale_activities") as outcome:
        flagged = flag(london_today())
        outcome["result"] = f"flagged {flagged} activities that may be out of date"
        log.info(outcome["result"])


def send_activity_referral_reminders() -> None:
    """Remind organisations of answers due soon; tell navigators of answers that lapsed."""
    from portal.db_types import london_today
    from portal.directory.activity_referrals import send_deadline_reminders

    with _recorded("send_activity_referral_reminders") as outcome:
        reminded, lapsed = send_deadline_reminders(london_today())
        outcome["result"] = f"activity referrals: {reminded} reminders, {lapsed} lapsed"
        log.info(outcome["result"])


def rebuild_dashboard_facts() -> None:
    """Work out every referral's dashboard facts from scratch: the safety net behind
    marking changed referrals, and the day a bank holiday list changes."""
    from portal.dashboard import facts
    from portal.extensions import db

    with _recorded("rebuild_dashboard_facts") as outcome:
        count = facts.rebuild()
        db.session.commit()
        outcome["result"] = f"worked out the dashboard facts of {count} referrals"
        log.info(outcome["result"])


def anonymise_closed_cases() -> None:
    """Clear what identifies people whose cases closed longer ago than the retention period."""
    from portal.db_types import london_today
    from portal.governance.retention import anonymise_closed_cases as anonymise

    with _recorded("anonymise_closed_cases") as outcome:
        count = anonymise(london_today())
        outcome["result"] = f"anonymised {count} people whose cases closed long ago"
        log.info(outcome["result"])


def anonymise_former_volunteers() -> None:
    """Clear what identifies volunteers who left longer ago than the retention period."""
    from portal.db_types import london_today
    from portal.governance.retention import anonymise_former_volunteers as anonymise

    with _recorded("anonymise_former_volunteers") as outcome:
        count = anonymise(london_today())
        outcome["result"] = f"anonymised {count} volunteers who left long ago"
        log.info(outcome["result"])


def use_app(app: Flask) -> None:
    """The app whose context the jobs run in."""
    global _app
    _app = app


def build_scheduler(app: Flask) -> BlockingScheduler:
    use_app(app)
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        jobstores={
            "default": SQLAlchemyJobStore(
                url=app.config["SQLALCHEMY_DATABASE_URI"], tablename=JOB_TABLE
            )
        },
        job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1},
    )
    scheduler.add_job(
        send_outcome_reports,
        "cron",
        hour=app.config["REPORT_RUN_HOUR"],
        minute=0,
        id="send_outcome_reports",
        replace_existing=True,
    )
    scheduler.add_job(
        retry_outcome_reports,
        "interval",
        minutes=2,
        id="retry_outcome_reports",
        replace_existing=True,
    )
    scheduler.add_job(
        purge_rate_limit_counters,
        "cron",
        hour=3,
        minute=15,
        id="purge_rate_limit_counters",
        replace_existing=True,
    )
    scheduler.add_job(
        send_volunteer_expiry_reminders,
        "cron",
        hour=7,
        minute=30,
        id="send_volunteer_expiry_reminders",
        replace_existing=True,
    )

    scheduler.add_job(
        flag_stale_activities,
        "cron",
        hour=7,
        minute=40,
        id="flag_stale_activities",
        replace_existing=True,
    )
    scheduler.add_job(
        send_activity_referral_reminders,
        "cron",
        hour=7,
        minute=50,
        id="send_activity_referral_reminders",
        replace_existing=True,
    )

    scheduler.add_job(
        rebuild_dashboard_facts,
        "cron",
        hour=2,
        minute=30,
        id="rebuild_dashboard_facts",
        replace_existing=True,
    )
    scheduler.add_job(
        anonymise_closed_cases,
        "cron",
        hour=3,
        minute=30,
        id="anonymise_closed_cases",
        replace_existing=True,
    )
    scheduler.add_job(
        anonymise_former_volunteers,
        "cron",
        hour=3,
        minute=40,
        id="anonymise_former_volunteers",
        replace_existing=True,
    )

    def _report(event) -> None:
        kind = "missed" if event.code == EVENT_JOB_MISSED else "failed"
        error = getattr(event, "exception", None) or ""
        log.error("scheduled job %s %s: %s", event.job_id, kind, error)
        if kind == "missed":
            with app.app_context():
                _record_error(event.job_id, "Missed its run time (the scheduler was not running).")

    scheduler.add_listener(_report, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def run(app: Flask) -> None:
    scheduler = build_scheduler(app)
    log.info("scheduler starting with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
