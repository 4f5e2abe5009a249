"""Migration 0005 derives the directory's search columns for activities already saved."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.directory.models import CATEGORY_BITS
from portal.extensions import db

# The two tables as they stand at 0004 (only the columns an insert needs).
_organisations = sa.table(
    "organisations",
    sa.column("id", sa.Integer),
    sa.column("uuid", sa.String),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime),
)
_activities = sa.table(
    "activities",
    *(
        sa.column(name, type_)
        for name, type_ in {
            "id": sa.Integer,
            "uuid": sa.String,
            "organisation_id": sa.Integer,
            "title": sa.String,
            "description": sa.Text,
            "categories": sa.JSON,
            "frequency": sa.String,
            "days": sa.JSON,
            "venue_name": sa.String,
            "postcode": sa.String,
            "eligibility": sa.Text,
            "online": sa.Boolean,
            "step_free": sa.Boolean,
            "hearing_loop": sa.Boolean,
            "accessible_toilet": sa.Boolean,
            "transport_offered": sa.Boolean,
            "accepts_referrals": sa.Boolean,
            "status": sa.String,
            "created_at": sa.DateTime,
            "updated_at": sa.DateTime,
            "version": sa.Integer,
        }.items()
    ),
)
_WHEN = datetime(2025, 1, 1)  # naive UTC, as the columns store it
_FLAGS = dict.fromkeys(
    ("online", "step_free", "hearing_loop", "accessible_toilet", "transport_offered"), False
)


def _activity(n: int, **kw) -> dict:
    return {
        "id": n,
        "uuid": str(uuid.uuid4()),
        "organisation_id": 1,
        "description": None,
        "venue_name": None,
        "postcode": None,
        "eligibility": None,
        "frequency": "weekly",
        "accepts_referrals": True,
        "status": "published",
        "created_at": _WHEN,
        "updated_at": _WHEN,
        "version": 1,
        **_FLAGS,
        **kw,
    }


_DERIVED = (
    "SELECT id, days_mask, categories_mask, postcode_district, search_text "
    "FROM activities ORDER BY id"
)
# A case with one referral to an activity, as 0004 stores them.
_CASE = [
    "INSERT INTO users (id, email, full_name, role, is_active, session_token, "
    "is_volunteer_navigator, created_at) VALUES (1, 'n@x.org', 'N', 'navigator', true, 't1', "
    "false, '2025-01-01 00:00:00')",
    "INSERT INTO residents (id, given_name, family_name, preferred_contact, language, "
    "interpreter_needed, created_at) VALUES (1, 'Alex', 'Jones', 'phone', 'English', false, "
    "'2025-01-01 00:00:00')",
    "INSERT INTO referrals (id, reference, resident_id, source, urgency, consent_given, "
    "consent_share_with_gp, status, received_at, updated_at, version) VALUES (1, 'R1', 1, "
    "'self', 'routine', true, true, 'received', '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1)",
    "INSERT INTO activity_referrals (id, referral_id, activity_id, status, created_by_id, "
    "respond_by, created_at, version) VALUES (1, 1, 1, 'sent', 1, '2025-01-15', "
    "'2025-01-01 00:00:00', 1)",
]


@pytest.fixture
def at_0004(backend, request, tmp_path):
    """A fresh database of the backend, migrated to 0004, with an organisation and activities."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"migration_0005_{uuid.uuid4().hex[:8]}"
        )
    migrated = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    with migrated.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as conn:
            conn.execute(
                _organisations.insert().values(
                    id=1, uuid=str(uuid.uuid4()), name="Walkers", created_at=_WHEN
                )
            )
            conn.execute(
                _activities.insert(),
                [
                    _activity(
                        1,
                        title="Walking Group!",
                        description="A gentle walk, then tea & cake.",
                        venue_name="War Memorial Park",
                        eligibility="Over-50s",
                        days=[1, 3, 1],
                        categories=["physical_activity", "social_connection"],
                        postcode="cv3 6pt",
                    ),
                    _activity(2, title="Online chat", days=[], categories=[], online=True),
                    _activity(
                        3,
                        title="Sunday art",
                        days=[6],
                        categories=["arts"],
                        postcode="B11AA",
                    ),
                ],
            )
        yield migrated
        db.engine.dispose()


EXPECTED = [
    (
        1,
        (1 << 1) | (1 << 3),
        CATEGORY_BITS["physical_activity"] | CATEGORY_BITS["social_connection"],
        "CV3",
        "walking group a gentle walk then tea cake war memorial park over 50s "
        "physical activity social connection",
    ),
    (2, 0, 0, None, "online chat"),
    (3, 1 << 6, CATEGORY_BITS["arts"], "B1", "sunday art arts and creativity"),
]


def derived() -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(_DERIVED)).all()]


def test_search_columns_are_derived_for_existing_activities(at_0004):
    upgrade(revision="0005")
    assert derived() == EXPECTED


def test_down_to_0004_and_up_again(at_0004):
    upgrade(revision="0005")
    downgrade(revision="0004")
    with db.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("activities")}
        assert "days_mask" not in columns and "search_text" not in columns
        assert not sa.inspect(conn).has_table("activity_attendance")
        assert conn.execute(sa.text("SELECT count(*) FROM activities")).scalar() == 3
    upgrade()
    assert derived() == EXPECTED


def test_existing_activity_referrals_survive_the_upgrade(at_0004):
    with db.engine.begin() as conn:
        for statement in _CASE:
            conn.execute(sa.text(statement))
    upgrade(revision="0005")
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT status, respond_by, consent_confirmed, person_name, reminded_on "
                "FROM activity_referrals"
            )
        ).one()
    assert row.status == "sent"
    assert str(row.respond_by) == "2025-01-15"
    assert not row.consent_confirmed
    assert row.person_name is None and row.reminded_on is None
    assert derived() == EXPECTED
