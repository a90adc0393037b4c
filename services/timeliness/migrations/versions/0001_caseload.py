"""Caseload, inbox and counters.

Revision ID: t0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "t0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timeliness_case",
        sa.Column("case_id", sa.String(80), primary_key=True),
        sa.Column("person_id", sa.String(80), nullable=False, index=True),
        sa.Column("locality", sa.String(41), nullable=False),
        sa.Column("age_band", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("primary_need", sa.String(8)),
        sa.Column("attrs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_reason", sa.String(32)),
    )
    op.create_table(
        "timeliness_inbox",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "timeliness_state",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("events_applied", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("timeliness_state")
    op.drop_table("timeliness_inbox")
    op.drop_table("timeliness_case")
