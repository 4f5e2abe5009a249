"""Consent withdrawal: when and by whom it was recorded, and its step in the history.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from portal.db_types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ACTIONS = [
    "received",
    "contact_attempt",
    "triaged",
    "sent_to_int",
    "assigned",
    "activated",
    "closed",
    "edited",
    "information_added",
    "note",
    "contact_edited",
    "goal_changed",
    "reopened",
]


def _actions(values):
    with op.batch_alter_table("referral_events") as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_referral_events_referral_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_referral_events_referral_action"), sa.column("action").in_(values)
        )


def upgrade():
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.add_column(sa.Column("consent_withdrawn_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("consent_withdrawn_by", sa.String(length=120), nullable=True))
    _actions([*ACTIONS, "consent_withdrawn"])


def downgrade():
    # The older schema cannot name this step; it becomes a note, keeping what it said.
    op.execute("UPDATE referral_events SET action = 'note' WHERE action = 'consent_withdrawn'")
    _actions(ACTIONS)
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_column("consent_withdrawn_by")
        batch_op.drop_column("consent_withdrawn_at")
