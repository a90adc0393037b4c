"""Case state for the statutory clocks, KPI aggregates per cycle, cycles, outbox.

Revision ID: t0002
Revises: t0001
"""

import sqlalchemy as sa
from alembic import op

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("timeliness_case")
    op.create_table(
        "timeliness_case",
        sa.Column("case_id", sa.String(80), primary_key=True),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("received", sa.Date()),
        sa.Column("final_issued", sa.Date()),
        sa.Column("closed_on", sa.Date()),
        sa.Column("historical", sa.Boolean(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("raised", sa.Text(), nullable=False),
    )
    op.create_index("ix_timeliness_case_open", "timeliness_case", ["partition", "closed_on"])
    op.create_index("ix_timeliness_case_final", "timeliness_case", ["final_issued"])
    op.create_index("ix_timeliness_case_received", "timeliness_case", ["received"])
    op.create_table(
        "timeliness_kpi_agg",
        sa.Column("kpi", sa.String(64), primary_key=True),
        sa.Column("cycle", sa.String(32), primary_key=True),
        sa.Column("breakdown", sa.String(80), primary_key=True),
        sa.Column("num", sa.Integer(), nullable=False),
        sa.Column("den", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("over_year", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.create_table(
        "timeliness_cycle",
        sa.Column("cycle", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "timeliness_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("key", sa.String(128)),
        sa.Column("partition", sa.Integer()),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.add_column("timeliness_state", sa.Column("watermark", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("timeliness_state", "watermark")
    op.drop_table("timeliness_outbox")
    op.drop_table("timeliness_cycle")
    op.drop_table("timeliness_kpi_agg")
    op.drop_index("ix_timeliness_case_received", "timeliness_case")
    op.drop_index("ix_timeliness_case_final", "timeliness_case")
    op.drop_index("ix_timeliness_case_open", "timeliness_case")
    op.drop_table("timeliness_case")
