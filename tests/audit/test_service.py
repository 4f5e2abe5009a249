"""Writing audit rows (portal/audit/service.py): a record view is committed before the page
is drawn, without making the page read again what it had already read."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.audit.service import record_view
from portal.auth.models import Role, User
from portal.extensions import db
from tests.factories import make_user


def _views_seen_from_another_connection(object_type: str) -> list[str]:
    with db.engine.connect() as other:
        return list(
            other.scalars(
                sa.select(AuditEvent.object_id).where(
                    AuditEvent.action == "viewed", AuditEvent.object_type == object_type
                )
            )
        )


def test_a_record_view_is_committed_at_once_and_keeps_what_was_read(app):
    reader = make_user(Role.NAVIGATOR, full_name="Nia Reader")
    db.session.expire_all()
    with app.test_request_context("/cases/7"):
        user = db.session.get(User, reader.id)
        assert user.full_name == "Nia Reader"

        record_view("case", 7)

        assert _views_seen_from_another_connection("case") == ["7"]
        # The user row was not written, so it is not read again.
        assert sa.inspect(user).expired_attributes == set()

        # Later commits of the request forget loaded rows as usual.
        user.full_name = "Nia Renamed"
        db.session.commit()
        assert "full_name" in sa.inspect(user).expired_attributes


def test_a_record_view_that_cannot_be_written_is_not_committed(app, monkeypatch):
    """The audit row and the commit go together: if the commit fails, the session is left
    as after any failed commit, and ordinary commits still forget loaded rows."""
    reader = make_user(Role.NAVIGATOR)

    def refuse(*args, **kwargs):
        raise RuntimeError("the database went away")

    with app.test_request_context("/cases/8"):
        session = db.session()
        monkeypatch.setattr(session, "commit", refuse)
        with pytest.raises(RuntimeError):
            record_view("case", 8)
        monkeypatch.undo()
        assert session.expire_on_commit is True
        session.rollback()
        assert _views_seen_from_another_connection("case") == []
        user = db.session.get(User, reader.id)
        db.session.commit()
        assert "full_name" in sa.inspect(user).expired_attributes
