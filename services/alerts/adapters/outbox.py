"""The notification outbox as the relay sees it: what is due, what is pending, and the
outcome of each delivery attempt (with its audit entry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, col, select

from services.alerts.adapters.orm import ClockRow, OutboxRow
from services.alerts.adapters.repository import (
    CLOCK_KEY,
    OUTBOX,
    WRITE_LOCK,
    insert_audit,
    utcnow,
)
from services.alerts.domain.model import AuditEntry


def due_notifications(db: DbEngine, channels: Sequence[str], limit: int = 100) -> list[OutboxRow]:
    with Session(db) as session:
        stmt = (
            select(OutboxRow)
            .where(
                OutboxRow.status == "pending",
                col(OutboxRow.channel).in_(list(channels)),
                OutboxRow.next_attempt_at <= utcnow(),
            )
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return list(session.exec(stmt))


def pending_counts(db: DbEngine) -> dict[str, int]:
    with Session(db) as session:
        stmt = (
            select(OutboxRow.channel, func.count())
            .where(OutboxRow.status == "pending")
            .group_by(col(OutboxRow.channel))
        )
        return {str(channel): int(n) for channel, n in session.exec(stmt)}


def mark_delivered(
    db: DbEngine,
    row: OutboxRow,
    outcome: str,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Record a delivery attempt: ``sent`` (the server accepted it), ``retry`` (a
    transient failure; next attempt at ``retry_at``) or ``failed`` (permanent)."""
    with WRITE_LOCK, Session(db) as session:
        stamp = utcnow()
        clock = session.get(ClockRow, CLOCK_KEY)
        at = (clock.now if clock else None) or stamp
        values: dict[str, Any] = {"attempts": OUTBOX.c.attempts + 1}
        if outcome == "sent":
            values.update(status="sent", sent_at=stamp, last_error=None)
            message = f"Delivered to {row.recipient} by {row.channel}."
        elif outcome == "failed":
            values.update(status="failed", last_error=error)
            message = f"Delivery to {row.recipient} failed permanently: {error}"
        else:
            assert retry_at is not None
            values.update(last_error=error, next_attempt_at=retry_at)
            message = (
                f"Delivery to {row.recipient} failed ({error}); retrying at "
                f"{retry_at.isoformat(timespec='seconds')} (wall clock)."
            )
        result = session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.status == "pending")
            .values(**values)
        )
        if getattr(result, "rowcount", 1):
            entry = AuditEntry(
                alert_id=row.alert_id,
                episode=row.episode,
                at=at,
                kind=f"notification_{'sent' if outcome == 'sent' else outcome}",
                message=message,
                channel=row.channel,
                recipient=row.recipient,
                outcome="delivered" if outcome == "sent" else outcome,
                level=row.level,
                detail={"outbox_id": row.id, "notice": row.notice},
            )
            insert_audit(session, [entry], stamp)
        session.commit()
