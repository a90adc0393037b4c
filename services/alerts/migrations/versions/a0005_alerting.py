"""Alerting people can live with: outbox leases, held deliveries.

- ``claimed_by`` / ``claimed_until``: the relay that has claimed a pending row (``SELECT
  ... FOR UPDATE SKIP LOCKED`` on PostgreSQL) and until when; a row whose lease has
  expired (its relay was killed) is claimed by another.
- ``hold_until`` / ``hold_reason``: the event time before which a row is not delivered
  (a recipient's quiet hours, or the hour of their daily digest).

Revision ID: a0005
Revises: a0004
"""

import sqlalchemy as sa
from alembic import op

revision = "a0005"
down_revision = "a0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts_outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(80)))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("hold_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("hold_reason", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("alerts_outbox") as batch:
        for name in ("hold_reason", "hold_until", "claimed_until", "claimed_by"):
            batch.drop_column(name)
