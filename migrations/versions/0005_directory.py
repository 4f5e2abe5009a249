"""Directory: activity schedules, search columns, shared details, attendance, CSV imports.

Activities gain a first-session date and a week of the month (so the next session can
be worked out), and columns derived from their other fields for fast filtering.
Activity referrals gain the copy of what the person agreed to share, who answered,
why it ended and the once-only reminder dates; attendance is recorded per session.
Alerts gain three kinds, so the alert kind column widens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 20:11:09.611041

"""

import json

import sqlalchemy as sa
from alembic import op

import portal.db_types
from portal.directory.models import CATEGORY_BITS, postcode_district, searchable_text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_ALERT_KINDS = [
    "case_assigned",
    "case_reopened",
    "concern_raised",
    "buddy_concern",
    "buddy_response",
    "activity_declined",
]
NEW_ALERT_KINDS = ["activity_response", "activity_no_response", "organisation_registered"]
CATEGORY_LABELS = {
    "social_connection": "Social connection",
    "physical_activity": "Physical activity",
    "arts": "Arts and creativity",
    "nature": "Nature and gardening",
    "learning": "Learning and skills",
    "money_advice": "Money and advice",
    "carers": "Carers' support",
    "mental_wellbeing": "Mental wellbeing",
    "faith_culture": "Faith and culture",
    "digital_skills": "Digital skills",
    "volunteering": "Volunteering",
}


def _as_list(value):
    if isinstance(value, str):
        return json.loads(value)
    return value or []


def _derive_existing_activities() -> None:
    bind = op.get_bind()
    activities = sa.table(
        "activities",
        sa.column("id", sa.Integer),
        sa.column("days", sa.JSON),
        sa.column("categories", sa.JSON),
        sa.column("postcode", sa.String),
        sa.column("title", sa.String),
        sa.column("description", sa.Text),
        sa.column("venue_name", sa.String),
        sa.column("eligibility", sa.Text),
        sa.column("days_mask", sa.Integer),
        sa.column("categories_mask", sa.Integer),
        sa.column("postcode_district", sa.String),
        sa.column("search_text", sa.Text),
    )
    rows = bind.execute(sa.select(activities)).mappings().all()
    for row in rows:
        days = _as_list(row["days"])
        categories = _as_list(row["categories"])
        bind.execute(
            activities.update()
            .where(activities.c.id == row["id"])
            .values(
                days_mask=sum(1 << d for d in set(days)),
                categories_mask=sum(CATEGORY_BITS.get(c, 0) for c in set(categories)),
                postcode_district=postcode_district(row["postcode"]),
                search_text=searchable_text(
                    row["title"],
                    row["description"],
                    row["venue_name"],
                    row["eligibility"],
                    " ".join(CATEGORY_LABELS.get(c, "") for c in categories),
                ),
            )
        )


def upgrade():
    op.create_table(
        "activity_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.Column("imported_at", portal.db_types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_activity_imports_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_activity_imports_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_imports")),
    )
    op.create_table(
        "activity_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_referral_id", sa.Integer(), nullable=False),
        sa.Column("session_on", sa.Date(), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_referral_id"],
            ["activity_referrals.id"],
            name=op.f("fk_activity_attendance_activity_referral_id_activity_referrals"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_activity_attendance_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_attendance")),
        sa.UniqueConstraint("activity_referral_id", "session_on", name="one_record_per_session"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("starts_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("monthly_week", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("schedule_note", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("freshness_flagged_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("days_mask", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("categories_mask", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("postcode_district", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(
            batch_op.f("ix_activities_postcode_district"), ["postcode_district"], unique=False
        )
    _derive_existing_activities()
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.alter_column("days_mask", server_default=None)
        batch_op.alter_column("categories_mask", server_default=None)
        batch_op.alter_column("search_text", server_default=None)

    with op.batch_alter_table("activity_referrals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_confirmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("person_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("shared_phone", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("shared_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("shared_age", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shared_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("responded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", portal.db_types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reminded_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("lapse_notified_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_activity_referrals_responded_by_id_users"),
            "users",
            ["responded_by_id"],
            ["id"],
        )
    with op.batch_alter_table("activity_referrals", schema=None) as batch_op:
        batch_op.alter_column("consent_confirmed", server_default=None)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.alter_column(
            "kind",
            existing_type=sa.VARCHAR(length=17),
            type_=sa.String(length=23),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_alerts_alert_kind"),
            sa.column("kind").in_([*OLD_ALERT_KINDS, *NEW_ALERT_KINDS]),
        )

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_name", sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("contact_name")

    # The older schema has none of the new alert kinds; those alerts go, being only notices.
    op.execute(
        sa.text("DELETE FROM alerts WHERE kind IN :kinds").bindparams(
            sa.bindparam("kinds", NEW_ALERT_KINDS, expanding=True)
        )
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=23),
            type_=sa.VARCHAR(length=17),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_alerts_alert_kind"), sa.column("kind").in_(OLD_ALERT_KINDS)
        )

    with op.batch_alter_table("activity_referrals", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_activity_referrals_responded_by_id_users"), type_="foreignkey"
        )
        for column in (
            "lapse_notified_on",
            "reminded_on",
            "end_reason",
            "ended_at",
            "responded_by_id",
            "shared_note",
            "shared_age",
            "shared_email",
            "shared_phone",
            "person_name",
            "consent_confirmed",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_postcode_district"))
        for column in (
            "search_text",
            "postcode_district",
            "categories_mask",
            "days_mask",
            "freshness_flagged_on",
            "schedule_note",
            "monthly_week",
            "starts_on",
        ):
            batch_op.drop_column(column)

    op.drop_table("activity_attendance")
    op.drop_table("activity_imports")
