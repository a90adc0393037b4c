"""KPI observations and inbox.

Revision ID: a0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts_kpi_observation",
        sa.Column("kpi", sa.String(64), primary_key=True),
        sa.Column("cycle", sa.String(32), primary_key=True),
        sa.Column("breakdown", sa.String(80), primary_key=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alerts_inbox",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alerts_inbox")
    op.drop_table("alerts_kpi_observation")
