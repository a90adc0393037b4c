"""Tables owned by the alerts service (prefix ``alerts_``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        at: datetime = value
        if at.tzinfo is None:
            return at.replace(tzinfo=UTC)
        return at.astimezone(UTC)


class KpiObservation(SQLModel, table=True):
    __tablename__ = "alerts_kpi_observation"

    kpi: str = Field(primary_key=True, max_length=64)
    cycle: str = Field(primary_key=True, max_length=32)
    breakdown: str = Field(primary_key=True, max_length=80)
    sequence: int
    value: float | None = None
    updated_at: datetime


class AlertsInbox(SQLModel, table=True):
    __tablename__ = "alerts_inbox"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime


class ClockRow(SQLModel, table=True):
    """The service's event-time "now": the latest watermark seen."""

    __tablename__ = "alerts_clock"

    key: str = Field(primary_key=True, max_length=16)
    now: datetime | None = Field(default=None, sa_type=UtcDateTime)
    snapshots: int = 0
    milestones: int = 0
    last_sequence: int = -1


class CycleValueRow(SQLModel, table=True):
    """Closed cycle values of the watched series (latest revision)."""

    __tablename__ = "alerts_cycle_value"

    kpi: str = Field(primary_key=True, max_length=64)
    cycle_kind: str = Field(primary_key=True, max_length=16)
    breakdown: str = Field(primary_key=True, max_length=80)
    cycle: str = Field(primary_key=True, max_length=32)
    revision: int
    value: float | None = None
    target: float | None = None
    standard: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    closed_on: date
    goal: float | None = None  # the goal it was judged against
    goal_label: str | None = Field(default=None, max_length=40)  # None: stored before goals
    direction: str | None = Field(default=None, max_length=8)
    unit: str | None = Field(default=None, max_length=16)
    seen_at: datetime = Field(sa_type=UtcDateTime)


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts_alert"

    id: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=300, unique=True)
    rule: str = Field(max_length=8, index=True)
    kind: str = Field(max_length=16)
    kpi: str = Field(max_length=64, index=True)
    cycle_kind: str = Field(max_length=16)
    breakdown: str = Field(max_length=80)
    cycle: str | None = Field(default=None, max_length=32)
    title: str = Field(sa_type=Text)
    status: str = Field(max_length=16, index=True)
    episode: int
    historical: bool
    opened_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolution: str | None = Field(default=None, sa_type=Text)
    policy_name: str | None = Field(default=None, max_length=64)
    policy_version: int | None = None
    policy_json: str | None = Field(default=None, sa_type=Text)
    level: int = 0
    level_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    level_muted: bool = False
    acked_by: str | None = Field(default=None, max_length=200)
    acked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ack_note: str | None = Field(default=None, sa_type=Text)
    follow_up_due: date | None = None
    plan_due: date | None = None
    plan_asked_on: date | None = None
    plan_level: int | None = None
    plan_document: str | None = Field(default=None, max_length=200)
    plan_recorded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    plan_overdue_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    parent_id: str | None = Field(default=None, max_length=32)
    facts: str = Field(default="{}", sa_type=Text)
    notified: str = Field(default="[]", sa_type=Text)
    next_check_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)


class AuditRow(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "alerts_audit"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str | None = Field(default=None, max_length=32, index=True)
    episode: int | None = None
    at: datetime = Field(sa_type=UtcDateTime)  # event time
    recorded_at: datetime = Field(sa_type=UtcDateTime)  # wall clock
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=200)
    message: str = Field(sa_type=Text)
    channel: str | None = Field(default=None, max_length=16)
    recipient: str | None = Field(default=None, max_length=300)
    outcome: str | None = Field(default=None, max_length=32)
    level: int | None = None
    detail: str = Field(default="{}", sa_type=Text)


class OutboxRow(SQLModel, table=True):
    """Notifications decided but maybe not yet delivered (the transactional outbox)."""

    __tablename__ = "alerts_outbox"
    __table_args__ = (
        UniqueConstraint(
            "alert_id",
            "episode",
            "level",
            "notice",
            "channel",
            "recipient",
            name="uq_alerts_outbox_once",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(max_length=32, index=True)
    episode: int
    level: int
    notice: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=300)
    subject: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    payload: str = Field(sa_type=Text)
    status: str = Field(max_length=16, index=True)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    decided_at: datetime = Field(sa_type=UtcDateTime)  # event time
    created_at: datetime = Field(sa_type=UtcDateTime)  # wall clock
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The relay that claimed the row, until when (a lease: see adapters/outbox.claim).
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)  # wall clock
    # Held until this event time: the recipient's quiet hours or daily digest.
    hold_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    hold_reason: str | None = Field(default=None, max_length=16)


class SilenceRow(SQLModel, table=True):
    __tablename__ = "alerts_silence"

    id: int | None = Field(default=None, primary_key=True)
    kpi: str | None = Field(default=None, max_length=64)
    breakdown: str | None = Field(default=None, max_length=80)
    until: datetime = Field(sa_type=UtcDateTime)
    reason: str = Field(sa_type=Text)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)  # event time
    recorded_at: datetime = Field(sa_type=UtcDateTime)  # wall clock


class RecoveryPlanRow(SQLModel, table=True):
    __tablename__ = "alerts_recovery_plan"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(max_length=32, index=True)
    episode: int
    recorded_by: str = Field(max_length=200)
    summary: str = Field(sa_type=Text)
    actions: str = Field(sa_type=Text)  # JSON list of {action, owner, due}
    recorded_at: datetime = Field(sa_type=UtcDateTime)  # event time
    created_at: datetime = Field(sa_type=UtcDateTime)  # wall clock
