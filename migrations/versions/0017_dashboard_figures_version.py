"""The commissioner dashboard's figures carry a version, so a worker can keep them until
what they are worked out from changes.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from portal.db_types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_figures_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_figures_version")),
    )


def downgrade():
    op.drop_table("dashboard_figures_version")
