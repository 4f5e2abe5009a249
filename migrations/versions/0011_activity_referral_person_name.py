"""An activity referral keeps the person's whole name: given and family names of up to
100 characters each, so 201 characters.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("activity_referrals") as batch_op:
        batch_op.alter_column(
            "person_name",
            type_=sa.String(201),
            existing_type=sa.String(120),
            existing_nullable=True,
        )


def downgrade():
    with op.batch_alter_table("activity_referrals") as batch_op:
        batch_op.alter_column(
            "person_name",
            type_=sa.String(120),
            existing_type=sa.String(201),
            existing_nullable=True,
        )
