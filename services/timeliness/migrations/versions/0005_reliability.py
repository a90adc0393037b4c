"""Reliability: the inbox keys on (source, event id), so one source cannot pre-empt
another's id.  Rows from before keep source "" and match an id from any source (no
event applied before the upgrade is applied again).

Subjects get their next alert day (indexed), so a clock tick reads only the subjects
due, not every running one; existing subjects start unknown (evaluated at the next
tick, which sets it).

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
    op.add_column("timeliness_subject", sa.Column("next_due", sa.Date(), nullable=True))
    op.create_index("ix_timeliness_subject_next_due", "timeliness_subject", ["next_due"])
    op.create_table(
        "timeliness_inbox_keyed",
        sa.Column("source", sa.String(64), nullable=False, server_default=""),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id", name="pk_timeliness_inbox"),
    )
    op.execute(
        "INSERT INTO timeliness_inbox_keyed (source, event_id, processed_at) "
        "SELECT '', event_id, processed_at FROM timeliness_inbox"
    )
    op.drop_table("timeliness_inbox")
    op.rename_table("timeliness_inbox_keyed", "timeliness_inbox")


def downgrade() -> None:
    op.drop_index("ix_timeliness_subject_next_due", "timeliness_subject")
    with op.batch_alter_table("timeliness_subject") as b:
        b.drop_column("next_due")
    op.execute("DELETE FROM timeliness_inbox WHERE source <> ''")  # no way to keep both
    with op.batch_alter_table("timeliness_inbox", recreate="always") as b:
        b.drop_column("source")
        b.create_primary_key("timeliness_inbox_pkey", ["event_id"])
