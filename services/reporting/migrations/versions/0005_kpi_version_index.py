"""An index on (kpi, id) of the revisions, so that each KPI's latest revision id (the
cache key of its published views) is read without a scan.

Revision ID: r0005
Revises: r0004
"""

from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reporting_kpi_revision_kpi_id", "reporting_kpi_revision", ["kpi", "id"])


def downgrade() -> None:
    op.drop_index("ix_reporting_kpi_revision_kpi_id", "reporting_kpi_revision")
