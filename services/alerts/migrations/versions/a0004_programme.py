"""Programme delivery: the programme event log (R1-R4, exception reports, QAG packs).

Revision ID: a0004
Revises: a0003
"""

import sqlalchemy as sa
from alembic import op

revision = "a0004"
down_revision = "a0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts_programme_event",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_alerts_programme_event_type", "alerts_programme_event", ["type"])
    op.create_index("ix_alerts_programme_event_subject", "alerts_programme_event", ["subject"])
    op.create_index("ix_alerts_programme_event_time", "alerts_programme_event", ["time"])


def downgrade() -> None:
    op.drop_table("alerts_programme_event")
