"""Reliability: the inbox keys on (source, event id), so one source cannot pre-empt
another's id.  Rows from before keep source "" and match an id from any source (no
event applied before the upgrade is applied again).

Revision ID: t0005
Revises: t0004
"""

import sqlalchemy as sa
from alembic import op

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("timeliness_inbox", recreate="always") as b:
            b.add_column(sa.Column("source", sa.String(64), nullable=False, server_default=""))
            b.create_primary_key("pk_timeliness_inbox", ["source", "event_id"])
        return
    op.add_column(
        "timeliness_inbox",
        sa.Column("source", sa.String(64), nullable=False, server_default=""),
    )
    op.drop_constraint("timeliness_inbox_pkey", "timeliness_inbox", type_="primary")
    op.create_primary_key("timeliness_inbox_pkey", "timeliness_inbox", ["source", "event_id"])


def downgrade() -> None:
    op.execute("DELETE FROM timeliness_inbox WHERE source <> ''")  # no way to keep both
    with op.batch_alter_table("timeliness_inbox", recreate="always") as b:
        b.drop_column("source")
        b.create_primary_key("timeliness_inbox_pkey", ["event_id"])
