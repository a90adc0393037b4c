"""Idempotent consumption: the inbox of event ids a service has applied.

A service writes the ids of the events it applies in the same database transaction as
the state they change.  A redelivered batch (after a crash before the Kafka commit) or a
source's retry of the same event therefore changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import insert, select
from sqlmodel import Session


class HasId(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=HasId)

_CHUNK = 900  # stays under SQLite's bound-parameter limit


def claim_new(session: Session, inbox: Any, events: Sequence[E]) -> list[E]:
    """Return the events not applied before (first occurrence wins) and record their ids.

    ``inbox`` is the service's SQLModel inbox table class (columns ``event_id``,
    ``processed_at``).  Runs inside the caller's transaction.
    """
    unique: dict[str, E] = {}
    for ev in events:
        unique.setdefault(ev.id, ev)
    ids = list(unique)
    seen: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        rows = session.execute(select(inbox.event_id).where(inbox.event_id.in_(chunk)))
        seen.update(rows.scalars())
    fresh = [ev for eid, ev in unique.items() if eid not in seen]
    if fresh:
        now = datetime.now(UTC)
        session.execute(insert(inbox), [{"event_id": ev.id, "processed_at": now} for ev in fresh])
    return fresh
