"""The inbox is keyed on (event id, source), in that order: it is looked up by event id
(which events of a batch were applied, the applied API), and its key led with the
source, so every batch read the whole inbox, a cost that grew with every event ever
applied.  On SQLite the table has no rowid: one B-tree, one insert per event.

Revision ID: t0006
Revises: t0005
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def _rebuild(key: tuple[str, str], constraint: str, **table: Any) -> None:
    columns = {
        "event_id": sa.Column("event_id", sa.String(128), nullable=False),
        "source": sa.Column("source", sa.String(64), nullable=False, server_default=""),
    }
    op.create_table(
        "timeliness_inbox_new",
        *(columns[c] for c in key),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=constraint),
        **table,
    )
    op.execute(
        "INSERT INTO timeliness_inbox_new (source, event_id, processed_at) "
        "SELECT source, event_id, processed_at FROM timeliness_inbox"
    )
    op.drop_table("timeliness_inbox")
    op.rename_table("timeliness_inbox_new", "timeliness_inbox")


def upgrade() -> None:
    _rebuild(("event_id", "source"), "pk_timeliness_inbox_by_event", sqlite_with_rowid=False)


def downgrade() -> None:
    _rebuild(("source", "event_id"), "pk_timeliness_inbox")
