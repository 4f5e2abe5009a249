"""Writing audit events. No function here, or anywhere, changes or deletes one."""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from portal.audit.models import AuditEvent
from portal.db_types import utcnow
from portal.extensions import db


def _actor() -> tuple[int | None, str | None]:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, str(current_user.role)
    return None, None


def _address() -> str | None:
    return request.remote_addr if has_request_context() else None


def audit(
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> AuditEvent:
    """Add an event to the current transaction: it commits, or rolls back, with the change."""
    auto_id, auto_role = _actor()
    event = AuditEvent(
        actor_id=actor_id if actor_id is not None else auto_id,
        actor_role=actor_role if actor_role is not None else auto_role,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        occurred_at=utcnow(),
        source_address=_address(),
    )
    db.session.add(event)
    return event


def record_event(
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> None:
    """Write an event at once, in its own transaction, for things that are refused.

    A failed login or a 403 saves nothing else, so its trail must not depend on
    the request's own transaction being committed.
    """
    auto_id, auto_role = _actor()
    with db.engine.begin() as conn:
        conn.execute(
            AuditEvent.__table__.insert().values(
                actor_id=actor_id if actor_id is not None else auto_id,
                actor_role=actor_role if actor_role is not None else auto_role,
                action=action,
                object_type=object_type,
                object_id=None if object_id is None else str(object_id),
                occurred_at=utcnow(),
                source_address=_address(),
            )
        )


def record_view(object_type: str, object_id: object) -> None:
    """A page shows part of a record: the row is committed before the page is drawn, so a
    view that could not be recorded shows nothing.

    What the request has read so far (the logged-in user, the record itself) stays loaded
    through this commit, which writes nothing of theirs: after an ordinary commit, which
    forgets every loaded row, each such page read the user again, one more statement on
    every record view.
    """
    audit("viewed", object_type, object_id)
    _commit_keeping_what_was_read()


def record_list_view(object_type: str, object_id: object) -> None:
    """A list of people (a caseload, a queue, an inbox) is shown: as record_view. The rows
    a list read before this commit stay loaded too; an ordinary commit made each row that
    the page then showed read itself again, one statement a row."""
    audit("viewed_list", object_type, object_id)
    _commit_keeping_what_was_read()


def _commit_keeping_what_was_read() -> None:
    session = db.session()
    expiring = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring
