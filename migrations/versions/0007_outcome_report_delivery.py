"""Outcome report delivery: claims by key, kept content, a delivery log, and job runs.

- outcome_reports: the claim is now one unique `claim_key` (kind, practice, period; or
  the queued change, for a single-person notice) instead of (practice, period), so a
  notice and a hand-sent report never collide with the scheduled one. The rendered HTML
  column gives way to `summaries`, the per-person content kept as it was at the claim.
  New: kind, claimed_by, attempt_started_at (finds sends cut short), sent_to,
  message_id, read_by_id; statuses gain "sending" and "empty".
- report_attempts: one row per try at delivering a report.
- queued_outcomes.event: "accepted" as well as "closed".
- job_runs: each scheduled job's last run and last error, for the admin page.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

import portal.db_types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_STATUSES = ("claimed", "sent", "retrying", "failed", "inbox_only")
STATUSES = ("claimed", "sending", "sent", "retrying", "failed", "inbox_only", "empty")


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade():
    op.create_table(
        "job_runs",
        sa.Column("job_id", sa.String(length=80), nullable=False),
        sa.Column("last_started_at", portal.db_types.UTCDateTime(), nullable=True),
        sa.Column("last_finished_at", portal.db_types.UTCDateTime(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", portal.db_types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_runs")),
    )
    op.create_table(
        "report_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db_types.UTCDateTime(), nullable=False),
        sa.Column("outcome", _enum("delivery_status", *STATUSES), nullable=False),
        sa.Column("sent_to", sa.String(length=254), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("by", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["outcome_reports.id"],
            name=op.f("fk_report_attempts_report_id_outcome_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_attempts")),
    )
    with op.batch_alter_table("report_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_attempts_report_id"), ["report_id"], unique=False
        )

    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_key", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column(
                "kind",
                _enum("report_kind", "scheduled", "manual", "notice"),
                nullable=False,
                server_default="scheduled",
            )
        )
        batch_op.add_column(
            sa.Column("summaries", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column(
                "claimed_by", sa.String(length=160), nullable=False, server_default="scheduler"
            )
        )
        batch_op.add_column(
            sa.Column("attempt_started_at", portal.db_types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("sent_to", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("read_by_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_outcome_reports_practice_period"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_outcome_reports_delivery_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outcome_reports_delivery_status"), sa.column("status").in_(STATUSES)
        )
        batch_op.drop_index(batch_op.f("ix_outcome_reports_status"))
        batch_op.create_index(
            "ix_outcome_reports_status", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_outcome_reports_practice", ["practice_id", "claimed_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outcome_reports_read_by_id_users"), "users", ["read_by_id"], ["id"]
        )
        batch_op.drop_column("content_html")

    # Any report made before keys existed keeps its (practice, period) as its key.
    op.execute(
        "UPDATE outcome_reports SET claim_key = 'scheduled:' || practice_id || ':' "
        "|| period_start || ':' || period_end"
    )
    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.alter_column("claim_key", existing_type=sa.String(length=80), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_outcome_reports_claim_key"), ["claim_key"])
        batch_op.alter_column("kind", server_default=None)
        batch_op.alter_column("summaries", server_default=None)
        batch_op.alter_column("claimed_by", server_default=None)

    with op.batch_alter_table("queued_outcomes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "event",
                _enum("report_event", "accepted", "closed"),
                nullable=False,
                server_default="closed",
            )
        )
    with op.batch_alter_table("queued_outcomes", schema=None) as batch_op:
        batch_op.alter_column("event", server_default=None)


def downgrade():
    op.execute("DELETE FROM queued_outcomes WHERE event = 'accepted'")
    with op.batch_alter_table("queued_outcomes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_queued_outcomes_report_event"), type_="check")
        batch_op.drop_column("event")

    # Only (practice, period) can be kept: hand-sent reports and notices have no place
    # there, nor have statuses 0006 lacks. Their changes wait again rather than being lost.
    op.execute(
        "UPDATE queued_outcomes SET report_id = NULL WHERE report_id IN (SELECT id FROM "
        "outcome_reports WHERE kind != 'scheduled' OR status IN ('sending', 'empty'))"
    )
    op.execute("DELETE FROM report_attempts")
    op.execute(
        "DELETE FROM outcome_reports WHERE kind != 'scheduled' OR status IN ('sending', 'empty')"
    )
    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_html", sa.Text(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("fk_outcome_reports_read_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_outcome_reports_claim_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_outcome_reports_delivery_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outcome_reports_delivery_status"), sa.column("status").in_(OLD_STATUSES)
        )
        batch_op.drop_index("ix_outcome_reports_practice")
        batch_op.drop_index("ix_outcome_reports_status")
        batch_op.create_index(
            batch_op.f("ix_outcome_reports_status"), ["status", "claimed_at"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_outcome_reports_practice_period"),
            ["practice_id", "period_start", "period_end"],
        )
        batch_op.drop_column("read_by_id")
        batch_op.drop_column("message_id")
        batch_op.drop_column("sent_to")
        batch_op.drop_column("attempt_started_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("summaries")
        batch_op.drop_constraint(batch_op.f("ck_outcome_reports_report_kind"), type_="check")
        batch_op.drop_column("kind")
        batch_op.drop_column("claim_key")

    with op.batch_alter_table("report_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_attempts_report_id"))
    op.drop_table("report_attempts")
    op.drop_table("job_runs")
