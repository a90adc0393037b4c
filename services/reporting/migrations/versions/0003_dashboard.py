"""Dashboard: when each producer's last snapshot arrived (metrics), DfE benchmarks and
statistical neighbours, and an index for a KPI's revisions.

Revision ID: r0003
Revises: r0002
"""

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reporting_producer_state", sa.Column("received_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_reporting_kpi_revision_key",
        "reporting_kpi_revision",
        ["kpi", "cycle", "breakdown", "revision"],
    )
    op.create_table(
        "reporting_benchmark",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("time_period", sa.Integer(), nullable=False),
        sa.Column("geographic_level", sa.String(32), nullable=False),
        sa.Column("area_code", sa.String(16), nullable=False),
        sa.Column("area_name", sa.String(80), nullable=False),
        sa.Column("region_name", sa.String(80)),
        sa.Column("plans", sa.Integer()),
        sa.Column("plans_ex", sa.Integer()),
        sa.Column("within_20_weeks", sa.Integer()),
        sa.Column("within_20_weeks_ex", sa.Integer()),
        sa.Column("pc_within_20_weeks", sa.Float()),
        sa.Column("pc_within_20_weeks_ex", sa.Float()),
        sa.Column("over_52_weeks", sa.Integer()),
        sa.UniqueConstraint(
            "dataset", "time_period", "geographic_level", "area_code", name="uq_reporting_bench"
        ),
    )
    op.create_table(
        "reporting_neighbour",
        sa.Column("la_name", sa.String(80), primary_key=True),
        sa.Column("rank", sa.Integer(), primary_key=True),
        sa.Column("neighbour", sa.String(80), nullable=False),
    )
    op.create_table(
        "reporting_benchmark_source",
        sa.Column("dataset", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reporting_benchmark_source")
    op.drop_table("reporting_neighbour")
    op.drop_table("reporting_benchmark")
    op.drop_index("ix_reporting_kpi_revision_key", "reporting_kpi_revision")
    op.drop_column("reporting_producer_state", "received_at")
