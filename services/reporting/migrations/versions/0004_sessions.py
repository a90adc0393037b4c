"""Sign-in sessions and failed sign-ins in the database (they were in process memory:
a restart signed everyone out and cleared the lockout, and a second process did not
see a sign-out).

Revision ID: r0004
Revises: r0003
"""

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporting_session",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(80), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
    )
    op.create_index("ix_reporting_session_expires", "reporting_session", ["expires"])
    op.create_table(
        "reporting_sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_reporting_sign_in_failure_address", "reporting_sign_in_failure", ["address"]
    )


def downgrade() -> None:
    op.drop_table("reporting_sign_in_failure")
    op.drop_table("reporting_session")
