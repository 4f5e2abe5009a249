"""Emptying the database between tests, past the audit log's append-only guard.

Migration 0010 makes the database refuse any UPDATE, DELETE or TRUNCATE of audit rows.
Tests that empty every table lift the guard for that one transaction: on PostgreSQL by
running as a replica (which fires no triggers), on SQLite by dropping the two triggers
and making them again before the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

_SQLITE_TRIGGERS = ("audit_events_no_update", "audit_events_no_delete")


@contextmanager
def audit_guard_lifted(conn) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield
        return
    saved = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (:a, :b)"),
        dict(zip("ab", _SQLITE_TRIGGERS, strict=True)),
    ).scalars()
    saved = list(saved)
    assert len(saved) == len(_SQLITE_TRIGGERS), "the audit guard is missing"
    for name in _SQLITE_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for sql in saved:
        conn.exec_driver_sql(sql)
