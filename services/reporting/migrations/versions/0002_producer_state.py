"""Latest snapshot seen per producer (for --wait and "data as of").

Revision ID: r0002
Revises: r0001
"""

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporting_producer_state",
        sa.Column("producer", sa.String(32), primary_key=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("events_applied", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True)),
        sa.Column("watermark", sa.DateTime(timezone=True)),
    )
    op.add_column("reporting_kpi_revision", sa.Column("detail", sa.Text()))


def downgrade() -> None:
    op.drop_column("reporting_kpi_revision", "detail")
    op.drop_table("reporting_producer_state")
