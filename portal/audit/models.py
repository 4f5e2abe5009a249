"""Audit events: who looked at or changed which record, when. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db_types import UTCDateTime, utcnow
from portal.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id", "occurred_at"),
        sa.Index("ix_audit_events_actor", "actor_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept as plain values, not foreign keys, so the trail outlives the accounts it names.
    actor_id: Mapped[int | None]
    actor_role: Mapped[str | None] = mapped_column(sa.String(30))
    action: Mapped[str] = mapped_column(sa.String(40))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source_address: Mapped[str | None] = mapped_column(sa.String(45))


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_change(mapper, connection, target) -> None:
    raise PermissionError("audit events are append-only")
