"""The one scheduler process: `flask run-scheduler`. Web workers never start it.

Jobs are module-level functions with fixed ids, so a restart replaces rather
than duplicates them, and each is safe to run twice.
"""

from __future__ import annotations

import logging

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger(__name__)

TIMEZONE = "Europe/London"
JOB_TABLE = "apscheduler_jobs"
_app: Flask | None = None


def purge_rate_limit_counters() -> None:
    """Delete rate-limit windows that have ended, so the table stays small."""
    from portal.auth.ratelimit import DatabaseStorage

    with _app.app_context():
        removed = DatabaseStorage().purge_expired()
        log.info("purged %d expired rate-limit counters", removed)


def send_volunteer_expiry_reminders() -> None:
    """Email volunteers whose DBS check or training runs out soon; each reminder goes once."""
    from portal.db_types import london_today
    from portal.volunteers.reminders import send_expiry_reminders

    # A request context with the portal's public address, so links in the emails work.
    with _app.test_request_context(base_url=_app.config["PORTAL_URL"]):
        sent = send_expiry_reminders(london_today())
        log.info("sent %d volunteer expiry reminders", sent)


def flag_stale_activities() -> None:
    """Tell organisations which published listings have not been checked for months."""
    from portal.db_types import london_today
    from portal.directory.listings import flag_stale_activities as flag

    with _app.test_request_context(base_url=_app.config["PORTAL_URL"]):
        flagged = flag(london_today())
        log.info("flagged %d activities that may be out of date", flagged)


def send_activity_referral_reminders() -> None:
    """Remind organisations of answers due soon; tell navigators of answers that lapsed."""
    from portal.db_types import london_today
    from portal.directory.activity_referrals import send_deadline_reminders

    with _app.test_request_context(base_url=_app.config["PORTAL_URL"]):
        reminded, lapsed = send_deadline_reminders(london_today())
        log.info("activity referrals: %d reminders, %d lapsed", reminded, lapsed)


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

    def _report(event) -> None:
        kind = "missed" if event.code == EVENT_JOB_MISSED else "failed"
        log.error("scheduled job %s %s: %s", event.job_id, kind, getattr(event, "exception", ""))

    scheduler.add_listener(_report, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def run(app: Flask) -> None:
    scheduler = build_scheduler(app)
    log.info("scheduler starting with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
