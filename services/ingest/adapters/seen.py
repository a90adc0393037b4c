"""The ingest_seen table: which (source, event id) pairs ingest has accepted, and a
digest of each event's content (the idempotency check behind a ``conflict``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

CHUNK = 500
SEEN = Table(
    "ingest_seen",
    MetaData(),
    Column("source", String(64), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
)

Key = tuple[str, str]


class SeenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def known(self, keys: Sequence[Key]) -> dict[Key, str]:
        """The stored digest of each of these keys seen before."""
        unique = list(dict.fromkeys(keys))
        found: dict[Key, str] = {}
        with self.engine.connect() as conn:
            for n in range(0, len(unique), CHUNK):
                chunk = unique[n : n + CHUNK]
                rows = conn.execute(
                    select(SEEN.c.source, SEEN.c.event_id, SEEN.c.sha256).where(
                        tuple_(SEEN.c.source, SEEN.c.event_id).in_(chunk)
                    )
                )
                found.update({(s, i): h for s, i, h in rows})
        return found

    def remember(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record (source, id, digest) rows; a key already stored keeps its digest."""
        if not rows:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for n in range(0, len(rows), CHUNK):
                values = [
                    {"source": s, "event_id": i, "sha256": h, "first_seen": now}
                    for s, i, h in rows[n : n + CHUNK]
                ]
                conn.execute(dialect.insert(SEEN).values(values).on_conflict_do_nothing())
