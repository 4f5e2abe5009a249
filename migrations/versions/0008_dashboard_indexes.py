"""Dashboard indexes: referrals by date received, successful contacts per referral, and
measure sittings in the order they were recorded.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_referrals_received", "referrals", ["received_at"])
    op.create_index(
        "ix_contacts_referral_successful", "contacts", ["referral_id", "successful", "occurred_at"]
    )
    # Plain DROP and CREATE INDEX: both databases do these without copying the table.
    op.drop_index("ix_measure_responses_referral_scale", table_name="measure_responses")
    op.create_index(
        "ix_measure_responses_referral_scale",
        "measure_responses",
        ["referral_id", "scale", "stage", "recorded_at"],
    )


def downgrade():
    op.drop_index("ix_measure_responses_referral_scale", table_name="measure_responses")
    op.create_index(
        "ix_measure_responses_referral_scale",
        "measure_responses",
        ["referral_id", "scale", "stage"],
    )
    op.drop_index("ix_contacts_referral_successful", table_name="contacts")
    op.drop_index("ix_referrals_received", table_name="referrals")
