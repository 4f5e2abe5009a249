"""Matching: postcode district centroids, admin weights, decisions taken, and preferences.

Referrals gain what matching weighs (when the person is free, what they enjoy, the
access features they need, whether they would like a buddy); navigators gain their
neighbourhood team and languages. New rows get empty lists and "no", so existing
referrals and navigators rank exactly as before until someone fills them in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 21:28:59.441625

"""

import sqlalchemy as sa
from alembic import op

import portal.db_types

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "postcode_districts",
        sa.Column("outcode", sa.String(length=4), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("postcodes", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("updated_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("outcode", name=op.f("pk_postcode_districts")),
    )
    op.create_table(
        "matching_weights",
        sa.Column("factor", sa.String(length=30), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "weight >= 0 AND weight <= 10", name=op.f("ck_matching_weights_weight_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_matching_weights_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("factor", name=op.f("pk_matching_weights")),
    )
    op.create_table(
        "match_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "navigator",
                "buddy",
                "activity",
                name="match_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("candidate_name", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("top_candidate_id", sa.Integer(), nullable=True),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("from_suggestions", sa.Boolean(), nullable=False),
        sa.Column("chosen_by_id", sa.Integer(), nullable=False),
        sa.Column("chosen_at", portal.db_types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "rank IS NULL OR rank >= 1", name=op.f("ck_match_decisions_rank_from_one")
        ),
        sa.ForeignKeyConstraint(
            ["chosen_by_id"], ["users.id"], name=op.f("fk_match_decisions_chosen_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_match_decisions_referral_id_referrals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_decisions")),
    )
    with op.batch_alter_table("match_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_match_decisions_kind_chosen", ["kind", "chosen_at"], unique=False)
        batch_op.create_index("ix_match_decisions_referral", ["referral_id"], unique=False)

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("availability", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("interests", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("access_needs", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("wants_buddy", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("neighbourhood_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_neighbourhood_id_neighbourhoods"),
            "neighbourhoods",
            ["neighbourhood_id"],
            ["id"],
        )

    # The defaults filled the existing rows; new rows get theirs from the application.
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for column in ("availability", "interests", "access_needs", "wants_buddy"):
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("languages", server_default=None)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_users_neighbourhood_id_neighbourhoods"), type_="foreignkey"
        )
        batch_op.drop_column("languages")
        batch_op.drop_column("neighbourhood_id")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("wants_buddy")
        batch_op.drop_column("access_needs")
        batch_op.drop_column("interests")
        batch_op.drop_column("availability")

    with op.batch_alter_table("match_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_match_decisions_referral")
        batch_op.drop_index("ix_match_decisions_kind_chosen")

    op.drop_table("match_decisions")
    op.drop_table("matching_weights")
    op.drop_table("postcode_districts")
