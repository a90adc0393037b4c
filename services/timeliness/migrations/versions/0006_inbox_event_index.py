"""The inbox is looked up by event id (which events of a batch were applied, the applied
API): an index on it.  Its primary key leads with the source, so before this every batch
read the whole inbox, a cost that grew with every event ever applied.

Revision ID: t0006
Revises: t0005
"""

from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timeliness_inbox_event_id", "timeliness_inbox", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_timeliness_inbox_event_id", "timeliness_inbox")
