"""The notification outbox as the relay sees it: what is due, what is pending, and the
outcome of each delivery attempt (with its audit entry).

Several alerts processes may share one database.  A relay **claims** the rows it is
about to deliver with a lease (``claimed_by`` / ``claimed_until``, wall clock): on
PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED`` under a transaction-level advisory
lock (claims are short, and serialising them keeps each recipient's mail in order across
processes); on SQLite the database's single writer does the same.  A relay renews the
lease of a row just before sending it, and clears it when it records the outcome.  A row
whose lease has run out (its relay was killed) is claimed by another relay.

Order: rows are claimed in id order, and a row is not claimed while an earlier pending
row to the same recipient is waiting for a retry or is claimed by another relay, so each
recipient receives their mail in the order it was decided.  A row held for quiet hours
or a digest (``hold_until``, event time) is not due and does not hold up later ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, col, select

from services.alerts.adapters.orm import AlertRow, ClockRow, OutboxRow
from services.alerts.adapters.repository import (
    OUTBOX,
    WRITE_LOCK,
    insert_audit,
    utcnow,
)
from services.alerts.domain.model import AuditEntry

CLAIM_LOCK = 0x5E4D_A1E7  # pg_advisory_xact_lock key of the outbox claims


def _event_now(session: Session, wall: datetime) -> datetime:
    """The service's event-time now: the furthest of its clocks (the case alerts' and
    the programme's, each advanced by the events and ticks of its own topic)."""
    latest = session.execute(sa_select(func.max(col(ClockRow.now)))).scalar()
    return _aware(latest) if latest is not None else wall


def claim(
    db: DbEngine,
    owner: str,
    channels: Sequence[str],
    *,
    lease_s: float = 60.0,
    limit: int = 100,
) -> list[OutboxRow]:
    """Claim up to ``limit`` due rows for ``owner`` until now + ``lease_s``, in id order.

    Due: pending, on one of ``channels``, its next attempt time passed, not held past
    the service's event-time now, and not claimed by another relay whose lease is still
    running; nor behind an earlier pending row to the same recipient that is waiting
    for a retry or claimed by another relay."""
    chans = list(channels)
    if not chans:
        return []
    with WRITE_LOCK, Session(db, expire_on_commit=False) as session:
        postgres = db.dialect.name == "postgresql"
        if postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK})
        wall = utcnow()
        event_now = _event_now(session, wall)
        window = session.execute(
            sa_select(
                OUTBOX.c.id,
                OUTBOX.c.channel,
                OUTBOX.c.recipient,
                OUTBOX.c.next_attempt_at,
                OUTBOX.c.claimed_by,
                OUTBOX.c.claimed_until,
                OUTBOX.c.hold_until,
                OUTBOX.c.hold_reason,
            )
            .where(OUTBOX.c.status == "pending", OUTBOX.c.channel.in_(chans))
            .order_by(OUTBOX.c.id)
            .limit(limit * 50)
        ).all()
        blocked: set[tuple[str, str]] = set()
        wanted: list[int] = []
        messages: set[object] = set()  # a day's digest rows for one recipient: one mail
        for r in window:
            key = (r.channel, r.recipient)
            if r.hold_until is not None and _aware(r.hold_until) > event_now:
                continue  # held for quiet hours or a digest: later rows may go
            busy = (
                r.claimed_by is not None
                and r.claimed_by != owner
                and r.claimed_until is not None
                and _aware(r.claimed_until) > wall
            )
            if busy or _aware(r.next_attempt_at) > wall:
                blocked.add(key)
                continue
            if key in blocked:
                continue
            message = (r.recipient, r.hold_until) if r.hold_reason == "digest" else r.id
            if message not in messages and len(messages) >= limit:
                blocked.add(key)  # the next claim takes it, and what follows it
                continue
            messages.add(message)
            wanted.append(int(r.id))
        if not wanted:
            session.commit()
            return []
        stmt = (
            select(OutboxRow)
            .where(
                col(OutboxRow.id).in_(wanted),
                OutboxRow.status == "pending",
                or_(
                    col(OutboxRow.claimed_until).is_(None),
                    col(OutboxRow.claimed_until) <= wall,
                    col(OutboxRow.claimed_by) == owner,
                ),
            )
            .order_by(col(OutboxRow.id))
        )
        if postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.exec(stmt))
        until = wall + timedelta(seconds=lease_s)
        if rows:
            session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_([r.id for r in rows]))
                .values(claimed_by=owner, claimed_until=until)
            )
        session.commit()
        for row in rows:
            row.claimed_by, row.claimed_until = owner, until
            session.expunge(row)
        return rows


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def renew(db: DbEngine, owner: str, ids: Sequence[int], lease_s: float = 60.0) -> set[int]:
    """Extend ``owner``'s lease on the rows ``ids`` just before sending them; the ids
    still pending and still ``owner``'s (a relay whose lease ran out and was taken over
    must not send)."""
    with WRITE_LOCK, Session(db) as session:
        wall = utcnow()
        mine = and_(
            OUTBOX.c.id.in_(list(ids)),
            OUTBOX.c.status == "pending",
            OUTBOX.c.claimed_by == owner,
        )
        session.execute(
            update(OUTBOX).where(mine).values(claimed_until=wall + timedelta(seconds=lease_s))
        )
        kept = {int(i) for (i,) in session.execute(sa_select(OUTBOX.c.id).where(mine))}
        session.commit()
        return kept


def release(db: DbEngine, owner: str, ids: Sequence[int]) -> None:
    """Give back rows claimed but not attempted (e.g. the mail server is unreachable)."""
    if not ids:
        return
    with WRITE_LOCK, Session(db) as session:
        session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )
        session.commit()


def is_open_alert(db: DbEngine, alert_id: str) -> bool:
    """Whether the outbox row is about an open alert (one a mail link can acknowledge)."""
    with Session(db) as session:
        a = session.get(AlertRow, alert_id)
        return a is not None and a.status in ("open", "acknowledged")


def due_notifications(db: DbEngine, channels: Sequence[str], limit: int = 100) -> list[OutboxRow]:
    """The rows due now, without claiming them (for inspection)."""
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
    owner: str | None = None,
) -> None:
    """Record a delivery attempt: ``sent`` (the server accepted it), ``retry`` (a
    transient failure; next attempt at ``retry_at``) or ``failed`` (permanent), and
    clear the claim.  A retry or failure is recorded only by the relay that still holds
    the row (``owner``); a send is recorded whoever holds it, since the mail has gone."""
    with WRITE_LOCK, Session(db) as session:
        _record(session, row, outcome, error, retry_at, owner)
        session.commit()


@contextmanager
def sending(db: DbEngine, rows: Sequence[OutboxRow]) -> Iterator[None]:
    """Record ``rows`` as sent in a transaction opened (and the database's write lock
    taken) *before* the mail server is handed the message, committed the moment it has
    accepted it; an error in the block rolls it back.  So the only moment a crash can
    send a mail twice is the commit itself, not the wait for a busy database after the
    server said yes (a consumer applying a long batch holds the writer for seconds)."""
    with WRITE_LOCK, Session(db) as session:
        for row in rows:
            _record(session, row, "sent", None, None, None)
        session.flush()
        yield
        session.commit()


def _record(
    session: Session,
    row: OutboxRow,
    outcome: str,
    error: str | None,
    retry_at: datetime | None,
    owner: str | None,
) -> None:
    stamp = utcnow()
    at = _event_now(session, stamp)
    values: dict[str, Any] = {
        "attempts": OUTBOX.c.attempts + 1,
        "claimed_by": None,
        "claimed_until": None,
    }
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
    where = [OUTBOX.c.id == row.id, OUTBOX.c.status == "pending"]
    if owner is not None and outcome != "sent":
        where.append(OUTBOX.c.claimed_by == owner)
    result = session.execute(update(OUTBOX).where(*where).values(**values))
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
