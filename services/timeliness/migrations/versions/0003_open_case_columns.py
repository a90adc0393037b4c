"""Locality and exception flag as columns, so open-caseload, backlog and outlook figures
are SQL counts rather than a scan of every open case's state.

Revision ID: t0003
Revises: t0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("timeliness_case", sa.Column("locality", sa.String(41)))
    op.add_column(
        "timeliness_case",
        sa.Column("has_exception", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    bind = op.get_bind()
    cases = sa.table(
        "timeliness_case",
        sa.column("case_id", sa.String),
        sa.column("state", sa.Text),
        sa.column("locality", sa.String),
        sa.column("has_exception", sa.Boolean),
    )
    rows = bind.execute(sa.select(cases.c.case_id, cases.c.state)).all()
    for case_id, state in rows:
        s = json.loads(state)
        bind.execute(
            cases.update()
            .where(cases.c.case_id == case_id)
            .values(locality=s.get("locality"), has_exception=bool(s.get("exception_starts")))
        )


def downgrade() -> None:
    op.drop_column("timeliness_case", "has_exception")
    op.drop_column("timeliness_case", "locality")
