"""Migration 0007 keys report claims, keeps their content and logs delivery: up, down, up again."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from portal import create_app
from portal.extensions import db

NEW_TABLES = ("report_attempts", "job_runs")
REPORT_COLUMNS = {
    "claim_key",
    "kind",
    "summaries",
    "claimed_by",
    "attempt_started_at",
    "sent_to",
    "message_id",
    "read_by_id",
}
OLD_KEY = "scheduled:1:2025-01-06:2025-01-12"

# A practice with two closed cases as 0006 stores them: one carried by a report already
# sent (with the rendered HTML 0006 kept), one still waiting.
_AT_0006 = [
    "INSERT INTO users (id, email, full_name, role, is_active, session_token, "
    "is_volunteer_navigator, created_at, languages) VALUES (1, 'n@x.org', 'N', 'navigator', "
    "true, 't1', false, '2025-01-01 00:00:00', '[]')",
    "INSERT INTO neighbourhoods (id, name) VALUES (1, 'North')",
    "INSERT INTO practices (id, ods_code, name, neighbourhood_id, report_mailbox, "
    "report_frequency, notify_on_close) VALUES (1, 'Y00001', 'North Surgery', 1, "
    "'gp@nhs.net', 'weekly', false)",
    "INSERT INTO residents (id, given_name, family_name, preferred_contact, language, "
    "interpreter_needed, created_at) VALUES (1, 'Alex', 'Jones', 'phone', 'English', false, "
    "'2025-01-01 00:00:00')",
    "INSERT INTO referrals (id, reference, resident_id, source, practice_id, urgency, "
    "consent_given, consent_share_with_gp, status, closed_at, closure_reason, received_at, "
    "updated_at, version, availability, interests, access_needs, wants_buddy) VALUES "
    "(1, 'R1', 1, 'practice', 1, 'routine', true, true, 'closed', '2025-01-08 10:00:00', "
    "'moved_away', '2025-01-01 00:00:00', '2025-01-08 10:00:00', 1, '[]', '[]', '[]', false)",
    "INSERT INTO referrals (id, reference, resident_id, source, practice_id, urgency, "
    "consent_given, consent_share_with_gp, status, closed_at, closure_reason, received_at, "
    "updated_at, version, availability, interests, access_needs, wants_buddy) VALUES "
    "(2, 'R2', 1, 'practice', 1, 'routine', true, true, 'closed', '2025-01-08 10:00:00', "
    "'moved_away', '2025-01-01 00:00:00', '2025-01-08 10:00:00', 1, '[]', '[]', '[]', false)",
    "INSERT INTO outcome_reports (id, practice_id, period_start, period_end, referral_ids, "
    "content_html, status, attempts, last_error, claimed_at, sent_at, next_attempt_at, "
    "read_at) VALUES (1, 1, '2025-01-06', '2025-01-12', '[1]', '<p>Alex Jones</p>', 'sent', 1, "
    "NULL, '2025-01-13 07:00:00', '2025-01-13 07:00:05', NULL, '2025-01-14 09:00:00')",
    "INSERT INTO queued_outcomes (id, referral_id, practice_id, queued_at, report_id) VALUES "
    "(1, 1, 1, '2025-01-08 10:00:00', 1)",
    "INSERT INTO queued_outcomes (id, referral_id, practice_id, queued_at, report_id) VALUES "
    "(2, 2, 1, '2025-01-15 10:00:00', NULL)",
]

# What only 0007 can store: a report sent by hand carrying the waiting change, a notice,
# a period with nothing to report, a delivery log, an "accepted" change, a job's last run.
_AT_0007 = [
    "UPDATE outcome_reports SET read_by_id = 1, sent_to = 'gp@nhs.net', "
    "summaries = '[{\"reference\": \"R1\"}]', message_id = '<m1@x>' WHERE id = 1",
    "INSERT INTO outcome_reports (id, claim_key, kind, practice_id, period_start, period_end, "
    "referral_ids, summaries, status, attempts, claimed_at, claimed_by) VALUES "
    "(2, 'manual:1:2025-01-15:2025-01-16', 'manual', 1, '2025-01-15', '2025-01-16', '[2]', "
    "'[]', 'sent', 1, '2025-01-16 12:00:00', 'Admin (admin)')",
    "INSERT INTO outcome_reports (id, claim_key, kind, practice_id, period_start, period_end, "
    "referral_ids, summaries, status, attempts, claimed_at, claimed_by) VALUES "
    "(3, 'notice:2', 'notice', 1, '2025-01-15', '2025-01-15', '[2]', '[]', 'claimed', 0, "
    "'2025-01-15 10:00:00', 'case closed')",
    "INSERT INTO outcome_reports (id, claim_key, kind, practice_id, period_start, period_end, "
    "referral_ids, summaries, status, attempts, claimed_at, claimed_by) VALUES "
    "(4, 'scheduled:1:2025-01-20:2025-01-26', 'scheduled', 1, '2025-01-20', '2025-01-26', "
    "'[]', '[]', 'empty', 0, '2025-01-27 07:00:00', 'scheduler')",
    "UPDATE queued_outcomes SET report_id = 2 WHERE id = 2",
    "INSERT INTO queued_outcomes (id, referral_id, practice_id, queued_at, report_id, event) "
    "VALUES (3, 2, 1, '2025-01-02 10:00:00', NULL, 'accepted')",
    "INSERT INTO report_attempts (id, report_id, at, outcome, sent_to, error, by) VALUES "
    "(1, 1, '2025-01-13 07:00:05', 'sent', 'gp@nhs.net', NULL, 'scheduler')",
    "INSERT INTO report_attempts (id, report_id, at, outcome, sent_to, error, by) VALUES "
    "(2, 2, '2025-01-16 12:00:01', 'sent', 'gp@nhs.net', NULL, 'Admin (admin)')",
    "INSERT INTO job_runs (job_id, last_started_at, last_finished_at, last_result) VALUES "
    "('send_outcome_reports', '2025-01-27 07:00:00', '2025-01-27 07:00:09', '1 claimed')",
]

_reports = sa.table(
    "outcome_reports",
    sa.column("id", sa.Integer),
    sa.column("claim_key", sa.String),
    sa.column("kind", sa.String),
    sa.column("practice_id", sa.Integer),
    sa.column("period_start", sa.Date),
    sa.column("period_end", sa.Date),
    sa.column("referral_ids", sa.JSON),
    sa.column("summaries", sa.JSON),
    sa.column("status", sa.String),
    sa.column("claimed_by", sa.String),
    sa.column("read_by_id", sa.Integer),
    sa.column("content_html", sa.Text),
)
_queued = sa.table(
    "queued_outcomes",
    sa.column("id", sa.Integer),
    sa.column("referral_id", sa.Integer),
    sa.column("report_id", sa.Integer),
    sa.column("event", sa.String),
)


@pytest.fixture
def at_0006(backend, request, tmp_path):
    """A fresh database of the backend, migrated to 0006, with a sent report and a waiting one."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"migration_0007_{uuid.uuid4().hex[:8]}"
        )
    migrated = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    with migrated.app_context():
        upgrade(revision="0006")
        run(_AT_0006)
        yield migrated
        db.session.remove()
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


def count(table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608


def reports(*cols) -> list[tuple]:
    with db.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(*(getattr(_reports.c, c) for c in cols)).order_by(_reports.c.id)
            )
        ]


def queued(*cols) -> list[tuple]:
    with db.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(*(getattr(_queued.c, c) for c in cols)).order_by(_queued.c.id)
            )
        ]


def test_up_keys_existing_reports_and_marks_queued_changes_closed(at_0006):
    assert not tables() & set(NEW_TABLES)
    assert not columns("outcome_reports") & REPORT_COLUMNS
    assert "event" not in columns("queued_outcomes")

    upgrade(revision="0007")

    assert set(NEW_TABLES) <= tables()
    assert columns("outcome_reports") >= REPORT_COLUMNS
    assert "content_html" not in columns("outcome_reports")
    # The report made before keys existed keeps its (practice, period) as its key.
    assert reports(
        "id", "claim_key", "kind", "period_start", "period_end", "referral_ids", "summaries"
    ) == [(1, OLD_KEY, "scheduled", date(2025, 1, 6), date(2025, 1, 12), [1], [])]
    assert reports("status", "claimed_by", "read_by_id") == [("sent", "scheduler", None)]
    # Every change queued before 0007 was a closure.
    assert queued("id", "referral_id", "report_id", "event") == [
        (1, 1, 1, "closed"),
        (2, 2, None, "closed"),
    ]
    assert all(count(t) == 0 for t in NEW_TABLES)


def test_up_then_the_key_is_the_claim(at_0006):
    upgrade(revision="0007")
    # A second claim of the same practice and period fails to insert.
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outcome_reports (claim_key, kind, practice_id, period_start, "
                "period_end, referral_ids, summaries, status, attempts, claimed_at, claimed_by) "
                "VALUES (:key, 'scheduled', 1, '2025-01-06', '2025-01-12', '[]', '[]', "
                "'claimed', 0, '2025-01-13 07:00:00', 'scheduler')"
            ),
            {"key": OLD_KEY},
        )
    # A hand-sent report for the same period does not collide: the old unique is gone.
    run(
        [
            "INSERT INTO outcome_reports (claim_key, kind, practice_id, period_start, "
            "period_end, referral_ids, summaries, status, attempts, claimed_at, claimed_by) "
            "VALUES ('manual:1:2025-01-06:2025-01-12', 'manual', 1, '2025-01-06', "
            "'2025-01-12', '[]', '[]', 'sending', 0, '2025-01-13 07:00:00', 'Admin')"
        ]
    )
    assert count("outcome_reports") == 2


@pytest.mark.parametrize(
    "statement",
    [
        # The server defaults only filled the existing rows.
        "INSERT INTO outcome_reports (claim_key, practice_id, period_start, period_end, "
        "referral_ids, summaries, status, attempts, claimed_at, claimed_by) VALUES "
        "('scheduled:1:2025-02-03:2025-02-09', 1, '2025-02-03', '2025-02-09', '[]', '[]', "
        "'claimed', 0, '2025-02-10 07:00:00', 'scheduler')",
        "INSERT INTO outcome_reports (kind, practice_id, period_start, period_end, "
        "referral_ids, summaries, status, attempts, claimed_at, claimed_by) VALUES "
        "('scheduled', 1, '2025-02-03', '2025-02-09', '[]', '[]', 'claimed', 0, "
        "'2025-02-10 07:00:00', 'scheduler')",
        "INSERT INTO queued_outcomes (referral_id, practice_id, queued_at) VALUES "
        "(2, 1, '2025-02-01 10:00:00')",
        "INSERT INTO queued_outcomes (referral_id, practice_id, queued_at, event) VALUES "
        "(2, 1, '2025-02-01 10:00:00', 'reopened')",
        "UPDATE outcome_reports SET status = 'lost' WHERE id = 1",
        "UPDATE outcome_reports SET kind = 'weekly' WHERE id = 1",
        "UPDATE outcome_reports SET read_by_id = 99 WHERE id = 1",
        "INSERT INTO report_attempts (report_id, at, outcome, by) VALUES "
        "(99, '2025-01-13 07:00:00', 'sent', 'scheduler')",
        "INSERT INTO report_attempts (report_id, at, outcome, by) VALUES "
        "(1, '2025-01-13 07:00:00', 'bounced', 'scheduler')",
    ],
    ids=[
        "report-without-kind",
        "report-without-key",
        "queued-without-event",
        "unknown-event",
        "unknown-status",
        "unknown-kind",
        "no-such-reader",
        "attempt-of-no-report",
        "unknown-attempt-outcome",
    ],
)
def test_the_new_schema_refuses_what_the_models_refuse(at_0006, statement):
    upgrade(revision="0007")
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_up_accepts_the_new_statuses_and_events(at_0006):
    upgrade(revision="0007")
    run(_AT_0007)
    assert reports("id", "kind", "status") == [
        (1, "scheduled", "sent"),
        (2, "manual", "sent"),
        (3, "notice", "claimed"),
        (4, "scheduled", "empty"),
    ]
    assert queued("id", "event") == [(1, "closed"), (2, "closed"), (3, "accepted")]
    assert count("report_attempts") == 2 and count("job_runs") == 1


def test_down_to_0006_and_up_again_with_data_present(at_0006):
    upgrade(revision="0007")
    run(_AT_0007)

    downgrade(revision="0006")
    assert not tables() & set(NEW_TABLES)
    assert not columns("outcome_reports") & REPORT_COLUMNS
    assert "content_html" in columns("outcome_reports")
    assert "event" not in columns("queued_outcomes")
    # Only (practice, period) reports fit the old table: the scheduled, non-empty one stays.
    assert reports("id", "practice_id", "period_start", "period_end", "status") == [
        (1, 1, date(2025, 1, 6), date(2025, 1, 12), "sent")
    ]
    # The change the hand-sent report carried waits again; the "accepted" one is gone.
    assert queued("id", "referral_id", "report_id") == [(1, 1, 1), (2, 2, None)]
    # What was there before 0007 survives the way down.
    assert count("referrals") == 2 and count("practices") == 1 and count("users") == 1
    # The old unique on (practice, period) is back.
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outcome_reports (practice_id, period_start, period_end, "
                "referral_ids, status, attempts, claimed_at) VALUES (1, '2025-01-06', "
                "'2025-01-12', '[]', 'claimed', 0, '2025-01-13 07:00:00')"
            )
        )

    upgrade(revision="0007")
    assert reports("id", "claim_key", "kind", "summaries", "claimed_by") == [
        (1, OLD_KEY, "scheduled", [], "scheduler")
    ]
    assert queued("id", "report_id", "event") == [(1, 1, "closed"), (2, None, "closed")]
    assert all(count(t) == 0 for t in NEW_TABLES)
    # And it can take 0007's data again.
    run(_AT_0007)
    assert count("outcome_reports") == 4 and count("report_attempts") == 2


def test_down_with_a_scheduled_report_being_sent(at_0006):
    """A scheduled report cut off mid-send (status "sending") carries queued changes.

    The way down must still work and must not lose those changes: each is either carried by
    a report that survives or waits again for the next one.
    """
    upgrade(revision="0007")
    run(
        [
            "INSERT INTO outcome_reports (id, claim_key, kind, practice_id, period_start, "
            "period_end, referral_ids, summaries, status, attempts, claimed_at, claimed_by, "
            "attempt_started_at) VALUES (5, 'scheduled:1:2025-01-13:2025-01-19', 'scheduled', 1, "
            "'2025-01-13', '2025-01-19', '[2]', '[]', 'sending', 1, '2025-01-20 07:00:00', "
            "'scheduler', '2025-01-20 07:00:01')",
            "UPDATE queued_outcomes SET report_id = 5 WHERE id = 2",
        ]
    )
    downgrade(revision="0006")
    kept = {report_id for (report_id,) in reports("id")}
    assert 1 in kept
    assert [row[0] for row in queued("id")] == [1, 2]
    assert all(report_id is None or report_id in kept for _, report_id in queued("id", "report_id"))


def test_the_migrated_schema_matches_the_models(at_0006):
    """`flask db check` after up, down and up again: autogenerate finds nothing to change."""
    upgrade(revision="0007")
    run(_AT_0007)
    downgrade(revision="0006")
    upgrade()
    check()
