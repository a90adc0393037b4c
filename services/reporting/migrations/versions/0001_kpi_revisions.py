"""KPI revisions and inbox.

Revision ID: r0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporting_kpi_revision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kpi", sa.String(64), nullable=False, index=True),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("breakdown", sa.String(80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("numerator", sa.Integer()),
        sa.Column("denominator", sa.Integer()),
        sa.Column("as_of", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kpi", "cycle", "breakdown", "revision", name="uq_reporting_kpi_rev"),
    )
    op.create_table(
        "reporting_inbox",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reporting_inbox")
    op.drop_table("reporting_kpi_revision")
