"""Volunteers record when the retention job anonymised them.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from portal.db_types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("volunteers") as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("volunteers") as batch_op:
        batch_op.drop_column("anonymised_at")
