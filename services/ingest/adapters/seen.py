"""The ingest_seen table: which (source, event id) pairs ingest has accepted, and a
digest of each event's content (the idempotency check behind a ``conflict``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, bindparam, select
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
        # By source, then ids IN (...): one cached statement (a row-value IN of pairs is
        # compiled again for every chunk).  A batch has one source, almost always.
        by_source: dict[str, list[str]] = {}
        for source, event_id in dict.fromkeys(keys):
            by_source.setdefault(source, []).append(event_id)
        found: dict[Key, str] = {}
        statement = select(SEEN.c.event_id, SEEN.c.sha256).where(
            SEEN.c.source == bindparam("source"),
            SEEN.c.event_id.in_(bindparam("ids", expanding=True)),
        )
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                for n in range(0, len(ids), CHUNK):
                    rows = conn.execute(statement, {"source": source, "ids": ids[n : n + CHUNK]})
                    found.update({(source, i): h for i, h in rows})
        return found

    def remember(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record (source, id, digest) rows; a key already stored keeps its digest."""
        if not rows:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        now = datetime.now(UTC)
        # One statement with bound parameters, executed for many rows: compiled once and
        # cached (a multi-row VALUES literal is compiled again for every batch, which
        # cost more than the rest of ingest's work on a large import).
        statement = dialect.insert(SEEN).on_conflict_do_nothing()
        with self.engine.begin() as conn:
            conn.execute(
                statement,
                [{"source": s, "event_id": i, "sha256": h, "first_seen": now} for s, i, h in rows],
            )
