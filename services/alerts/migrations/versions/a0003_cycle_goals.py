"""Closed cycle values keep the goal, direction and unit they were judged in.

Rows stored before this revision have none (``goal_label`` is null): they are judged
against their trajectory target, else their standard, in the dictionary's direction.

Revision ID: a0003
Revises: a0002
"""

import sqlalchemy as sa
from alembic import op

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts_cycle_value") as batch:
        batch.add_column(sa.Column("goal", sa.Float()))
        batch.add_column(sa.Column("goal_label", sa.String(40)))
        batch.add_column(sa.Column("direction", sa.String(8)))
        batch.add_column(sa.Column("unit", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("alerts_cycle_value") as batch:
        for name in ("unit", "direction", "goal_label", "goal"):
            batch.drop_column(name)
