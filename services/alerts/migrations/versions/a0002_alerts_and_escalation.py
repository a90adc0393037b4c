"""Alerts, escalation state, append-only audit, notification outbox, silences,
recovery plans, closed cycle values and the event-time clock.

Revision ID: a0002
Revises: a0001
"""

import sqlalchemy as sa
from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts_clock",
        sa.Column("key", sa.String(16), primary_key=True),
        sa.Column("now", TS),
        sa.Column("snapshots", sa.Integer(), nullable=False),
        sa.Column("milestones", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
    )
    op.create_table(
        "alerts_cycle_value",
        sa.Column("kpi", sa.String(64), primary_key=True),
        sa.Column("cycle_kind", sa.String(16), primary_key=True),
        sa.Column("breakdown", sa.String(80), primary_key=True),
        sa.Column("cycle", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("target", sa.Float()),
        sa.Column("standard", sa.Float()),
        sa.Column("numerator", sa.Integer()),
        sa.Column("denominator", sa.Integer()),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("seen_at", TS, nullable=False),
    )
    op.create_table(
        "alerts_alert",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(300), nullable=False, unique=True),
        sa.Column("rule", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("kpi", sa.String(64), nullable=False),
        sa.Column("cycle_kind", sa.String(16), nullable=False),
        sa.Column("breakdown", sa.String(80), nullable=False),
        sa.Column("cycle", sa.String(32)),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("historical", sa.Boolean(), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("resolution", sa.Text()),
        sa.Column("policy_name", sa.String(64)),
        sa.Column("policy_version", sa.Integer()),
        sa.Column("policy_json", sa.Text()),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("level_at", TS),
        sa.Column("level_muted", sa.Boolean(), nullable=False),
        sa.Column("acked_by", sa.String(200)),
        sa.Column("acked_at", TS),
        sa.Column("ack_note", sa.Text()),
        sa.Column("follow_up_due", sa.Date()),
        sa.Column("plan_due", sa.Date()),
        sa.Column("plan_asked_on", sa.Date()),
        sa.Column("plan_level", sa.Integer()),
        sa.Column("plan_document", sa.String(200)),
        sa.Column("plan_recorded_at", TS),
        sa.Column("plan_overdue_at", TS),
        sa.Column("parent_id", sa.String(32)),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("notified", sa.Text(), nullable=False),
        sa.Column("next_check_at", TS),
    )
    op.create_index("ix_alerts_alert_rule", "alerts_alert", ["rule"])
    op.create_index("ix_alerts_alert_kpi", "alerts_alert", ["kpi"])
    op.create_index("ix_alerts_alert_status", "alerts_alert", ["status"])
    op.create_index("ix_alerts_alert_next_check_at", "alerts_alert", ["next_check_at"])
    op.create_table(
        "alerts_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(32)),
        sa.Column("episode", sa.Integer()),
        sa.Column("at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("recipient", sa.String(300)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("level", sa.Integer()),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_alerts_audit_alert_id", "alerts_audit", ["alert_id"])
    op.create_table(
        "alerts_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint(
            "alert_id",
            "episode",
            "level",
            "notice",
            "channel",
            "recipient",
            name="uq_alerts_outbox_once",
        ),
    )
    op.create_index("ix_alerts_outbox_alert_id", "alerts_outbox", ["alert_id"])
    op.create_index("ix_alerts_outbox_status", "alerts_outbox", ["status"])
    op.create_table(
        "alerts_silence",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kpi", sa.String(64)),
        sa.Column("breakdown", sa.String(80)),
        sa.Column("until", TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_table(
        "alerts_recovery_plan",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_alerts_recovery_plan_alert_id", "alerts_recovery_plan", ["alert_id"])


def downgrade() -> None:
    for table in (
        "alerts_recovery_plan",
        "alerts_silence",
        "alerts_outbox",
        "alerts_audit",
        "alerts_alert",
        "alerts_cycle_value",
        "alerts_clock",
    ):
        op.drop_table(table)
