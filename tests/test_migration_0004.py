"""Migration 0004 turns the free-text reasons volunteers left for into codes, and back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.extensions import db

_USER = (
    "INSERT INTO users (id, email, full_name, role, is_active, session_token, created_at, "
    "is_volunteer_navigator) VALUES (:id, :email, 'V', 'volunteer', 0, :token, "
    "'2025-01-01 00:00:00', 0)"
)
_VOLUNTEER = (
    "INSERT INTO volunteers (id, user_id, status, left_reason, role_buddy, role_navigator, "
    "role_befriender, languages, interests, availability, max_buddies, applied_at, "
    "dbs_update_service, version) VALUES (:id, :id, 'left', :reason, 1, 0, 0, '[]', '[]', "
    "'[]', 2, '2025-01-01 00:00:00', 0, 1)"
)


def _reasons(conn) -> dict[int, str]:
    return dict(conn.execute(sa.text("SELECT id, left_reason FROM volunteers")).all())


def test_left_reasons_become_codes_and_back(tmp_path):
    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.db"})
    with app.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as conn:
            for n, reason in ((1, "Moved away"), (2, "Went travelling"), (3, "Health reasons")):
                conn.execute(sa.text(_USER), {"id": n, "email": f"v{n}@x.org", "token": f"t{n}"})
                conn.execute(sa.text(_VOLUNTEER), {"id": n, "reason": reason})
        upgrade()
        with db.engine.connect() as conn:
            assert _reasons(conn) == {1: "moved", 2: "other", 3: "health"}
        # The coded column refuses anything else.
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE volunteers SET left_reason = 'bored' WHERE id = 1"))
        downgrade(revision="0003")
        with db.engine.connect() as conn:
            assert _reasons(conn) == {1: "Moved away", 2: "Other reason", 3: "Health reasons"}
        db.engine.dispose()
