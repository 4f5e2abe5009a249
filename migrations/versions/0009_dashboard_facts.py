"""Dashboard facts: a summary row per referral and per activity referral, the referral
counts added up by month, and the referrals whose facts need working out again; wider
indexes on contacts by author and hours by day.

Every existing referral is marked stale, so the first dashboard view (or
`flask refresh-dashboard-facts`, which `make run` calls) works their facts out.

Revision ID: 0009
Revises: 0008
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

import portal.db_types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stale_referrals",
        sa.Column("referral_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_stale_referrals")),
    )
    op.create_table(
        "referral_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "practice",
                "self",
                "professional",
                name="referral_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("contacted", sa.Integer(), nullable=False),
        sa.Column("engaged", sa.Integer(), nullable=False),
        sa.Column("goals_met", sa.Integer(), nullable=False),
        sa.Column("reason_loneliness", sa.Integer(), nullable=False),
        sa.Column("reason_low_mood", sa.Integer(), nullable=False),
        sa.Column("reason_carer_support", sa.Integer(), nullable=False),
        sa.Column("reason_bereavement", sa.Integer(), nullable=False),
        sa.Column("reason_money", sa.Integer(), nullable=False),
        sa.Column("reason_housing", sa.Integer(), nullable=False),
        sa.Column("reason_physical_activity", sa.Integer(), nullable=False),
        sa.Column("reason_long_term_condition", sa.Integer(), nullable=False),
        sa.Column("reason_digital_inclusion", sa.Integer(), nullable=False),
        sa.Column("reason_other", sa.Integer(), nullable=False),
        sa.Column("swemwbs_people", sa.Integer(), nullable=False),
        sa.Column("swemwbs_total", sa.Float(), nullable=False),
        sa.Column("swemwbs_up", sa.Integer(), nullable=False),
        sa.Column("swemwbs_down", sa.Integer(), nullable=False),
        sa.Column("ucla3_people", sa.Integer(), nullable=False),
        sa.Column("ucla3_total", sa.Float(), nullable=False),
        sa.Column("ucla3_up", sa.Integer(), nullable=False),
        sa.Column("ucla3_down", sa.Integer(), nullable=False),
        sa.Column("ons4_1_people", sa.Integer(), nullable=False),
        sa.Column("ons4_1_total", sa.Float(), nullable=False),
        sa.Column("ons4_1_up", sa.Integer(), nullable=False),
        sa.Column("ons4_1_down", sa.Integer(), nullable=False),
        sa.Column("ons4_2_people", sa.Integer(), nullable=False),
        sa.Column("ons4_2_total", sa.Float(), nullable=False),
        sa.Column("ons4_2_up", sa.Integer(), nullable=False),
        sa.Column("ons4_2_down", sa.Integer(), nullable=False),
        sa.Column("ons4_3_people", sa.Integer(), nullable=False),
        sa.Column("ons4_3_total", sa.Float(), nullable=False),
        sa.Column("ons4_3_up", sa.Integer(), nullable=False),
        sa.Column("ons4_3_down", sa.Integer(), nullable=False),
        sa.Column("ons4_4_people", sa.Integer(), nullable=False),
        sa.Column("ons4_4_total", sa.Float(), nullable=False),
        sa.Column("ons4_4_up", sa.Integer(), nullable=False),
        sa.Column("ons4_4_down", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_referral_months_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_months")),
    )
    with op.batch_alter_table("referral_months", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_months_month"), ["month"], unique=False)

    op.create_table(
        "referral_facts",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "practice",
                "self",
                "professional",
                name="referral_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reasons_mask", sa.Integer(), nullable=False),
        sa.Column("contacted", sa.Boolean(), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("goals_met", sa.Boolean(), nullable=False),
        sa.Column("days_to_first_contact", sa.Integer(), nullable=True),
        sa.Column("days_to_triage", sa.Integer(), nullable=True),
        sa.Column("swemwbs_baseline", sa.Double(), nullable=True),
        sa.Column("swemwbs_closing", sa.Double(), nullable=True),
        sa.Column("ucla3_baseline", sa.Double(), nullable=True),
        sa.Column("ucla3_closing", sa.Double(), nullable=True),
        sa.Column("ons4_baseline_1", sa.Integer(), nullable=True),
        sa.Column("ons4_baseline_2", sa.Integer(), nullable=True),
        sa.Column("ons4_baseline_3", sa.Integer(), nullable=True),
        sa.Column("ons4_baseline_4", sa.Integer(), nullable=True),
        sa.Column("ons4_closing_1", sa.Integer(), nullable=True),
        sa.Column("ons4_closing_2", sa.Integer(), nullable=True),
        sa.Column("ons4_closing_3", sa.Integer(), nullable=True),
        sa.Column("ons4_closing_4", sa.Integer(), nullable=True),
        sa.Column("worked_out_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_referral_facts_practice_id_practices")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_facts_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referral_facts")),
    )
    with op.batch_alter_table("referral_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_facts_received",
            ["received_on", "practice_id", "days_to_first_contact", "days_to_triage"],
            unique=False,
        )

    op.create_table(
        "activity_referral_facts",
        sa.Column("activity_referral_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("categories_mask", sa.Integer(), nullable=False),
        sa.Column("taken_up", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_referral_id"],
            ["activity_referrals.id"],
            name=op.f("fk_activity_referral_facts_activity_referral_id_activity_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_activity_referral_facts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_activity_referral_facts_practice_id_practices"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_activity_referral_facts_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_referral_id", name=op.f("pk_activity_referral_facts")),
    )
    with op.batch_alter_table("activity_referral_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_referral_facts_received",
            ["received_on", "practice_id", "organisation_id", "categories_mask", "taken_up"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_activity_referral_facts_referral_id"), ["referral_id"], unique=False
        )
    op.create_table(
        "volunteer_time_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("volunteers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_volunteer_time_months")),
    )
    op.create_table(
        "stale_volunteer_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_stale_volunteer_months")),
    )
    # Wider indexes, so volunteers' time by month is read from them alone.
    op.drop_index("ix_contacts_author_occurred", table_name="contacts")
    op.create_index(
        "ix_contacts_author_occurred", "contacts", ["author_id", "occurred_at", "duration_minutes"]
    )
    op.drop_index("ix_volunteer_hours_day", table_name="volunteer_hours")
    op.create_index(
        "ix_volunteer_hours_day", "volunteer_hours", ["worked_on", "volunteer_id", "minutes"]
    )
    op.execute("INSERT INTO stale_referrals (referral_id, marks) SELECT id, 1 FROM referrals")
    # Every month from the first contact or hours to the last (and the month after, for a
    # contact late on a month's last day in UK time) is added up on the first refresh.
    bind = op.get_bind()
    # The day of a stored time: SQLite's CAST(... AS DATE) would give a number.
    day = "CAST({} AS DATE)" if bind.dialect.name == "postgresql" else "date({})"
    first, last = day.format("min(occurred_at)"), day.format("max(occurred_at)")
    ends_sql = (
        "SELECT min(d), max(d) FROM ("  # noqa: S608 (built from constants only)
        "SELECT min(worked_on) AS d FROM volunteer_hours UNION ALL "
        "SELECT max(worked_on) FROM volunteer_hours UNION ALL "
        f"SELECT {first} FROM contacts UNION ALL SELECT {last} FROM contacts) AS ends"
    )
    ends = bind.execute(sa.text(ends_sql)).one()
    if ends[0] is not None:
        first, last = (date.fromisoformat(str(e)[:10]) for e in ends)
        months, month = [], first.replace(day=1)
        while month <= last + timedelta(days=1):
            months.append({"month": month, "marks": 1})
            month = (month + timedelta(days=32)).replace(day=1)
        stale = sa.table("stale_volunteer_months", sa.column("month"), sa.column("marks"))
        op.bulk_insert(stale, months)


def downgrade():
    op.drop_table("stale_volunteer_months")
    op.drop_table("volunteer_time_months")
    op.drop_index("ix_volunteer_hours_day", table_name="volunteer_hours")
    op.create_index("ix_volunteer_hours_day", "volunteer_hours", ["worked_on"])
    op.drop_index("ix_contacts_author_occurred", table_name="contacts")
    op.create_index("ix_contacts_author_occurred", "contacts", ["author_id", "occurred_at"])
    with op.batch_alter_table("activity_referral_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_referral_facts_referral_id"))
        batch_op.drop_index("ix_activity_referral_facts_received")

    op.drop_table("activity_referral_facts")
    with op.batch_alter_table("referral_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_facts_received")

    op.drop_table("referral_facts")
    with op.batch_alter_table("referral_months", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_months_month"))

    op.drop_table("referral_months")
    op.drop_table("stale_referrals")
