"""The scheduler's jobs as admins see them: what each does, when it runs next, how it last went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.jobs.models import JobRun

# Every job the scheduler registers, in the order it runs in a day.
JOB_IDS = (
    "purge_rate_limit_counters",
    "send_outcome_reports",
    "send_volunteer_expiry_reminders",
    "flag_stale_activities",
    "send_activity_referral_reminders",
    "retry_outcome_reports",
)


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    description: str
    next_run: datetime | None
    run: JobRun | None

    @property
    def failing(self) -> bool:
        run = self.run
        if run is None or run.last_error_at is None:
            return False
        return run.last_finished_at is None or run.last_error_at >= run.last_finished_at


def next_runs() -> dict[str, datetime] | None:
    """Next run times from APScheduler's job store; None when the scheduler never started."""
    from portal.scheduler import JOB_TABLE

    if not sa.inspect(db.engine).has_table(JOB_TABLE):
        return None
    rows = db.session.execute(sa.text(f"SELECT id, next_run_time FROM {JOB_TABLE}"))  # noqa: S608
    return {
        job_id: datetime.fromtimestamp(when, tz=UTC) for job_id, when in rows if when is not None
    }


def job_statuses() -> tuple[list[JobStatus], bool]:
    """Each job's status, and whether the scheduler has ever stored its jobs."""
    from portal import scheduler

    runs = {r.job_id: r for r in db.session.scalars(sa.select(JobRun))}
    nexts = next_runs()
    statuses = [
        JobStatus(
            job_id=job_id,
            description=(getattr(scheduler, job_id).__doc__ or "").strip().split("\n")[0],
            next_run=(nexts or {}).get(job_id),
            run=runs.get(job_id),
        )
        for job_id in JOB_IDS
    ]
    return statuses, nexts is not None
