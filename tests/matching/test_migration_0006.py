"""Migration 0006 adds matching's tables and preferences: up, down and up again, with data."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.extensions import db

NEW_TABLES = ("postcode_districts", "matching_weights", "match_decisions")
REFERRAL_COLUMNS = {"availability", "interests", "access_needs", "wants_buddy"}
USER_COLUMNS = {"neighbourhood_id", "languages"}

# A navigator, a neighbourhood and one referral, as 0005 stores them.
_AT_0005 = [
    "INSERT INTO users (id, email, full_name, role, is_active, session_token, "
    "is_volunteer_navigator, created_at) VALUES (1, 'n@x.org', 'N', 'navigator', true, 't1', "
    "false, '2025-01-01 00:00:00')",
    "INSERT INTO neighbourhoods (id, name) VALUES (1, 'North')",
    "INSERT INTO residents (id, given_name, family_name, preferred_contact, language, "
    "interpreter_needed, created_at) VALUES (1, 'Alex', 'Jones', 'phone', 'English', false, "
    "'2025-01-01 00:00:00')",
    "INSERT INTO referrals (id, reference, resident_id, source, urgency, consent_given, "
    "consent_share_with_gp, status, received_at, updated_at, version, navigator_id) VALUES "
    "(1, 'R1', 1, 'self', 'routine', true, true, 'received', '2025-01-01 00:00:00', "
    "'2025-01-01 00:00:00', 1, 1)",
]
# What matching keeps, once 0006 is in.
_AT_0006 = [
    "INSERT INTO postcode_districts (outcode, latitude, longitude, postcodes, source, "
    "updated_at) VALUES ('CV1', 52.40939, -1.506, 12, 'ONSPD', '2025-01-01 00:00:00')",
    "INSERT INTO matching_weights (factor, weight, updated_by_id, updated_at) VALUES "
    "('distance', 5, 1, '2025-01-01 00:00:00')",
    "INSERT INTO match_decisions (id, referral_id, kind, candidate_id, candidate_name, rank, "
    "score, reasons, top_candidate_id, top_score, eligible_count, from_suggestions, "
    "chosen_by_id, chosen_at) VALUES (1, 1, 'navigator', 1, 'N', 1, 80.5, '[\"Speaks Urdu\"]', "
    "1, 80.5, 3, true, 1, '2025-01-01 00:00:00')",
    "UPDATE users SET neighbourhood_id = 1, languages = '[\"Urdu\"]' WHERE id = 1",
    "UPDATE referrals SET availability = '[\"mon_morning\"]', interests = '[\"music\"]', "
    "access_needs = '[\"step_free\"]', wants_buddy = true WHERE id = 1",
]

_referrals = sa.table(
    "referrals",
    sa.column("id", sa.Integer),
    sa.column("reference", sa.String),
    sa.column("availability", sa.JSON),
    sa.column("interests", sa.JSON),
    sa.column("access_needs", sa.JSON),
    sa.column("wants_buddy", sa.Boolean),
)
_users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("neighbourhood_id", sa.Integer),
    sa.column("languages", sa.JSON),
)


@pytest.fixture
def at_0005(backend, request, tmp_path):
    """A fresh database of the backend, migrated to 0005, with a navigator and a referral."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"migration_0006_{uuid.uuid4().hex[:8]}"
        )
    migrated = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    with migrated.app_context():
        upgrade(revision="0005")
        run(_AT_0005)
        yield migrated
        db.engine.dispose()


def run(statements: list[str]) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def tables() -> set[str]:
    with db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def columns(table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def referral_row() -> tuple:
    with db.engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.select(
                    _referrals.c.reference,
                    _referrals.c.availability,
                    _referrals.c.interests,
                    _referrals.c.access_needs,
                    _referrals.c.wants_buddy,
                )
            ).one()
        )


def user_row() -> tuple:
    with db.engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.select(_users.c.email, _users.c.neighbourhood_id, _users.c.languages)
            ).one()
        )


def count(table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608


def test_up_gives_existing_rows_empty_preferences(at_0005):
    assert not tables() & set(NEW_TABLES)
    assert not columns("referrals") & REFERRAL_COLUMNS
    upgrade(revision="0006")
    assert set(NEW_TABLES) <= tables()
    assert columns("referrals") >= REFERRAL_COLUMNS
    assert columns("users") >= USER_COLUMNS
    # Existing referrals and navigators rank exactly as before until someone fills them in.
    assert referral_row() == ("R1", [], [], [], False)
    assert user_row() == ("n@x.org", None, [])
    assert all(count(t) == 0 for t in NEW_TABLES)


def test_new_rows_must_give_their_own_preferences(at_0005):
    upgrade(revision="0006")
    # The server defaults only filled the existing rows.
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO referrals (id, reference, resident_id, source, urgency, "
                "consent_given, consent_share_with_gp, status, received_at, updated_at, version) "
                "VALUES (2, 'R2', 1, 'self', 'routine', true, true, 'received', "
                "'2025-01-01 00:00:00', '2025-01-01 00:00:00', 1)"
            )
        )
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, full_name, role, is_active, session_token, "
                "is_volunteer_navigator, created_at) VALUES (2, 'm@x.org', 'M', 'navigator', "
                "true, 't2', false, '2025-01-01 00:00:00')"
            )
        )


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO matching_weights (factor, weight, updated_at) "
        "VALUES ('load', 11, '2025-01-01 00:00:00')",
        "INSERT INTO matching_weights (factor, weight, updated_at) "
        "VALUES ('load', -1, '2025-01-01 00:00:00')",
        "INSERT INTO match_decisions (referral_id, kind, candidate_id, candidate_name, rank, "
        "reasons, eligible_count, from_suggestions, chosen_by_id, chosen_at) VALUES "
        "(1, 'buddy', 1, 'N', 0, '[]', 0, false, 1, '2025-01-01 00:00:00')",
        "INSERT INTO match_decisions (referral_id, kind, candidate_id, candidate_name, "
        "reasons, eligible_count, from_suggestions, chosen_by_id, chosen_at) VALUES "
        "(1, 'robot', 1, 'N', '[]', 0, false, 1, '2025-01-01 00:00:00')",
        "INSERT INTO match_decisions (referral_id, kind, candidate_id, candidate_name, "
        "reasons, eligible_count, from_suggestions, chosen_by_id, chosen_at) VALUES "
        "(99, 'buddy', 1, 'N', '[]', 0, false, 1, '2025-01-01 00:00:00')",
    ],
    ids=["weight-over-10", "weight-negative", "rank-0", "unknown-kind", "no-such-referral"],
)
def test_the_new_tables_refuse_what_the_models_refuse(at_0005, statement):
    upgrade(revision="0006")
    # (The portal switches SQLite's foreign keys on for every connection.)
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_down_to_0005_and_up_again_with_data_present(at_0005):
    upgrade(revision="0006")
    run(_AT_0006)
    assert referral_row() == ("R1", ["mon_morning"], ["music"], ["step_free"], True)
    assert user_row() == ("n@x.org", 1, ["Urdu"])
    assert all(count(t) == 1 for t in NEW_TABLES)

    downgrade(revision="0005")
    assert not tables() & set(NEW_TABLES)
    assert not columns("referrals") & REFERRAL_COLUMNS
    assert not columns("users") & USER_COLUMNS
    # What was there before 0006 survives the way down.
    assert count("referrals") == 1 and count("users") == 1 and count("neighbourhoods") == 1
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT reference, navigator_id FROM referrals")).one() == (
            "R1",
            1,
        )

    upgrade(revision="0006")
    assert referral_row() == ("R1", [], [], [], False)
    assert user_row() == ("n@x.org", None, [])
    assert all(count(t) == 0 for t in NEW_TABLES)
    # And it can take matching's data again.
    run(_AT_0006)
    assert all(count(t) == 1 for t in NEW_TABLES)
