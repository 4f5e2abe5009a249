"""What each scheduled job last did, kept by the scheduler process for the admin pages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db_types import UTCDateTime
from portal.extensions import db


class JobRun(db.Model):
    """One row per job id: APScheduler's own store keeps only the next run time."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str | None] = mapped_column(sa.Text)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
